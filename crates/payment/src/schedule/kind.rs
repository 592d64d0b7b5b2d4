//! The coarse names of the schedule machine's vocabulary: the kinds of state and event.
//!
//! These sit below every other module of `schedule` and import none of them.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The coarse states of the schedule's transition table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScheduleStateKind {
    /// Before the order.
    Initial,
    /// No usable grant: a grant was requested (first consent, or again after the grant ended),
    /// and the schedule waits for the user to approve it.
    AwaitingConsent,
    /// Waiting for the next occurrence to come due.
    Waiting,
    /// An occurrence's payment was decided (its idempotency key committed) and is being made.
    Paying,
    /// Paused by the application: occurrences that come due are skipped.
    Paused,
    /// Final: no occurrence is left (the cadence's series or the schedule's end was reached).
    Completed,
    /// Final: canceled by the application.
    Canceled,
    /// Final: the schedule cannot go on: the user declined a new grant, or none was approved
    /// after `max_consent_requests` requests in a row.
    Stopped,
}

impl ScheduleStateKind {
    /// Every state, in table order.
    pub const ALL: [ScheduleStateKind; 8] = [
        Self::Initial,
        Self::AwaitingConsent,
        Self::Waiting,
        Self::Paying,
        Self::Paused,
        Self::Completed,
        Self::Canceled,
        Self::Stopped,
    ];

    /// The name used in the table and the diagram.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Initial => "Initial",
            Self::AwaitingConsent => "AwaitingConsent",
            Self::Waiting => "Waiting",
            Self::Paying => "Paying",
            Self::Paused => "Paused",
            Self::Completed => "Completed",
            Self::Canceled => "Canceled",
            Self::Stopped => "Stopped",
        }
    }

    /// Whether a schedule in this state absorbs every event.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Completed | Self::Canceled | Self::Stopped)
    }
}

impl fmt::Display for ScheduleStateKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The coarse events of the schedule's transition table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScheduleEventKind {
    /// The application's order.
    Order,
    /// Time passed: the schedule's `next_wake_at` was reached.
    Wake,
    /// The occurrence's payment was sent (the outgoing payment exists at the RS).
    Paid,
    /// The occurrence's payment failed (its reason says whether anything may have been paid).
    PaymentFailed,
    /// The application paused the schedule.
    Pause,
    /// The application resumed it.
    Resume,
    /// The application canceled it.
    Cancel,
    /// The grant the schedule pays under ended (revoked, lost, its series over, ...).
    GrantEnded,
    /// The grant requested for the schedule was issued.
    ConsentGiven,
    /// The grant requested for the schedule ended without being issued.
    ConsentRefused,
}

impl ScheduleEventKind {
    /// The name used in the table and the diagram.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Order => "Order",
            Self::Wake => "Wake",
            Self::Paid => "Paid",
            Self::PaymentFailed => "PaymentFailed",
            Self::Pause => "Pause",
            Self::Resume => "Resume",
            Self::Cancel => "Cancel",
            Self::GrantEnded => "GrantEnded",
            Self::ConsentGiven => "ConsentGiven",
            Self::ConsentRefused => "ConsentRefused",
        }
    }
}

impl fmt::Display for ScheduleEventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
