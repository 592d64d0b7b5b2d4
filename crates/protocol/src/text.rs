//! Text someone else wrote: [`untrusted`] makes it safe to store, log and print, and
//! [`escape_html`] makes it safe inside HTML; [`display_url`] shows a URL without the secrets
//! servers put in paths and queries.
//!
//! Who writes such text: whoever opens a finish URI (its `result` and `message` parameters), an
//! authorization or resource server (a GNAP error's `description`, an unknown error `code`), and
//! a malformed body (quoted in a parse error). Each is passed through [`untrusted`] where it
//! enters (this crate's error parsing, the machine's finish-callback parsing), so everything
//! downstream (the state, the event log, `Display`, logs, the CLI) holds cleaned text only.
//!
//! What [`untrusted`] does, and why:
//! - drops control characters (C0, DEL, C1), so no escape sequence reaches a terminal and no
//!   newline forges a log line; tabs and line breaks become spaces;
//! - drops invisible formatting characters (bidirectional overrides and isolates, zero-width
//!   characters, the byte-order mark), which can make text read differently than it is;
//! - drops U+FFFD, the replacement character: it only marks bytes that were not UTF-8 and carries
//!   nothing a reader can use;
//! - collapses runs of whitespace to one space and trims the ends;
//! - caps the length at `max_chars` characters, marking a cut with `…`.
//!
//! It is idempotent (cleaning clean text changes nothing), so a value cleaned when it arrived
//! and again when it is read back from storage stays the same.

/// The most characters kept of an untrusted description, message or result: enough for any
/// honest server's sentence, too few to fill a log or a page.
pub const UNTRUSTED_TEXT_MAX_CHARS: usize = 200;

/// Cleans text from outside (see the [module docs](self)): no control or invisible formatting
/// characters, single spaces, at most `max_chars` characters.
///
/// ```
/// use grantflow_protocol::text::untrusted;
///
/// assert_eq!(untrusted("evil\u{1b}[2J\r\nline \u{202e}txt.exe\u{fffd}", 200), "evil[2J line txt.exe");
/// assert_eq!(untrusted("abcdef", 4), "abc…");
/// ```
pub fn untrusted(text: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max_chars.saturating_mul(4)));
    let mut chars = 0usize;
    let mut pending_space = false;
    let mut cut = false;
    for c in text.chars() {
        if c.is_whitespace() {
            pending_space = chars > 0;
            continue;
        }
        if c.is_control() || is_invisible_format(c) {
            continue;
        }
        let needed = usize::from(pending_space) + 1;
        if chars + needed > max_chars {
            cut = true;
            break;
        }
        if pending_space {
            out.push(' ');
            chars += 1;
            pending_space = false;
        }
        out.push(c);
        chars += 1;
    }
    if cut && max_chars > 0 {
        // Make room for the mark: drop the last character (and a space before it).
        if chars == max_chars {
            out.pop();
        }
        if out.ends_with(' ') {
            out.pop();
        }
        out.push('…');
    }
    out
}

/// Bidirectional controls, zero-width characters, the byte-order mark and U+FFFD.
fn is_invisible_format(c: char) -> bool {
    matches!(
        c,
        '\u{200b}'..='\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2060}'..='\u{2069}'
            | '\u{061c}'
            | '\u{feff}'
            | '\u{fffd}'
    )
}

/// Escapes text for HTML element content and attribute values (`& < > " '`).
///
/// ```
/// assert_eq!(
///     grantflow_protocol::text::escape_html(r#"<a href="x">'&'</a>"#),
///     "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
/// );
/// ```
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A URL as it may be shown to people (the demo's timeline, the operator console): origin and
/// path, path segments longer than 12 characters (ids,
/// nonces, tokens) cut to 8, and query values hidden (`hash`, `interact_ref` are secrets).
pub fn display_url(url: &str) -> String {
    let Ok(parsed) = url::Url::parse(url) else {
        return "<not a URL>".to_owned();
    };
    let mut out = parsed.origin().ascii_serialization();
    for segment in parsed.path().split('/').skip(1) {
        out.push('/');
        if segment.chars().count() > 12 {
            out.extend(segment.chars().take(8));
            out.push('…');
        } else {
            out.push_str(segment);
        }
    }
    let keys: Vec<String> = parsed
        .query_pairs()
        .map(|(k, _)| format!("{k}=…"))
        .collect();
    if !keys.is_empty() {
        out.push('?');
        out.push_str(&keys.join("&"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn display_url_hides_query_values_and_long_segments() {
        assert_eq!(
            display_url(
                "http://127.0.0.1:4000/auth/interact/0b7c3f4e-7a0e-4f0e-9d3c-2f1b0150db73/ABCDEF0123456789ABCD"
            ),
            "http://127.0.0.1:4000/auth/interact/0b7c3f4e…/ABCDEF01…"
        );
        assert_eq!(
            display_url("http://localhost:3344/cb/x?hash=SECRET&interact_ref=SECRET2"),
            "http://localhost:3344/cb/x?hash=…&interact_ref=…"
        );
        assert_eq!(display_url("nope"), "<not a URL>");
    }

    #[test]
    fn the_reported_callback_text_comes_out_clean() {
        // `result=something_else` with two undecodable bytes in the message, as once shown.
        assert_eq!(untrusted("\u{fffd}\u{fffd}", 200), "");
        assert_eq!(untrusted("  a \t\n b  ", 200), "a b");
        assert_eq!(untrusted("\u{7f}\u{85}\u{9b}x", 200), "x");
        assert_eq!(untrusted("a\u{200b}b\u{feff}c\u{2067}", 200), "abc");
    }

    #[test]
    fn a_cut_is_marked_and_fits() {
        assert_eq!(untrusted("abcdef", 6), "abcdef");
        assert_eq!(untrusted("abcdefg", 6), "abcde…");
        assert_eq!(untrusted("abcd efgh", 6), "abcd…");
        assert_eq!(untrusted("ab", 0), "");
        assert_eq!(untrusted("ééééé", 3), "éé…");
    }

    proptest! {
        #[test]
        fn cleaned_text_is_short_clean_and_stable(text in "\\PC*|[\\x00-\\x7f\u{80}-\u{9f}\u{200b}-\u{200f}\u{202a}-\u{202e} \u{fffd}é]{0,300}", max in 0usize..250) {
            let once = untrusted(&text, max);
            prop_assert!(once.chars().count() <= max);
            prop_assert!(!once.chars().any(|c| c.is_control() || is_invisible_format(c)));
            prop_assert!(!once.contains("  ") && once.trim() == once);
            prop_assert_eq!(untrusted(&once, max), once.clone());
        }

        #[test]
        fn escaped_html_has_no_markup(text in "\\PC*") {
            let escaped = escape_html(&text);
            prop_assert!(!escaped.contains(['<', '>', '"', '\'']));
        }
    }
}
