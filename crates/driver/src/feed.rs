//! The change feed as the application reads it: what the engine writes beside every event (the
//! summary), what a reader gets back ([`FeedEntry`]), and [`Subscription`], a cursor that waits.
//!
//! The store's feed (`GrantStore::changes_after`) is the source of truth: every committed
//! transition of every process on the database, in commit order per grant, after a
//! [`FeedPosition`] the consumer keeps. The engine adds meaning through the summary it writes
//! with each event: a small JSON object tagged by the kind of workflow (`{"grant": {...}}`), so
//! other workflows (payments) can join with their own tag, and a reader of an older version
//! sees their changes as [`FeedChange::Other`] instead of failing. The summary names kinds
//! only: never a token, nonce, URL or key (the event itself, sealed, is never handed out).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use grantflow_machine::{Change, EventKind, GrantState, StateKind};
use grantflow_store::{FeedPosition, FeedRecord, GrantId, GrantStore, WakeSignal};
use serde::{Deserialize, Serialize};

use crate::error::EngineError;
use crate::metrics;
use crate::time::{self, Clock, until};
use crate::view::GrantChange;

/// How many changes a [`Subscription`] reads per round trip.
const PAGE: u32 = 256;

/// How long a reader waits before reading again when changes are held back by an older
/// transaction still running (PostgreSQL): no notification announces that one's end.
const HELD_BACK_RETRY: Duration = Duration::from_millis(20);

/// The summary written beside each event, tagged by workflow.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Summary {
    Grant(GrantSummary),
    Payment(crate::payment_view::PaymentSummary),
    Schedule(crate::schedule_view::ScheduleSummary),
}

#[derive(Serialize, Deserialize)]
struct GrantSummary {
    from: StateKind,
    event: EventKind,
    kind: StateKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    change: Option<Change>,
}

/// The summary text of one grant transition (see the module docs).
pub(crate) fn summary(
    from: StateKind,
    to: &GrantState,
    event: EventKind,
    change: Option<Change>,
) -> String {
    let summary = Summary::Grant(GrantSummary {
        from,
        event,
        kind: to.kind(),
        change,
    });
    // Kinds serialise as plain strings: this cannot fail.
    serde_json::to_string(&summary).unwrap_or_default()
}

/// The summary text of one payment transition (see the module docs).
pub(crate) fn payment_summary(summary: crate::payment_view::PaymentSummary) -> String {
    // Ids and kinds serialise as plain strings: this cannot fail.
    serde_json::to_string(&Summary::Payment(summary)).unwrap_or_default()
}

/// The summary text of one schedule transition (see the module docs).
pub(crate) fn schedule_summary(summary: crate::schedule_view::ScheduleSummary) -> String {
    // Kinds and records serialise as plain strings and numbers: this cannot fail.
    serde_json::to_string(&Summary::Schedule(summary)).unwrap_or_default()
}

/// One change read from the feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedEntry {
    /// Where it is in the feed: store it, and resume with
    /// [`Engine::subscribe_after`](crate::Engine::subscribe_after) or
    /// [`Engine::changes_after`](crate::Engine::changes_after). Delivery is at least once:
    /// deduplicate by position (or by grant and version).
    pub position: FeedPosition,
    /// When the transition was computed (by the engine's clock that made it).
    pub at: DateTime<Utc>,
    /// What changed.
    pub change: FeedChange,
}

/// What a feed entry is about. More kinds of workflow will join (match with a wildcard arm).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FeedChange {
    /// A grant's transition.
    Grant(GrantChange),
    /// A payment's transition.
    Payment(crate::payment_view::PaymentUpdate),
    /// A schedule's transition.
    Schedule(crate::schedule_view::ScheduleUpdate),
    /// A change this version cannot describe: recorded before the feed existed, or by a newer
    /// version (another kind of workflow). Its id and version are known; read the grant (or
    /// ignore it).
    Other {
        /// The grant (or workflow) id.
        id: GrantId,
        /// Its version after the change.
        version: i64,
    },
}

impl FeedEntry {
    pub(crate) fn from_record(record: FeedRecord) -> Self {
        let other = FeedChange::Other {
            id: record.grant,
            version: record.version,
        };
        let change = match record
            .summary
            .as_deref()
            .map(serde_json::from_str::<Summary>)
        {
            Some(Ok(Summary::Grant(g))) => FeedChange::Grant(GrantChange {
                grant: record.grant,
                version: record.version,
                from: g.from,
                event: g.event,
                kind: g.kind,
                change: g.change,
            }),
            Some(Ok(Summary::Payment(p))) => FeedChange::Payment(
                p.into_update(grantflow_store::PaymentId(record.grant.0), record.version),
            ),
            Some(Ok(Summary::Schedule(s))) => FeedChange::Schedule(
                s.into_update(grantflow_store::ScheduleId(record.grant.0), record.version),
            ),
            Some(Err(_)) | None => other,
        };
        Self {
            position: record.position,
            at: record.at,
            change,
        }
    }

    /// The grant change, if this entry is one.
    pub fn grant(&self) -> Option<&GrantChange> {
        match &self.change {
            FeedChange::Grant(g) => Some(g),
            FeedChange::Payment(_) | FeedChange::Schedule(_) | FeedChange::Other { .. } => None,
        }
    }

    /// The id of the grant (or workflow) that changed.
    pub fn id(&self) -> GrantId {
        match &self.change {
            FeedChange::Grant(g) => g.grant,
            // A payment's id, in the feed's one id type (both are uuids).
            FeedChange::Payment(p) => GrantId(p.payment.0),
            // A schedule's id, likewise.
            FeedChange::Schedule(s) => GrantId(s.schedule.0),
            FeedChange::Other { id, .. } => *id,
        }
    }
}

/// A reader of the change feed from a position on: every change committed after it, by any
/// process on the database, in commit order per grant, waiting when there is none.
///
/// Made by [`Engine::subscribe`](crate::Engine::subscribe) (from now) or
/// [`Engine::subscribe_after`](crate::Engine::subscribe_after) (from a stored position). It holds
/// no lease and no connection between reads; a consumer that must resume after a crash stores
/// [`position`](Self::position) after handling each entry (or uses a named consumer, as the
/// webhook does). Each entry handed out records its lag (the change's time to now, on the
/// engine's clock) in the `grantflow_change_feed_lag_seconds` histogram.
pub struct Subscription<S: GrantStore> {
    store: S,
    position: Option<FeedPosition>,
    buffer: VecDeque<FeedRecord>,
    signal: WakeSignal,
    poll_interval: Duration,
    /// The engine's clock: the change-feed lag is measured on it.
    clock: Arc<dyn Clock>,
}

impl<S: GrantStore> std::fmt::Debug for Subscription<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("position", &self.position)
            .field("buffered", &self.buffer.len())
            .finish_non_exhaustive()
    }
}

impl<S: GrantStore> Subscription<S> {
    pub(crate) fn new(
        store: S,
        after: Option<FeedPosition>,
        poll_interval: Duration,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            signal: store.feed_signal(),
            store,
            position: after,
            buffer: VecDeque::new(),
            poll_interval,
            clock,
        }
    }

    /// The entry of `record`, its lag (from the change's time to now) recorded in the
    /// `grantflow_change_feed_lag_seconds` histogram.
    fn hand_out(&self, record: FeedRecord) -> FeedEntry {
        metrics::record_change_feed_lag(until(record.at, time::now(&*self.clock)));
        FeedEntry::from_record(record)
    }

    /// The position of the last entry handed out (or the one it started after): store it to
    /// resume from it.
    pub fn position(&self) -> Option<FeedPosition> {
        self.position
    }

    /// The next change, waiting (woken by the store's feed notifications, polling every
    /// `poll_interval` in case one was lost) until there is one. Fails only when the store does;
    /// the next call retries from the same position.
    ///
    /// Cancel safety: dropping the future loses nothing (an entry is taken off the buffer and the
    /// position moved only when it is returned).
    pub async fn next(&mut self) -> Result<FeedEntry, EngineError> {
        loop {
            if let Some(record) = self.buffer.pop_front() {
                self.position = Some(record.position);
                return Ok(self.hand_out(record));
            }
            if let Some(held_back) = self.fill().await? {
                let pause = if held_back {
                    HELD_BACK_RETRY
                } else {
                    self.poll_interval
                };
                self.signal.wait(pause).await;
            }
        }
    }

    /// The changes available now (up to one page), without waiting.
    pub async fn try_next_batch(&mut self) -> Result<Vec<FeedEntry>, EngineError> {
        if self.buffer.is_empty() {
            self.fill().await?;
        }
        let records: Vec<_> = self.buffer.drain(..).collect();
        if let Some(last) = records.last() {
            self.position = Some(last.position);
        }
        Ok(records.into_iter().map(|r| self.hand_out(r)).collect())
    }

    /// Reads a page into the buffer. `Some(held_back)` when there was nothing to read.
    async fn fill(&mut self) -> Result<Option<bool>, EngineError> {
        let page = self.store.changes_after(self.position, PAGE).await?;
        if page.changes.is_empty() {
            return Ok(Some(page.held_back));
        }
        self.buffer.extend(page.changes);
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_summary_reads_back_and_anything_else_is_other() {
        let text = summary(
            StateKind::AwaitingInteraction,
            &GrantState::Initial,
            EventKind::Cancel,
            Some(Change::Canceled),
        );
        assert_eq!(
            text,
            r#"{"grant":{"from":"awaiting_interaction","event":"cancel","kind":"initial","change":"canceled"}}"#
        );
        let position: FeedPosition = "5.9".parse().unwrap();
        let record = |summary: Option<&str>| FeedRecord {
            position,
            grant: GrantId(uuid::Uuid::nil()),
            version: 3,
            at: DateTime::UNIX_EPOCH,
            summary: summary.map(str::to_owned),
        };
        let entry = FeedEntry::from_record(record(Some(&text)));
        let grant = entry.grant().unwrap();
        assert_eq!(
            (grant.version, grant.event, grant.change),
            (3, EventKind::Cancel, Some(Change::Canceled))
        );
        for other in [
            None,
            Some(r#"{"payment":{"kind":"sent"}}"#),
            Some("not json"),
        ] {
            assert_eq!(
                FeedEntry::from_record(record(other)).change,
                FeedChange::Other {
                    id: GrantId(uuid::Uuid::nil()),
                    version: 3
                },
                "{other:?}"
            );
        }
    }
}
