//! The machine's tunables, passed in by the caller (never global).

use chrono::TimeDelta;

/// Tunables of the grant lifecycle.
///
/// Passed to [`transition`](crate::transition) on every call, so a driver can change them without
/// touching stored states. Replaying events must use the same configuration that produced them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// How long after the AS's pending answer the user has to finish the interaction before the
    /// grant is canceled at the AS and ends `Expired`. The reference server never expires a pending
    /// grant itself and its interactions live 600 s; the default is 600 s plus a 60 s margin.
    pub interaction_deadline: TimeDelta,
    /// `wait` to honour when the AS's continuation omits it (RFC 9635: 5 s).
    pub default_wait: TimeDelta,
    /// Minimum back-off after a `too_fast` answer; doubled on each further `too_fast` in a row
    /// (never less than the continuation's `wait`, never more than `max_retry_delay`).
    pub too_fast_backoff: TimeDelta,
    /// First delay after a transient failure (call never sent, 429, 5xx on an idempotent call).
    pub retry_base_delay: TimeDelta,
    /// Upper bound of every back-off.
    pub max_retry_delay: TimeDelta,
    /// How long a call may be in flight before the grant needs attention again. A `Wake` for a
    /// grant with a call in flight means the caller lost the call (crash, lapsed lease): the
    /// machine treats it as an ambiguous outcome.
    pub call_timeout: TimeDelta,
    /// Rotate the access token this long before it expires (when `auto_rotate` is on and the AS
    /// gave `expires_in`).
    pub rotate_before_expiry: TimeDelta,
    /// Keep an issued grant's token alive by rotating it before expiry. Off: the token is only
    /// rotated on [`Event::RotateNow`](crate::Event::RotateNow).
    pub auto_rotate: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            interaction_deadline: TimeDelta::seconds(660),
            default_wait: TimeDelta::seconds(5),
            too_fast_backoff: TimeDelta::seconds(5),
            retry_base_delay: TimeDelta::seconds(1),
            max_retry_delay: TimeDelta::seconds(300),
            call_timeout: TimeDelta::seconds(60),
            rotate_before_expiry: TimeDelta::seconds(30),
            auto_rotate: true,
        }
    }
}

impl Config {
    /// The `wait` to honour for a continuation that says `wait` (seconds), or the default.
    pub fn wait(&self, wait: Option<u64>) -> TimeDelta {
        match wait {
            // Clamp absurd values to a day so time arithmetic stays in range.
            Some(secs) => TimeDelta::seconds(i64::try_from(secs.min(86_400)).unwrap_or(86_400)),
            None => self.default_wait,
        }
    }

    /// Back-off after the `failures`-th transient failure in a row (1-based): exponential from
    /// `retry_base_delay`, capped at `max_retry_delay`.
    pub fn retry_delay(&self, failures: u32) -> TimeDelta {
        exponential(self.retry_base_delay, failures, self.max_retry_delay)
    }

    /// Delay before the next continue/poll after the `n`-th `too_fast` in a row (1-based).
    pub fn too_fast_delay(&self, wait: TimeDelta, n: u32) -> TimeDelta {
        let base = wait.max(self.too_fast_backoff);
        exponential(base, n, self.max_retry_delay).max(wait)
    }
}

fn exponential(base: TimeDelta, n: u32, cap: TimeDelta) -> TimeDelta {
    let shift = n.saturating_sub(1).min(20);
    base.checked_mul(1 << shift).unwrap_or(cap).min(cap)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_defaults_to_five_seconds() {
        let c = Config::default();
        assert_eq!(c.wait(None), TimeDelta::seconds(5));
        assert_eq!(c.wait(Some(30)), TimeDelta::seconds(30));
        assert_eq!(c.wait(Some(u64::MAX)), TimeDelta::seconds(86_400));
    }

    #[test]
    fn back_offs_grow_and_are_capped() {
        let c = Config::default();
        assert_eq!(c.retry_delay(1), TimeDelta::seconds(1));
        assert_eq!(c.retry_delay(3), TimeDelta::seconds(4));
        assert_eq!(c.retry_delay(40), TimeDelta::seconds(300));
        assert_eq!(
            c.too_fast_delay(TimeDelta::seconds(5), 1),
            TimeDelta::seconds(5)
        );
        assert_eq!(
            c.too_fast_delay(TimeDelta::seconds(5), 2),
            TimeDelta::seconds(10)
        );
        assert_eq!(
            c.too_fast_delay(TimeDelta::seconds(5), 99),
            TimeDelta::seconds(300)
        );
        // Never below the AS's wait, even when the cap is smaller.
        assert_eq!(
            c.too_fast_delay(TimeDelta::seconds(600), 9),
            TimeDelta::seconds(600)
        );
    }
}
