//! Time as an input: the engine's [`Clock`], and saturating arithmetic on instants.
//!
//! Everything the engine decides by the time of day (what is due, lease ends, when a token is
//! about to expire, `Retry-After`) reads [`EngineConfig::clock`](crate::EngineConfig::clock),
//! and every wait for an instant goes through [`Clock::sleep_until`]. Production uses
//! [`SystemClock`]; tests use a [`ManualClock`] and move it, so a lease lapsing or a token
//! expiring costs no real time. Timeouts the application asks for (`command_wait`, `wait_for`'s
//! timeout) and the lease renewal cadence are durations on tokio's timer, not instants.
//!
//! Arithmetic on instants saturates: a configured duration too large for chrono (for example a
//! lease of `u64::MAX` seconds) means "as late as can be", never a panic.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use tokio::sync::watch;

/// A future returned by [`Clock::sleep_until`].
pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// Where the engine gets the time of day from.
///
/// Implementations must be monotonic enough for leases: `now` should not go backwards by more
/// than a lease's length (a clock that does only delays grants; fencing does not depend on it).
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;

    /// Resolves once [`now`](Self::now) has reached `at` (at once if it already has).
    fn sleep_until(&self, at: DateTime<Utc>) -> Sleep;
}

/// The system clock (`Utc::now()`), with tokio's timer for waits. The default.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn sleep_until(&self, at: DateTime<Utc>) -> Sleep {
        let wait = until(Utc::now(), at);
        Box::pin(tokio::time::sleep(wait))
    }
}

/// A clock that stands still until moved: for tests and simulations. Clones share one time, so
/// a test holding a clone moves the engine's clock; every [`Clock::sleep_until`] whose instant
/// is reached by a move wakes.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use grantflow_driver::{Clock, ManualClock};
///
/// let start = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
/// let clock = ManualClock::new(start);
/// let engine_side = clock.clone();
/// clock.advance(std::time::Duration::from_secs(30));
/// assert_eq!((engine_side.now() - start).num_seconds(), 30);
/// ```
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<watch::Sender<DateTime<Utc>>>,
}

impl ManualClock {
    /// A clock standing at `start`.
    pub fn new(start: DateTime<Utc>) -> Self {
        Self {
            now: Arc::new(watch::channel(start).0),
        }
    }

    /// Moves the clock forward by `by` (saturating at chrono's last instant).
    pub fn advance(&self, by: Duration) {
        self.now.send_modify(|now| *now = after(*now, by));
    }

    /// Sets the clock to `now` (forwards or backwards).
    pub fn set(&self, now: DateTime<Utc>) {
        self.now.send_replace(now);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.borrow()
    }

    fn sleep_until(&self, at: DateTime<Utc>) -> Sleep {
        let mut now = self.now.subscribe();
        Box::pin(async move {
            // The sender lives as long as any clone of the clock; if every clone is gone, time
            // stands still for good.
            if now.wait_for(|now| *now >= at).await.is_err() {
                std::future::pending::<()>().await;
            }
        })
    }
}

/// The engine's reading of `clock`, at the store's precision (microseconds), so that the
/// instants fed to the machine are exactly the ones recorded and a replay of the log reproduces
/// the state.
pub(crate) fn now(clock: &dyn Clock) -> DateTime<Utc> {
    clock.now().trunc_subsecs(6)
}

/// `d` as a chrono duration, saturating.
pub(crate) fn delta(d: Duration) -> TimeDelta {
    TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
}

/// `t + d`, saturating at chrono's last instant.
pub(crate) fn after(t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    plus(t, delta(d))
}

/// `t + d`, saturating at chrono's first or last instant.
pub(crate) fn plus(t: DateTime<Utc>, d: TimeDelta) -> DateTime<Utc> {
    t.checked_add_signed(d).unwrap_or(if d < TimeDelta::zero() {
        DateTime::<Utc>::MIN_UTC
    } else {
        DateTime::<Utc>::MAX_UTC
    })
}

/// How long from `now` until `at` (zero if it has passed).
pub(crate) fn until(now: DateTime<Utc>, at: DateTime<Utc>) -> Duration {
    (at - now).to_std().unwrap_or(Duration::ZERO)
}

/// The tokio instant `d` from now, saturating at about thirty years.
pub(crate) fn deadline_in(d: Duration) -> tokio::time::Instant {
    const FAR: Duration = Duration::from_secs(30 * 365 * 24 * 3600);
    let now = tokio::time::Instant::now();
    now.checked_add(d.min(FAR)).unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 3, 12, 0, 0).unwrap()
    }

    #[test]
    fn arithmetic_saturates_instead_of_panicking() {
        assert_eq!(after(t0(), Duration::MAX), DateTime::<Utc>::MAX_UTC);
        assert_eq!(
            after(t0(), Duration::from_secs(u64::MAX)),
            DateTime::<Utc>::MAX_UTC
        );
        assert_eq!(plus(t0(), TimeDelta::MIN), DateTime::<Utc>::MIN_UTC);
        assert_eq!(until(t0(), t0() - TimeDelta::seconds(1)), Duration::ZERO);
        assert_eq!(
            until(t0(), t0() + TimeDelta::seconds(2)),
            Duration::from_secs(2)
        );
    }

    #[tokio::test]
    async fn a_far_deadline_does_not_overflow() {
        assert!(deadline_in(Duration::MAX) > tokio::time::Instant::now());
    }

    #[tokio::test]
    async fn manual_sleeps_wake_when_the_clock_reaches_them() {
        let clock = ManualClock::new(t0());
        clock.sleep_until(t0()).await;
        let mut sleep = clock.sleep_until(t0() + TimeDelta::seconds(10));
        let poll = |s: &mut Sleep| {
            let waker = futures_waker();
            let mut cx = std::task::Context::from_waker(&waker);
            s.as_mut().poll(&mut cx).is_ready()
        };
        assert!(!poll(&mut sleep));
        clock.advance(Duration::from_secs(9));
        assert!(!poll(&mut sleep));
        clock.advance(Duration::from_secs(1));
        sleep.await;
        assert_eq!(now(&clock), t0() + TimeDelta::seconds(10));
    }

    fn futures_waker() -> std::task::Waker {
        std::task::Waker::noop().clone()
    }
}
