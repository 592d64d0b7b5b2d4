//! What operators query grants by: the non-secret [`GrantSummary`] written beside the opaque
//! state, the [`ListFilter`] over it, and keyset pages ([`ListCursor`], [`ListPage`]).

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::model::{GrantId, GrantRecord};

/// A non-secret summary of a grant's state, stored in columns beside the opaque state so that
/// grants can be listed and filtered without opening it.
///
/// The store cannot compute it (the state is opaque and its secrets sealed): the writer (the
/// driver) passes it with every [`NewGrant`](crate::NewGrant) and
/// [`StateWrite`](crate::StateWrite), and the store writes exactly what it is given, replacing
/// the previous summary. A grant written before the columns existed reads back with every field
/// empty until its next write or a [`GrantStore::write_summary`](crate::GrantStore::write_summary).
/// No field may hold a secret: the columns are neither sealed nor redacted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GrantSummary {
    /// The state's kind, as the transition table names it (`AwaitingInteraction`, `Issued`,
    /// `Lost`, ...).
    pub state_kind: Option<String>,
    /// The access types requested (`incoming-payment`, `outgoing-payment`, `quote`), without
    /// repeats; empty when unknown.
    pub access_types: Vec<String>,
    /// The user's wallet address the grant was requested for, exactly as requested.
    pub wallet_address: Option<String>,
    /// Why the grant failed or was lost, or, while a call keeps failing, its last error (text
    /// already cleaned of control characters; no secret).
    pub last_error: Option<String>,
}

/// Which grants a [`GrantStore::list_page`](crate::GrantStore::list_page) returns: every field
/// set must match (an empty filter matches every grant).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListFilter {
    /// Only grants whose [`GrantSummary::state_kind`] is this one.
    pub state_kind: Option<String>,
    /// Only grants requested for this wallet address (compared exactly).
    pub wallet_address: Option<String>,
    /// Only grants whose access types include this one.
    pub access_type: Option<String>,
    /// Only grants created at or after this instant.
    pub created_after: Option<DateTime<Utc>>,
    /// Only grants created strictly before this instant.
    pub created_before: Option<DateTime<Utc>>,
}

/// The position after which a keyset page starts: the (creation time, id) of the last grant of
/// the previous page. Its text form ([`Display`](fmt::Display) / [`FromStr`]) is opaque to
/// callers: 48 hexadecimal digits.
///
/// Pages are ordered newest first by (`created_at`, `id`), and a page after a cursor holds only
/// grants strictly older than it, so following the cursors visits every grant that existed when
/// the first page was read exactly once, whatever is inserted meanwhile (new grants are newer
/// than every cursor).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ListCursor {
    /// The creation time of the last grant of the previous page (microsecond precision, as
    /// stored).
    pub created_at: DateTime<Utc>,
    /// Its id.
    pub id: GrantId,
}

impl ListCursor {
    /// The cursor just after `grant`.
    pub fn after(grant: &GrantRecord) -> Self {
        Self {
            created_at: grant.created_at,
            id: grant.id,
        }
    }
}

impl fmt::Display for ListCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:016x}{}",
            self.created_at.timestamp_micros(),
            self.id.0.simple()
        )
    }
}

/// A list cursor that is not one this store printed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "malformed list cursor {0:?}: pass the `next` cursor printed by the previous page as it is"
)]
pub struct MalformedCursor(pub String);

impl FromStr for ListCursor {
    type Err = MalformedCursor;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || MalformedCursor(s.chars().take(64).collect());
        if s.len() != 48 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad());
        }
        let (time, id) = s.split_at(16);
        // The two's complement bits of the microseconds (`{:016x}` of an `i64`).
        let bits = u64::from_str_radix(time, 16).map_err(|_| bad())?;
        let micros = i64::from_be_bytes(bits.to_be_bytes());
        let created_at = DateTime::from_timestamp_micros(micros).ok_or_else(bad)?;
        let id = Uuid::try_parse(id).map_err(|_| bad())?;
        Ok(Self {
            created_at,
            id: GrantId(id),
        })
    }
}

/// One keyset page of grants, newest first.
#[derive(Clone, Debug)]
pub struct ListPage {
    /// The grants of this page.
    pub grants: Vec<GrantRecord>,
    /// Where the next page starts; `None` when this page holds the last matching grant.
    pub next: Option<ListCursor>,
}

/// The most grants one page returns; larger limits are lowered to it.
pub const MAX_PAGE: u32 = 1000;

/// The number of rows to fetch for a page of `limit` (one more tells whether a next page
/// exists).
pub(crate) fn fetch_limit(limit: u32) -> i64 {
    i64::from(limit.clamp(1, MAX_PAGE)) + 1
}

/// A page from the rows fetched with [`fetch_limit`].
pub(crate) fn page(mut grants: Vec<GrantRecord>, limit: u32) -> ListPage {
    let limit = limit.clamp(1, MAX_PAGE) as usize;
    let next = if grants.len() > limit {
        grants.truncate(limit);
        grants.last().map(ListCursor::after)
    } else {
        None
    };
    ListPage { grants, next }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_through_its_text() {
        let cursor = ListCursor {
            created_at: DateTime::from_timestamp_micros(1_764_720_000_123_456).unwrap(),
            id: GrantId::new_random(),
        };
        let text = cursor.to_string();
        assert_eq!(text.len(), 48);
        assert_eq!(text.parse::<ListCursor>(), Ok(cursor));
    }

    #[test]
    fn cursors_before_1970_round_trip() {
        let cursor = ListCursor {
            created_at: DateTime::from_timestamp_micros(-1).unwrap(),
            id: GrantId(Uuid::nil()),
        };
        assert_eq!(cursor.to_string().parse::<ListCursor>(), Ok(cursor));
    }

    #[test]
    fn malformed_cursors_are_refused_with_a_hint() {
        for bad in [
            "",
            "not a cursor",
            &"g".repeat(48),
            &"f".repeat(47),
            &"0".repeat(49),
        ] {
            let err = bad.parse::<ListCursor>().unwrap_err();
            assert!(err.to_string().contains("next"), "{err}");
        }
        // Out of chrono's range.
        assert!(
            format!("7fffffffffffffff{}", Uuid::nil().simple())
                .parse::<ListCursor>()
                .is_err()
        );
    }
}
