//! What the application asks for: one payment order paid once per occurrence of a cadence, from a
//! start to an optional end.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::cadence::Cadence;
use crate::order::PaymentOrder;

/// A recurring payment: `payment` once per occurrence of `cadence` between `start` and `end`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleOrder {
    /// What each occurrence pays (the same receiver and amount every time).
    pub payment: Arc<PaymentOrder>,
    /// When it pays.
    pub cadence: Cadence,
    /// The first occurrence is the window that contains this instant (due at it) or the first one
    /// after it.
    pub start: DateTime<Utc>,
    /// No occurrence comes due at or after this instant (`None`: until the cadence's series
    /// ends, or forever).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<DateTime<Utc>>,
}

/// The idempotency key of occurrence `index`'s payment: `schedule/<schedule>/<index>`, and
/// `schedule/<schedule>/<index>/<attempt>` for a later attempt (made only when the earlier one proved that
/// nothing was paid and the grant had to be replaced). A crash between committing the decision to
/// pay and creating the payment re-sends the same key, so the engine finds the payment instead of
/// making a second one.
///
/// Schedule ids contain no `/` (the engine's are UUIDs), so no two occurrences share a key.
pub fn payment_key(schedule: &str, index: u64, attempt: u32) -> String {
    if attempt <= 1 {
        format!("schedule/{schedule}/{index}")
    } else {
        format!("schedule/{schedule}/{index}/{attempt}")
    }
}

/// The idempotency key of the schedule's `n`-th grant request: `schedule/<schedule>/consent/<n>`.
pub fn consent_key(schedule: &str, n: u32) -> String {
    format!("schedule/{schedule}/consent/{n}")
}
