//! A byte cursor over one component, reporting offsets into the whole input, and the two
//! notations (basic, extended) a component is written in.

use super::error::{ParseError, Part, Problem};

/// A byte cursor over one component, reporting offsets into the whole input.
pub(super) struct Cursor<'a> {
    pub(super) bytes: &'a [u8],
    pub(super) pos: usize,
    pub(super) base: usize,
    pub(super) part: Part,
}

impl<'a> Cursor<'a> {
    pub(super) fn new(bytes: &'a [u8], base: usize, part: Part) -> Self {
        Self {
            bytes,
            pos: 0,
            base,
            part,
        }
    }

    pub(super) fn error_at(&self, pos: usize, problem: Problem) -> ParseError {
        ParseError {
            part: self.part,
            offset: self.base + pos,
            problem,
        }
    }

    pub(super) fn error(&self, problem: Problem) -> ParseError {
        self.error_at(self.pos, problem)
    }

    pub(super) fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    pub(super) fn peek_at(&self, ahead: usize) -> Option<u8> {
        self.bytes.get(self.pos + ahead).copied()
    }

    pub(super) fn at_end(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    /// The error for the current byte when `expected` was wanted.
    pub(super) fn unexpected(&self, expected: &'static str) -> ParseError {
        match self.peek() {
            None => self.error(Problem::UnexpectedEnd { expected }),
            Some(b) if b.is_ascii_lowercase() && b"rptwzymdhs".contains(&b) => {
                self.error(Problem::Lowercase(char::from(b)))
            }
            Some(b) => self.error(Problem::Unexpected {
                found: char::from(b),
                expected,
            }),
        }
    }

    pub(super) fn expect(&mut self, byte: u8, expected: &'static str) -> Result<(), ParseError> {
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.unexpected(expected))
        }
    }

    /// Exactly `n` ASCII digits.
    pub(super) fn fixed(&mut self, n: usize, expected: &'static str) -> Result<u32, ParseError> {
        let mut v = 0u32;
        for _ in 0..n {
            match self.peek() {
                Some(b) if b.is_ascii_digit() => {
                    v = v * 10 + u32::from(b - b'0');
                    self.pos += 1;
                }
                _ => return Err(self.unexpected(expected)),
            }
        }
        Ok(v)
    }

    /// How many ASCII digits follow.
    pub(super) fn digit_run(&self) -> usize {
        self.bytes[self.pos.min(self.bytes.len())..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count()
    }

    /// An optional decimal fraction (`.` or `,` then 1-9 digits) as nanoths.
    pub(super) fn fraction(&mut self) -> Result<Option<(u32, u8)>, ParseError> {
        if !matches!(self.peek(), Some(b'.' | b',')) {
            return Ok(None);
        }
        let sign_at = self.pos;
        self.pos += 1;
        let run = self.digit_run();
        if run == 0 || run > 9 {
            return Err(self.error_at(sign_at, Problem::FractionDigits));
        }
        let mut nanos = 0u32;
        for i in 0..9 {
            let digit = if i < run {
                u32::from(self.bytes[self.pos + i] - b'0')
            } else {
                0
            };
            nanos = nanos * 10 + digit;
        }
        self.pos += run;
        Ok(Some((nanos, run as u8)))
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Notation {
    Basic,
    Extended,
}

impl Notation {
    pub(super) fn name(self) -> &'static str {
        match self {
            Notation::Basic => "basic",
            Notation::Extended => "extended",
        }
    }
}
