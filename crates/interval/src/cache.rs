//! The crate's one exception to "pure": two process-wide caches of derived tables.
//!
//! Everything else in this crate is a function of its arguments. These two statics remember
//! tables that take microseconds to build and are needed again by the next lookup of the same
//! series or duration:
//!
//! - `chain::JUMP_TABLES`: the jump tables of the Rafiki-compatible chain of a mixed duration,
//!   keyed by duration and direction, the 8 most recently used;
//! - `window::chained::CHECKPOINT_TABLES`: the checkpoint tables of a chained series whose time
//!   of day has no short cycle, keyed by anchor, duration and direction, the 32 most recently
//!   used.
//!
//! Both are a [`MostRecentlyUsed`] list, the type below; this module imports nothing of the
//! crate, so the two modules that declare a cache import it and nothing imports them back.
//!
//! Why process-wide and not a value the caller owns (decided in issue 11, written in
//! `docs/intervals.md`, "Caches"):
//!
//! - **No answer depends on them.** Every entry is the exact chain state it stands for, built by
//!   the same step function a cold lookup runs, so a hit, a miss or an eviction changes the cost of
//!   a lookup, never its result. The tests compare cached lookups with a walk from the anchor.
//! - **A caller-owned value would be in every lookup.** `window_at`, `window`, `windows_from`,
//!   `next_window_start`, `has_ended` and `series_end` would each take a cache argument (or
//!   [`crate::RepeatingInterval`], a plain `Eq + Hash + serde` value copied into grants, would
//!   carry one), and every caller (the allowance, the sandbox's limit check, the CLI) would have
//!   to keep one alive, for a cost that only the rare mixed durations (`P1M1D`, `P1MT1M`) pay.
//! - **Sharing is the point.** A jump table depends on the duration only, so every grant with
//!   `P1M1D` uses the same one; per-owner caches would build it once per owner.
//! - **Bounded and lock-light.** At most 8 jump tables (under 3.7 MB) and 32 checkpoint tables
//!   (under 3.8 MB); the list lock is held only to find or insert an entry, never while a table is
//!   built or walked. A poisoned lock is taken over (the tables are never left half-written: a
//!   table only grows by whole checkpoints).
//!
//! There is no I/O, no clock and no randomness here: the pure-core invariant (no I/O, time as an
//! argument) holds; only memoisation is shared.

use std::sync::{Arc, Mutex, PoisonError};

/// A small most-recently-used list of shared values, most recent first, at most `capacity` long.
#[derive(Debug)]
pub(crate) struct MostRecentlyUsed<K, V> {
    entries: Mutex<Vec<(K, Arc<V>)>>,
    capacity: usize,
}

impl<K: PartialEq, V> MostRecentlyUsed<K, V> {
    /// An empty list that keeps at most `capacity` values.
    pub(crate) const fn new(capacity: usize) -> Self {
        Self {
            entries: Mutex::new(Vec::new()),
            capacity,
        }
    }

    /// The value under `key`, if kept; it becomes the most recently used.
    pub(crate) fn get(&self, key: &K) -> Option<Arc<V>> {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let found = entries.iter().position(|(k, _)| k == key)?;
        entries[..=found].rotate_right(1);
        entries.first().map(|(_, v)| Arc::clone(v))
    }

    /// The value under `key`, or `make()` kept under it; either way the most recently used.
    /// `make` runs outside the lock; if another thread kept a value under `key` meanwhile, that
    /// one is returned (one copy per key).
    pub(crate) fn get_or_insert_with(&self, key: K, make: impl FnOnce() -> V) -> Arc<V> {
        if let Some(found) = self.get(&key) {
            return found;
        }
        let made = Arc::new(make());
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(found) = entries.iter().position(|(k, _)| *k == key) {
            entries[..=found].rotate_right(1);
            return Arc::clone(&entries[0].1);
        }
        entries.insert(0, (key, Arc::clone(&made)));
        entries.truncate(self.capacity);
        made
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_most_recently_used_and_one_copy_per_key() {
        let cache: MostRecentlyUsed<u8, String> = MostRecentlyUsed::new(2);
        let a = cache.get_or_insert_with(1, || "a".into());
        let again = cache.get_or_insert_with(1, || "other".into());
        assert!(Arc::ptr_eq(&a, &again));
        cache.get_or_insert_with(2, || "b".into());
        // 1 is used again, so 2 is the least recently used when 3 arrives.
        assert_eq!(cache.get(&1).as_deref().map(String::as_str), Some("a"));
        cache.get_or_insert_with(3, || "c".into());
        assert_eq!(cache.get(&2), None);
        assert_eq!(cache.get(&1).as_deref().map(String::as_str), Some("a"));
        assert_eq!(cache.get(&3).as_deref().map(String::as_str), Some("c"));
    }
}
