//! The schedule machine's tunables.

use chrono::TimeDelta;

/// The catch-up rule's limit, how often a schedule looks after its payment and its grant
/// request, and how much history it keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleConfig {
    /// An occurrence that came due more than this long ago when the schedule gets to it (after
    /// downtime, or a wait for consent) is skipped and recorded as skipped; a younger one is paid,
    /// late, once. Under a [`Cadence::GrantWindows`](super::Cadence) cadence a late occurrence is
    /// paid in the current window, so catching up needs that window's headroom: with a limit that
    /// fits one occurrence per window, keep this shorter than a window.
    pub max_catch_up: TimeDelta,
    /// How long a schedule that decided to pay waits before it asks again for that payment (same
    /// idempotency key: the engine finds the payment it made, or makes it after a crash).
    pub payment_check: TimeDelta,
    /// How long a schedule awaiting consent waits before it looks at its grant request again (same
    /// idempotency key).
    pub consent_check: TimeDelta,
    /// How many grant requests in a row may end without being issued (expired, lost, failed)
    /// before the schedule stops. A user's refusal stops it at once.
    pub max_consent_requests: u32,
    /// How many occurrence records the state keeps (the newest); the counts cover all of them,
    /// and the event log keeps every record.
    pub history: usize,
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        Self {
            max_catch_up: TimeDelta::days(1),
            payment_check: TimeDelta::seconds(30),
            consent_check: TimeDelta::minutes(5),
            max_consent_requests: 3,
            history: 32,
        }
    }
}
