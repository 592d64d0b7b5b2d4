//! The change feed's values: a position in the feed, a change as read, a page of changes, and
//! the lease of a named consumer.
//!
//! The feed is the event table read in commit order (see the migration
//! `20261203000002_change_feed.sql` for why PostgreSQL orders by transaction id, then `seq`).
//! The store knows nothing of what a change means: beside the grant id, version and time it hands
//! out the engine's own [`FeedRecord::summary`] text, never the (sealed) event.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::GrantId;

/// A position in the change feed: what a consumer stores to resume after.
///
/// Opaque to consumers: totally ordered (later changes have greater positions), and written as
/// text by `Display` and read back by `FromStr` (and serde, as that string). Positions of one
/// database only compare meaningfully with each other.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct FeedPosition {
    /// The writing transaction's id (PostgreSQL's `xid8`; 0 on SQLite, whose `seq` order is
    /// commit order).
    pub(crate) xid: u64,
    /// The event row's `seq`.
    pub(crate) seq: i64,
}

impl FeedPosition {
    /// The event row's `seq` at this position (the same number [`crate::EventRecord::seq`]
    /// carries), for logs and for deduplicating by event row.
    pub fn seq(&self) -> i64 {
        self.seq
    }
}

impl fmt::Display for FeedPosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.xid, self.seq)
    }
}

impl fmt::Debug for FeedPosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FeedPosition({self})")
    }
}

/// A text that is not a [`FeedPosition`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a change-feed position (expected what a feed gave out, e.g. \"812.40\")")]
pub struct BadFeedPosition(pub String);

impl FromStr for FeedPosition {
    type Err = BadFeedPosition;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadFeedPosition(s.to_owned());
        let (xid, seq) = s.split_once('.').ok_or_else(bad)?;
        let position = Self {
            xid: xid.parse().map_err(|_| bad())?,
            seq: seq.parse().map_err(|_| bad())?,
        };
        if position.seq < 0 {
            return Err(bad());
        }
        Ok(position)
    }
}

impl From<FeedPosition> for String {
    fn from(p: FeedPosition) -> String {
        p.to_string()
    }
}

impl TryFrom<String> for FeedPosition {
    type Error = BadFeedPosition;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

/// Reads a consumer's stored position back.
pub(crate) fn parse_position(
    name: &str,
    text: Option<String>,
) -> Result<Option<FeedPosition>, crate::StoreError> {
    text.map(|t| {
        t.parse().map_err(|source| crate::StoreError::BadPosition {
            consumer: name.to_owned(),
            source,
        })
    })
    .transpose()
}

/// One committed transition as the feed shows it. Holds no secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeedRecord {
    /// Where it is in the feed (store it to resume after it).
    pub position: FeedPosition,
    /// The grant that changed.
    pub grant: GrantId,
    /// The grant's version after the change: with the grant id, a key to deduplicate by.
    pub version: i64,
    /// When the transition was computed (the event row's time).
    pub at: DateTime<Utc>,
    /// The engine's summary of the change ([`crate::StateWrite::change_summary`]); `None` for
    /// events written before the feed existed.
    pub summary: Option<String>,
}

/// The answer to [`crate::GrantStore::changes_after`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FeedPage {
    /// The changes after the position asked for, oldest first.
    pub changes: Vec<FeedRecord>,
    /// Committed changes exist after the last one returned that cannot be handed out yet: an
    /// older transaction still running may commit a change that must come before them
    /// (PostgreSQL only). Read again shortly; no notification announces the older one's end.
    pub held_back: bool,
}

/// The lease a process holds on a named feed consumer (one process at a time consumes under a
/// name), with the position the consumer reached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsumerLease {
    /// The consumer's name (e.g. `webhook`).
    pub name: String,
    /// Who holds the lease.
    pub owner: String,
    /// The fencing token of this claim: increases with every claim of the name.
    pub token: i64,
    /// When the lease lapses unless renewed.
    pub until: DateTime<Utc>,
    /// The last position the consumer recorded as handled (`None`: from the start of the feed).
    pub position: Option<FeedPosition>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_round_trip_as_text_and_order_by_transaction_then_seq() {
        let a = FeedPosition { xid: 7, seq: 40 };
        let b = FeedPosition { xid: 8, seq: 3 };
        assert!(a < b, "a later transaction comes later, whatever its seq");
        assert_eq!(a.to_string().parse::<FeedPosition>(), Ok(a));
        let json = serde_json::to_string(&b).unwrap();
        assert_eq!(json, r#""8.3""#);
        assert_eq!(serde_json::from_str::<FeedPosition>(&json).unwrap(), b);
        for bad in ["", "7", "x.1", "1.-2", "1.2.3", "-1.2"] {
            assert!(bad.parse::<FeedPosition>().is_err(), "{bad:?} accepted");
        }
    }
}
