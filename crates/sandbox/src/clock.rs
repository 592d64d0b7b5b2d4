//! [`SandboxClock`]: the sandbox's own notion of "now", which tests can move.
//!
//! Every time-dependent rule of the sandbox (the `wait` window and `too_fast`, access-token
//! expiry, interaction expiry, quote expiry, which limit window an outgoing payment falls in)
//! reads this clock and nothing else, so a test can expire a token or an interaction by advancing
//! the clock instead of sleeping.

use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};

/// The sandbox's clock: the system clock or a manual one, either shifted by an offset that
/// [`SandboxClock::advance`] grows.
///
/// Clones share the same clock: advancing one advances all of them, which is how a test holding
/// a clone moves the running server's time.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use grantflow_sandbox::SandboxClock;
///
/// let start = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
/// let clock = SandboxClock::manual(start);
/// let server_side = clock.clone();
/// clock.advance(std::time::Duration::from_secs(601));
/// assert_eq!((server_side.now() - start).num_seconds(), 601);
/// ```
#[derive(Clone, Debug)]
pub struct SandboxClock {
    /// Shared so that every clone (the server's state, the handle, a test) sees one time.
    inner: Arc<Mutex<ClockState>>,
}

#[derive(Debug)]
struct ClockState {
    /// `None`: follow the system clock; `Some(t)`: time stands at `t` until moved.
    manual: Option<DateTime<Utc>>,
    /// Added to the base time; grown by [`SandboxClock::advance`].
    offset: chrono::Duration,
}

impl Default for SandboxClock {
    fn default() -> Self {
        Self::system()
    }
}

impl SandboxClock {
    /// A clock that follows the system clock (plus whatever it is later advanced by).
    pub fn system() -> Self {
        Self::with_state(ClockState {
            manual: None,
            offset: chrono::Duration::zero(),
        })
    }

    /// A clock that stands still at `start` and moves only when advanced or set.
    pub fn manual(start: DateTime<Utc>) -> Self {
        Self::with_state(ClockState {
            manual: Some(start),
            offset: chrono::Duration::zero(),
        })
    }

    fn with_state(state: ClockState) -> Self {
        Self {
            inner: Arc::new(Mutex::new(state)),
        }
    }

    fn lock(&self) -> MutexGuard<'_, ClockState> {
        // The state is two plain values and is never left half-written, so a poisoned lock
        // (a panic elsewhere while holding it) still holds a consistent value.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The current sandbox time.
    pub fn now(&self) -> DateTime<Utc> {
        let state = self.lock();
        let base = state.manual.unwrap_or_else(Utc::now);
        plus(base, state.offset)
    }

    /// Moves the clock forward by `by` (saturating at chrono's range).
    pub fn advance(&self, by: std::time::Duration) {
        let by = chrono::Duration::from_std(by).unwrap_or(chrono::Duration::MAX);
        let mut state = self.lock();
        state.offset = state
            .offset
            .checked_add(&by)
            .unwrap_or(chrono::Duration::MAX);
    }

    /// Sets the clock to `now` from here on (it keeps following the system clock's pace if it
    /// was a system clock).
    pub fn set(&self, now: DateTime<Utc>) {
        let mut state = self.lock();
        let base = state.manual.unwrap_or_else(Utc::now);
        state.offset = now - base;
    }
}

/// `at` moved by `by`, saturating at the ends of chrono's range: no lifetime, offset or clock
/// setting can make time arithmetic panic.
pub(crate) fn plus(at: DateTime<Utc>, by: chrono::Duration) -> DateTime<Utc> {
    at.checked_add_signed(by)
        .unwrap_or(if by < chrono::Duration::zero() {
            DateTime::<Utc>::MIN_UTC
        } else {
            DateTime::<Utc>::MAX_UTC
        })
}

/// `at` plus `seconds` (a configured lifetime or wait), saturating at the latest time chrono
/// represents.
pub(crate) fn plus_seconds(at: DateTime<Utc>, seconds: u64) -> DateTime<Utc> {
    i64::try_from(seconds)
        .ok()
        .and_then(chrono::Duration::try_seconds)
        .and_then(|by| at.checked_add_signed(by))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use std::time::Duration;

    #[test]
    fn manual_clock_stands_still_and_advances() {
        let t0 = Utc.with_ymd_and_hms(2026, 11, 25, 0, 0, 0).unwrap();
        let c = SandboxClock::manual(t0);
        assert_eq!(c.now(), t0);
        c.advance(Duration::from_secs(5));
        assert_eq!(c.now(), t0 + chrono::Duration::seconds(5));
        let t1 = Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap();
        c.set(t1);
        assert_eq!(c.now(), t1);
    }

    #[test]
    fn system_clock_is_shifted_by_advance() {
        let c = SandboxClock::system();
        c.advance(Duration::from_secs(3600));
        let ahead = (c.now() - Utc::now()).num_seconds();
        assert!((3590..=3600).contains(&ahead), "ahead by {ahead} s");
    }
}
