//! What happened to a schedule, and what it asks the driver to do. Events are stored (replay
//! reproduces the state), so they carry every input the machine uses.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::cadence::Occurrence;
use super::kind::ScheduleEventKind;
use super::order::ScheduleOrder;
use crate::event::GrantEnd;
use crate::order::PaymentOrder;
use crate::state::Failure;

/// An event for the schedule machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ScheduleEvent {
    /// The application's order.
    Order {
        /// The schedule's id (no `/`): its payments' and grant requests' keys start with it.
        schedule: String,
        /// What to pay and when.
        order: Arc<ScheduleOrder>,
        /// The grant to pay under; `None`: ask the user for one first (the driver requests it).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        grant: Option<String>,
    },
    /// Time passed: the schedule's `next_wake_at` was reached.
    Wake,
    /// The payment with `key` was sent.
    Paid {
        /// The payment's idempotency key.
        key: String,
        /// The outgoing payment's URL.
        payment: String,
    },
    /// The payment with `key` failed.
    PaymentFailed {
        /// The payment's idempotency key.
        key: String,
        /// Why (the payment machine's reason: it says whether anything may have been paid).
        failure: Failure,
    },
    /// The application pauses the schedule.
    Pause,
    /// The application resumes it.
    Resume,
    /// The application cancels it.
    Cancel,
    /// The grant the schedule pays under ended (revoked, lost, its token can no longer be rotated,
    /// its series is over).
    GrantEnded {
        /// How.
        end: GrantEnd,
    },
    /// The grant requested with `key` was issued.
    ConsentGiven {
        /// The grant request's idempotency key.
        key: String,
        /// The new grant's id.
        grant: String,
    },
    /// The grant requested with `key` ended without being issued.
    ConsentRefused {
        /// The grant request's idempotency key.
        key: String,
        /// How it ended (`Rejected`: the user declined).
        end: GrantEnd,
    },
}

impl ScheduleEvent {
    /// The event's kind (its name in the table).
    pub fn kind(&self) -> ScheduleEventKind {
        match self {
            Self::Order { .. } => ScheduleEventKind::Order,
            Self::Wake => ScheduleEventKind::Wake,
            Self::Paid { .. } => ScheduleEventKind::Paid,
            Self::PaymentFailed { .. } => ScheduleEventKind::PaymentFailed,
            Self::Pause => ScheduleEventKind::Pause,
            Self::Resume => ScheduleEventKind::Resume,
            Self::Cancel => ScheduleEventKind::Cancel,
            Self::GrantEnded { .. } => ScheduleEventKind::GrantEnded,
            Self::ConsentGiven { .. } => ScheduleEventKind::ConsentGiven,
            Self::ConsentRefused { .. } => ScheduleEventKind::ConsentRefused,
        }
    }
}

/// What the driver does next for the schedule (the state saying so is committed first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScheduleEffect {
    /// Make (or, with a key already used, find) the payment of an occurrence, and report its end
    /// as [`ScheduleEvent::Paid`] or [`ScheduleEvent::PaymentFailed`].
    Pay {
        /// The grant to pay under.
        grant: String,
        /// The payment's idempotency key ([`payment_key`](super::payment_key)).
        key: String,
        /// The occurrence.
        occurrence: Occurrence,
        /// What to pay.
        order: Arc<PaymentOrder>,
    },
    /// Request (or, with a key already used, find) a grant with the same access as `previous`
    /// (or as the schedule's grant order when there is none), and report it as
    /// [`ScheduleEvent::ConsentGiven`] or [`ScheduleEvent::ConsentRefused`]. The user gets the
    /// redirect through the application's notification.
    RequestConsent {
        /// The grant request's idempotency key ([`consent_key`](super::consent_key)).
        key: String,
        /// The grant it replaces, if any.
        previous: Option<String>,
        /// How that grant ended.
        ended: Option<GrantEnd>,
    },
    /// Cancel the grant request with `key` (the schedule was canceled while awaiting it).
    CancelConsent {
        /// The grant request's idempotency key.
        key: String,
    },
}

/// Whether a failed payment may have paid, and whether it needs a new grant: how a schedule
/// reads the payment machine's [`Failure`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureClass {
    /// Nothing was paid, and the grant can pay no more (it ended, or its series is over): pay the
    /// occurrence again under a new grant.
    NeedsConsent(GrantEnd),
    /// A payment may exist (its create's outcome is unknown, or the RS made it and marked it
    /// failed, perhaps after sending part of it): never pay the occurrence again. `Some` when a
    /// new grant is needed too.
    MaybePaid(Option<GrantEnd>),
    /// Nothing was paid; trying again would not help this occurrence.
    NothingPaid,
}

impl FailureClass {
    /// The class of `failure`.
    pub fn of(failure: &Failure) -> Self {
        use crate::limit::LimitRefused;
        match failure {
            Failure::ConsentNeeded {
                end,
                maybe_paid_from: None,
            } => Self::NeedsConsent(*end),
            Failure::ConsentNeeded {
                end,
                maybe_paid_from: Some(_),
            } => Self::MaybePaid(Some(*end)),
            Failure::LimitReached {
                refused:
                    LimitRefused::NoWindow {
                        next_window_start: None,
                        ..
                    },
            } => Self::NeedsConsent(GrantEnd::Expired),
            Failure::OutcomeUnknown { .. } | Failure::PaymentFailed { .. } => Self::MaybePaid(None),
            Failure::LimitReached { .. }
            | Failure::Refused { .. }
            | Failure::TokenRefused { .. }
            | Failure::GaveUp { .. }
            | Failure::QuotesSpent { .. }
            | Failure::QuoteNotRecoverable { .. } => Self::NothingPaid,
        }
    }
}
