//! What a rejected input is told: the [`Part`] of `R[n]/<a>/<b>`, the byte offset, the [`Problem`].

/// Which component of `R[n]/<a>/<b>` an error was found in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Part {
    /// The overall shape (slashes, characters allowed anywhere).
    Interval,
    /// The `R[n]` part.
    Repetitions,
    /// The start date-time.
    Start,
    /// The end date-time.
    End,
    /// The duration.
    Duration,
}

impl std::fmt::Display for Part {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Part::Interval => "interval",
            Part::Repetitions => "repetitions",
            Part::Start => "start date-time",
            Part::End => "end date-time",
            Part::Duration => "duration",
        })
    }
}

/// What is wrong with an input, without the where (see [`ParseError`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// The input is empty.
    #[error(
        "empty input; expected R[n]/<start>/<duration>, R[n]/<duration>/<end> or R[n]/<start>/<end>"
    )]
    Empty,
    /// A byte outside ASCII.
    #[error("non-ASCII character; only ASCII is accepted")]
    NotAscii,
    /// Whitespace anywhere.
    #[error("whitespace is not allowed anywhere")]
    Whitespace,
    /// A lowercase designator such as `r`, `p`, `t`, `z`, `d`.
    #[error("lowercase designator '{0}'; designators must be uppercase")]
    Lowercase(char),
    /// The input does not start with `R`.
    #[error("a repeating interval starts with 'R' (a plain interval is not accepted)")]
    MissingR,
    /// Not exactly three `/`-separated parts.
    #[error("expected exactly 3 '/'-separated parts (R[n]/<a>/<b>), found {found}")]
    PartCount {
        /// How many parts there were.
        found: usize,
    },
    /// Both `<a>` and `<b>` are durations.
    #[error("two durations; one side must be a date-time")]
    TwoDurations,
    /// `R+n`, `R-n` (other than `R-1`).
    #[error("a repetition count has no sign (only R-1 means unbounded)")]
    SignedRepetitions,
    /// Something other than ASCII digits after `R`.
    #[error("a repetition count is ASCII digits only (no fraction, exponent or other character)")]
    RepetitionsNotDigits,
    /// A count above `u64::MAX`.
    #[error("repetition count larger than {max}", max = u64::MAX)]
    RepetitionsTooLarge,
    /// A different character was expected.
    #[error("found '{found}', expected {expected}")]
    Unexpected {
        /// The character found.
        found: char,
        /// What would have been accepted.
        expected: &'static str,
    },
    /// The component ended too early.
    #[error("ends too early, expected {expected}")]
    UnexpectedEnd {
        /// What would have been accepted.
        expected: &'static str,
    },
    /// Year 0000 or a date that falls outside years 0001-9999.
    #[error("year outside 0001-9999")]
    YearOutOfRange,
    /// Month not in 1..=12.
    #[error("month {0} does not exist")]
    MonthOutOfRange(u32),
    /// A calendar date that does not exist, e.g. `2023-02-30`.
    #[error("no such date: day {day} of {year:04}-{month:02}")]
    NoSuchDate {
        /// Year.
        year: i32,
        /// Month.
        month: u32,
        /// Day.
        day: u32,
    },
    /// An ordinal day that does not exist in its year.
    #[error("no such ordinal date: day {day} of {year:04}")]
    NoSuchOrdinalDate {
        /// Year.
        year: i32,
        /// Day of year.
        day: u32,
    },
    /// A week date that does not exist, e.g. `2016-W53-1`.
    #[error("no such week date: week {week} day {day} of {year:04}")]
    NoSuchWeekDate {
        /// Week-numbering year.
        year: i32,
        /// Week.
        week: u32,
        /// Day of week.
        day: u32,
    },
    /// Hour 24 other than exactly `24:00[:00[.0...]]`, or an hour above 24.
    #[error("hour {0} does not exist (only 00-23, and 24:00:00 for the end of a day)")]
    HourOutOfRange(u32),
    /// A minute above 59.
    #[error("minute {0} does not exist")]
    MinuteOutOfRange(u32),
    /// Second 60.
    #[error("leap second :60 is not accepted")]
    LeapSecond,
    /// A second above 60.
    #[error("second {0} does not exist")]
    SecondOutOfRange(u32),
    /// A fraction with no digits or more than 9 digits.
    #[error("a decimal fraction needs 1 to 9 digits (nanosecond precision)")]
    FractionDigits,
    /// A date without a time.
    #[error("a date-time needs 'T' and a time after the date")]
    MissingTime,
    /// No zone designator.
    #[error("no zone designator (Z, ±hh:mm, ±hhmm or ±hh); local time is ambiguous")]
    MissingZone,
    /// `-00:00`.
    #[error("offset -00:00 is not accepted (unknown local offset); write Z or +00:00")]
    NegativeZeroOffset,
    /// Offset hours above 23 or minutes above 59.
    #[error("offset out of range (hours under 24, minutes under 60)")]
    OffsetOutOfRange,
    /// Basic and extended notation mixed within one date-time.
    #[error("mixes basic and extended notation; the date is {date} so this must be too")]
    MixedNotation {
        /// The notation the date used (`basic` or `extended`).
        date: &'static str,
    },
    /// A duration with a sign.
    #[error("a duration has no sign")]
    SignedDuration,
    /// `P` or `PT` alone.
    #[error("a duration needs at least one component (e.g. P1D, PT1H)")]
    EmptyDuration,
    /// `T` with no time component after it.
    #[error("'T' must be followed by at least one of H, M, S")]
    EmptyTimePart,
    /// A designator repeated.
    #[error("designator '{0}' appears twice")]
    DuplicateDesignator(char),
    /// Designators out of order (`P1D1Y`).
    #[error("designator '{0}' is out of order (order: Y M W D T H M S)")]
    DesignatorOrder(char),
    /// `W` together with other components.
    #[error("weeks (W) cannot be combined with other components")]
    WeeksCombined,
    /// A fraction on a component that is not the last one.
    #[error("only the last component may have a fraction")]
    FractionNotLast,
    /// A fraction on years or months.
    #[error("years and months cannot have a fraction (a fraction of a month has no exact meaning)")]
    FractionOnCalendarUnit,
    /// A component above `u64::MAX`.
    #[error("component larger than {max}", max = u64::MAX)]
    ComponentTooLarge,
    /// Alternative-form carry-over limit exceeded.
    #[error("{unit} {value} exceeds the alternative form's limit {max}")]
    CarryOver {
        /// The unit (`months`, `days`, ...).
        unit: &'static str,
        /// The written value.
        value: u32,
        /// The largest accepted value.
        max: u32,
    },
    /// A zero duration.
    #[error("a zero duration repeats forever without moving")]
    ZeroDuration,
    /// End not after start.
    #[error("the end must be strictly after the start")]
    EndNotAfterStart,
    /// The first interval leaves years 0001-9999.
    #[error("the first interval must lie within years 0001-9999")]
    OutsideSupportedYears,
}

/// A rejected input: what is wrong ([`Problem`]), in which [`Part`], at which byte offset.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid repeating interval: {part} at byte {offset}: {problem}")]
pub struct ParseError {
    /// The component the problem was found in.
    pub part: Part,
    /// Byte offset into the whole input.
    pub offset: usize,
    /// What is wrong.
    pub problem: Problem,
}
