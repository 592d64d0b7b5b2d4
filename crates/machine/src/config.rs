//! The machine's tunables, passed in by the caller (never global).

use chrono::TimeDelta;

/// How an issued grant's access token is kept fresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Rotation {
    /// Rotate when the application asks for a token that is expired or about to expire
    /// ([`Event::RotateNow`](crate::Event::RotateNow) after
    /// [`GrantState::usable_token`](crate::GrantState::usable_token) said no), plus one keep-alive
    /// rotation [`Config::keep_alive`] after expiry, so the AS never forgets an idle grant's
    /// expired token. An idle grant costs one call per `keep_alive` plus its lifetime.
    #[default]
    OnDemand,
    /// Rotate before expiry (expiry minus the margin), so a usable token is always at hand with no
    /// latency, at the price of one non-idempotent call per token lifetime per grant.
    KeepWarm,
}

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
    /// `wait` to honour when the AS's continuation omits it (RFC 9635: 5 s); also the pause after a
    /// `too_fast` to a call that has no continuation `wait`.
    pub default_wait: TimeDelta,
    /// First delay after a failed call (never sent, unknown outcome, 429, 5xx); doubled on each
    /// failure in a row, up to `max_retry_delay`, then jittered into its upper half.
    pub retry_base_delay: TimeDelta,
    /// Upper bound of every back-off.
    pub max_retry_delay: TimeDelta,
    /// How long a call may keep failing (counted from its first failure in a row) before the
    /// machine gives up: the grant request ends `Failed`; a continue, poll or rotation that may
    /// have acted at the AS ends `Lost` (one that certainly did not: `Failed`, and a rotation
    /// keeps the old token); a cancel reaches its goal anyway; a token revocation cancels the
    /// whole grant instead. It may outlive the interaction deadline once the user approved.
    pub recovery_budget: TimeDelta,
    /// How long a call may be in flight before the grant needs attention again. A `Wake` for a
    /// grant with a call in flight means the caller lost the call (crash, lapsed lease): the
    /// machine treats it as an unknown outcome.
    pub call_timeout: TimeDelta,
    /// A token is handed out only until this long before it expires; capped at half the token's
    /// lifetime, so a token just issued or rotated is always usable, whatever its lifetime.
    /// Keep-warm rotation happens at the same instant.
    pub token_margin: TimeDelta,
    /// When tokens are rotated: on demand (the default) or kept warm.
    pub rotation: Rotation,
    /// With [`Rotation::OnDemand`], an idle token is rotated this long after it expired, before
    /// the AS could forget it (the reference deletes expired tokens after 30 days).
    pub keep_alive: TimeDelta,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            interaction_deadline: TimeDelta::seconds(660),
            default_wait: TimeDelta::seconds(5),
            retry_base_delay: TimeDelta::seconds(1),
            max_retry_delay: TimeDelta::seconds(120),
            recovery_budget: TimeDelta::minutes(15),
            call_timeout: TimeDelta::seconds(60),
            token_margin: TimeDelta::seconds(30),
            rotation: Rotation::OnDemand,
            keep_alive: TimeDelta::days(7),
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

    /// Back-off after the `failures`-th failure in a row (1-based): exponential from
    /// `retry_base_delay`, capped at `max_retry_delay`, then spread over its upper half by
    /// `jitter` (any `u64`: the machine derives it from the instant and the attempt, so replay
    /// reproduces it and grants failing together spread out).
    pub fn retry_delay(&self, failures: u32, jitter: u64) -> TimeDelta {
        let full = exponential(self.retry_base_delay, failures, self.max_retry_delay);
        let half = full / 2;
        let permille = i32::try_from(mix(jitter) % 1001).unwrap_or(1000);
        half + (full - half) * permille / 1000
    }

    /// The margin before expiry for a token of `lifetime`: `token_margin`, at most half the
    /// lifetime.
    pub fn margin_for(&self, lifetime: TimeDelta) -> TimeDelta {
        self.token_margin.min(lifetime / 2).max(TimeDelta::zero())
    }
}

/// splitmix64's finalizer: spreads nearby inputs over the whole range.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
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
    fn back_offs_grow_are_capped_and_jittered_into_their_upper_half() {
        let c = Config::default();
        for jitter in [0, 1, 2, 77, u64::MAX] {
            for (failures, full) in [(1, 1), (3, 4), (40, 120)] {
                let d = c.retry_delay(failures, jitter);
                let full = TimeDelta::seconds(full);
                assert!(d >= full / 2 && d <= full, "{failures} {jitter}: {d}");
            }
        }
        // Different seeds spread out.
        let spread: std::collections::BTreeSet<_> = (0..50).map(|j| c.retry_delay(10, j)).collect();
        assert!(spread.len() > 25, "{spread:?}");
    }

    #[test]
    fn the_margin_never_exceeds_half_the_lifetime() {
        let c = Config::default();
        assert_eq!(
            c.margin_for(TimeDelta::seconds(600)),
            TimeDelta::seconds(30)
        );
        assert_eq!(c.margin_for(TimeDelta::seconds(2)), TimeDelta::seconds(1));
        assert_eq!(c.margin_for(TimeDelta::zero()), TimeDelta::zero());
    }
}
