//! The schedule's state: where it is, what it has paid, skipped or failed, and the payment or
//! grant request it is waiting on.

use std::collections::VecDeque;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::cadence::{Occurrence, Plan};
use super::kind::ScheduleStateKind;
use super::order::ScheduleOrder;
use crate::event::GrantEnd;

/// Why occurrences were skipped (never paid, never to be).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// They came due more than `max_catch_up` before the schedule got to them.
    TooLate,
    /// They came due while the schedule was paused.
    Paused,
    /// The schedule ended while it awaited a new grant.
    NoConsent,
}

impl std::fmt::Display for SkipReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::TooLate => "came due longer than max_catch_up ago",
            Self::Paused => "came due while paused",
            Self::NoConsent => "the schedule ended while it awaited a new grant",
        })
    }
}

/// What became of one occurrence (or of a run of skipped ones).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum OccurrenceRecord {
    /// Its payment was sent.
    Paid {
        /// The occurrence's index.
        occurrence: u64,
        /// The payment's idempotency key.
        key: String,
        /// The outgoing payment's URL.
        payment: String,
    },
    /// Its payment failed and nothing was paid; it is not tried again.
    Failed {
        /// The occurrence's index.
        occurrence: u64,
        /// The payment's idempotency key.
        key: String,
        /// Why.
        reason: String,
    },
    /// Its payment's outcome is unknown (a create may have acted): it is never paid again; check
    /// the payment named in the reason.
    Unknown {
        /// The occurrence's index.
        occurrence: u64,
        /// The payment's idempotency key.
        key: String,
        /// Why, naming the quote whose payment may exist.
        reason: String,
    },
    /// Occurrences `from..to` were skipped.
    Skipped {
        /// The first skipped occurrence.
        from: u64,
        /// The first occurrence after the skipped ones.
        to: u64,
        /// Why.
        reason: SkipReason,
    },
}

/// How many occurrences ended which way, over the schedule's life.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    /// Paid.
    pub paid: u64,
    /// Failed, nothing paid.
    pub failed: u64,
    /// Outcome unknown.
    pub unknown: u64,
    /// Skipped.
    pub skipped: u64,
}

/// What every state but `Initial` carries: the order, the occurrences, the grant, and what
/// became of the occurrences so far.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// The schedule's id (the idempotency keys of its payments and grant requests start with it).
    pub schedule: String,
    /// The order.
    pub order: Arc<ScheduleOrder>,
    /// Its occurrences.
    pub plan: Plan,
    /// The grant it pays under (`None` before the first consent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant: Option<String>,
    /// How that grant ended, if it did (a new one is needed before the next payment).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_ended: Option<GrantEnd>,
    /// The next occurrence to handle: every earlier one is paid, failed, unknown or skipped.
    pub next: u64,
    /// Payments made for `next` so far (another is made only after one that proved nothing was
    /// paid and needed a new grant).
    pub attempts: u32,
    /// Grant requests made over the schedule's life.
    pub consents: u32,
    /// The counts.
    pub tally: Tally,
    /// The newest records, oldest first (at most `ScheduleConfig::history`).
    pub recent: VecDeque<OccurrenceRecord>,
}

/// Waiting for occurrence `progress.next` to come due.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Waiting {
    /// The progress.
    pub progress: Progress,
    /// When the next occurrence comes due.
    pub wake_at: DateTime<Utc>,
}

/// The payment of one occurrence, decided (its key committed) and being made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Paying {
    /// The progress (`progress.next` is the occurrence being paid).
    pub progress: Progress,
    /// The occurrence.
    pub occurrence: Occurrence,
    /// The payment's idempotency key.
    pub key: String,
    /// When to ask for the payment again.
    pub wake_at: DateTime<Utc>,
    /// The application paused the schedule: pause once this payment ends.
    pub pause_requested: bool,
}

/// Paused: occurrences that come due are skipped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Paused {
    /// The progress.
    pub progress: Progress,
    /// When the next occurrence comes due (to record it skipped).
    pub wake_at: DateTime<Utc>,
}

/// A grant was requested for the schedule; the user has to approve it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AwaitingConsent {
    /// The progress.
    pub progress: Progress,
    /// The grant request's idempotency key.
    pub key: String,
    /// Grant requests in a row that ended without a grant, this one included once it does.
    pub in_a_row: u32,
    /// When to look at the request again.
    pub wake_at: DateTime<Utc>,
}

/// Final: no occurrence is left.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Completed {
    /// The progress.
    pub progress: Progress,
}

/// Final: canceled by the application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Canceled {
    /// The progress.
    pub progress: Progress,
    /// The key of the payment that was being made, if any: it runs to its own end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_in_flight: Option<String>,
}

/// Why a schedule stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "stop", rename_all = "snake_case")]
pub enum StopReason {
    /// The user declined the new grant.
    Declined,
    /// `requests` grant requests in a row ended without a grant (the last one `end`).
    ConsentNotGiven {
        /// Requests made in a row.
        requests: u32,
        /// How the last one ended.
        end: GrantEnd,
    },
}

impl std::fmt::Display for StopReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Declined => f.write_str("the user declined the new grant"),
            Self::ConsentNotGiven { requests, end } => write!(
                f,
                "{requests} grant requests in a row ended without a grant (the last {end}): create a new schedule once the user can consent"
            ),
        }
    }
}

/// Final: the schedule cannot go on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stopped {
    /// The progress.
    pub progress: Progress,
    /// Why.
    pub reason: StopReason,
}

/// A schedule's state. Serialised as tagged JSON (`"state": "waiting", ...`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ScheduleState {
    /// Before the order.
    #[default]
    Initial,
    /// Awaiting a new grant.
    AwaitingConsent(AwaitingConsent),
    /// Waiting for the next occurrence.
    Waiting(Waiting),
    /// Paying an occurrence.
    Paying(Paying),
    /// Paused.
    Paused(Paused),
    /// Final: done.
    Completed(Completed),
    /// Final: canceled.
    Canceled(Canceled),
    /// Final: stopped.
    Stopped(Stopped),
}

impl ScheduleState {
    /// The state's kind (its name in the table).
    pub fn kind(&self) -> ScheduleStateKind {
        match self {
            Self::Initial => ScheduleStateKind::Initial,
            Self::AwaitingConsent(_) => ScheduleStateKind::AwaitingConsent,
            Self::Waiting(_) => ScheduleStateKind::Waiting,
            Self::Paying(_) => ScheduleStateKind::Paying,
            Self::Paused(_) => ScheduleStateKind::Paused,
            Self::Completed(_) => ScheduleStateKind::Completed,
            Self::Canceled(_) => ScheduleStateKind::Canceled,
            Self::Stopped(_) => ScheduleStateKind::Stopped,
        }
    }

    /// The progress (every state but `Initial`).
    pub fn progress(&self) -> Option<&Progress> {
        match self {
            Self::Initial => None,
            Self::AwaitingConsent(s) => Some(&s.progress),
            Self::Waiting(s) => Some(&s.progress),
            Self::Paying(s) => Some(&s.progress),
            Self::Paused(s) => Some(&s.progress),
            Self::Completed(s) => Some(&s.progress),
            Self::Canceled(s) => Some(&s.progress),
            Self::Stopped(s) => Some(&s.progress),
        }
    }

    /// When the schedule next needs a [`ScheduleEvent::Wake`](super::ScheduleEvent): every
    /// state but `Initial` and the final ones has one.
    pub fn next_wake_at(&self) -> Option<DateTime<Utc>> {
        match self {
            Self::AwaitingConsent(s) => Some(s.wake_at),
            Self::Waiting(s) => Some(s.wake_at),
            Self::Paying(s) => Some(s.wake_at),
            Self::Paused(s) => Some(s.wake_at),
            Self::Initial | Self::Completed(_) | Self::Canceled(_) | Self::Stopped(_) => None,
        }
    }

    /// Why a stopped schedule stopped, or what it waits on when it cannot pay.
    pub fn reason(&self) -> Option<String> {
        match self {
            Self::Stopped(s) => Some(s.reason.to_string()),
            Self::AwaitingConsent(s) => Some(match s.progress.grant_ended {
                Some(end) => {
                    format!("the grant was {end}: awaiting the user's consent to a new one")
                }
                None => "awaiting the user's consent to the grant".to_owned(),
            }),
            _ => None,
        }
    }
}
