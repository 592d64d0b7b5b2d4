//! Instants, ids and URLs as the pages show them.

use chrono::{DateTime, Utc};
use maud::{Markup, html};

pub(crate) use grantflow_protocol::text::display_url;

/// The list's URL: the path the console is nested at (axum 0.8 serves a nested `/` there, not
/// with a trailing slash), or `/` at the root.
pub(crate) fn home(base: &str) -> &str {
    if base.is_empty() { "/" } else { base }
}

/// One time format on every page: RFC 3339 in UTC to the second, in a `<time>` element whose
/// `datetime` the script and assistive technology can read.
pub(crate) fn instant(at: DateTime<Utc>) -> Markup {
    let text = rfc3339(at);
    html! { time datetime=(text) { (text) } }
}

/// `2026-12-03T21:50:25Z`.
pub(crate) fn rfc3339(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The first 8 characters of a grant id, as the demo prints it.
pub(crate) fn short_id(id: &impl std::fmt::Display) -> String {
    id.to_string().chars().take(8).collect()
}

/// A filter's instant: RFC 3339, or the `datetime-local` form of an `<input>`
/// (`2026-12-03T21:50`, seconds optional), read as UTC.
pub(crate) fn parse_instant(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]
        .iter()
        .find_map(|f| chrono::NaiveDateTime::parse_from_str(text, f).ok())
        .map(|t| t.and_utc())
}

/// The `datetime-local` value of an instant (what [`parse_instant`] reads back).
pub(crate) fn datetime_local(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S").to_string()
}

/// `application/x-www-form-urlencoded` of one value (what a browser's form sends).
pub(crate) fn form_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                out.push(char::from(b))
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_parse_in_both_forms_as_utc() {
        let t: DateTime<Utc> = "2026-12-03T21:50:00Z".parse().unwrap();
        assert_eq!(parse_instant("2026-12-03T21:50"), Some(t));
        assert_eq!(parse_instant("2026-12-03T22:50:00+01:00"), Some(t));
        assert_eq!(parse_instant(&datetime_local(t)), Some(t));
        assert_eq!(parse_instant("yesterday"), None);
        assert_eq!(rfc3339(t), "2026-12-03T21:50:00Z");
    }
}
