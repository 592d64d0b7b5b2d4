//! The payment machine's tunables.

use chrono::TimeDelta;

/// How patient the payment machine is, and how it treats quote expiry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentConfig {
    /// How long a call may be in flight before a `Wake` treats it as lost (its caller crashed or
    /// lost its lease): the outcome is then unknown.
    pub call_timeout: TimeDelta,
    /// The first back-off after a failed call; it doubles per attempt up to `max_retry_delay`,
    /// jittered into its upper half.
    pub retry_base_delay: TimeDelta,
    /// The longest back-off.
    pub max_retry_delay: TimeDelta,
    /// How long a call may keep failing before the payment gives up (`Failed` with the last
    /// error; after an unknown create outcome, `Failed` naming the quote whose payment may exist).
    pub recovery_budget: TimeDelta,
    /// A quote that expires within this margin is not used for a first create: it is replaced.
    pub quote_margin: TimeDelta,
    /// How far the RS's clock may be ahead of ours: a quote counts as unusable at the RS only this
    /// long after its `expiresAt`. Only then does a 404 for its payment prove that none will ever
    /// exist, and a new quote may be made.
    pub clock_skew: TimeDelta,
    /// The most quotes one payment makes (each expired one replaced) before it fails.
    pub max_quotes: u32,
}

impl Default for PaymentConfig {
    fn default() -> Self {
        Self {
            call_timeout: TimeDelta::seconds(60),
            retry_base_delay: TimeDelta::seconds(1),
            max_retry_delay: TimeDelta::seconds(120),
            recovery_budget: TimeDelta::minutes(15),
            quote_margin: TimeDelta::seconds(5),
            clock_skew: TimeDelta::seconds(30),
            max_quotes: 5,
        }
    }
}
