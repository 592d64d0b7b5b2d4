//! The request journal: every request the sandbox received on a protocol route (the routes of
//! [`Route`]; not the `/_sandbox/` control API), in the order the sandbox finished with them:
//! which route, which grant, the status answered, whether the request changed the server's
//! state, whether the answer reached the client, and the faults applied.
//!
//! Tests read it ([`crate::SandboxHandle::journal`], `GET /_sandbox/journal`) to prove what the
//! authorization server did, for example that a grant the client gave up as lost was lost only
//! where the server acted on a request whose answer never arrived (`acted && !delivered`).
//!
//! Handlers say what they did with [`concerns`] and [`acted`]; the request middleware
//! (`intercept.rs`) collects those notes around each request with [`noting`] and records the
//! entry. The journal keeps the last [`JOURNAL_CAPACITY`] entries; `seq` keeps counting, so a
//! reader sees a gap when older entries were dropped.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::faults::Fault;
use crate::route::Route;

/// How many entries the journal keeps (the oldest are dropped first): about a day of a busy
/// test run, a few tens of megabytes at most.
pub const JOURNAL_CAPACITY: usize = 100_000;

/// One request the sandbox received on a protocol route.
///
/// As JSON (`GET /_sandbox/journal`), the field names are as below, `route` is the route's name
/// (e.g. `"token_rotate"`) and each fault is as in the fault API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalEntry {
    /// Position in the journal, from 1, in the order the sandbox finished with the requests.
    pub seq: u64,
    /// The sandbox time the request arrived at.
    pub received_at: DateTime<Utc>,
    /// The route the request matched.
    pub route: Route,
    /// The sandbox's id of the grant the request concerned (the grant it requested, continued
    /// or cancelled, the grant of the token it rotated, revoked or used), when it found one.
    /// An id that appears on no wire: it only groups a grant's entries.
    pub grant: Option<Uuid>,
    /// That grant's continue URI: how the client knows the grant.
    pub continue_uri: Option<String>,
    /// The HTTP status the sandbox answered (or would have, had the answer not been lost);
    /// `None` when the connection was dropped before the request was handled, or when the
    /// client went away before the answer.
    pub status: Option<u16>,
    /// The error code of an error answer (`too_fast`, `invalid_client`, ...), when it had one.
    pub error: Option<String>,
    /// Whether the request changed the sandbox's state (a grant created, continued, polled or
    /// revoked; a token issued, rotated or revoked; an interaction decided; a resource created).
    pub acted: bool,
    /// Whether the answer was sent to the client. `false` for a dropped connection, a lost
    /// response, a request cut by shutdown, or one whose client went away before the answer
    /// (it timed out: its entry has no `status`).
    pub delivered: bool,
    /// The faults applied to the request (see [`crate::Fault`]).
    pub faults: Vec<Fault>,
}

/// What the handler of one request noted about it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Notes {
    /// The grant the request concerned.
    pub grant: Option<Uuid>,
    /// Whether the request changed state.
    pub acted: bool,
}

/// Where a request's notes are collected while its handler runs.
pub(crate) type NoteCell = Arc<Mutex<Notes>>;

tokio::task_local! {
    /// The notes of the request being handled on this task (set by [`noting`]).
    static NOTES: NoteCell;
}

fn note(f: impl FnOnce(&mut Notes)) {
    // Outside a journaled request (the control API, the library's decide calls) there is
    // nothing to note.
    let _ = NOTES.try_with(|notes| f(&mut notes.lock().unwrap_or_else(|e| e.into_inner())));
}

/// Notes that the request being handled concerns `grant`.
pub(crate) fn concerns(grant: Uuid) {
    note(|n| n.grant = Some(grant));
}

/// Notes that the request being handled changed the state of (or created) `grant`.
pub(crate) fn acted(grant: Uuid) {
    note(|n| {
        n.grant = Some(grant);
        n.acted = true;
    });
}

/// Runs a request's handler and returns its output with what the handler noted.
#[cfg(test)]
pub(crate) async fn noting<F: Future>(handler: F) -> (F::Output, Notes) {
    noting_in(&NoteCell::default(), handler).await
}

/// [`noting`] into `notes`, which the caller can [`read`] even when the handler's future is
/// dropped before it finishes.
pub(crate) async fn noting_in<F: Future>(notes: &NoteCell, handler: F) -> (F::Output, Notes) {
    let output = NOTES.scope(notes.clone(), handler).await;
    (output, read(notes))
}

/// What was noted in `notes` so far.
pub(crate) fn read(notes: &NoteCell) -> Notes {
    *notes.lock().unwrap_or_else(|e| e.into_inner())
}

/// The journal, shared by the request middleware, the control API and the handle.
#[derive(Debug, Clone, Default)]
pub(crate) struct Journal {
    inner: Arc<Mutex<Entries>>,
}

#[derive(Debug, Default)]
struct Entries {
    entries: VecDeque<JournalEntry>,
    /// The `seq` of the last entry recorded (0: none yet).
    last_seq: u64,
}

impl Journal {
    fn lock(&self) -> MutexGuard<'_, Entries> {
        // Plain values, never left half-updated: a poisoned lock is still consistent.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records `entry` under the next `seq` (whatever `entry.seq` says) and returns that `seq`.
    pub fn record(&self, mut entry: JournalEntry) -> u64 {
        let mut journal = self.lock();
        journal.last_seq += 1;
        entry.seq = journal.last_seq;
        if journal.entries.len() >= JOURNAL_CAPACITY {
            journal.entries.pop_front();
        }
        journal.entries.push_back(entry);
        journal.last_seq
    }

    /// The entries after `seq` (all of them for 0), oldest first.
    pub fn since(&self, seq: u64) -> Vec<JournalEntry> {
        self.lock()
            .entries
            .iter()
            .filter(|e| e.seq > seq)
            .cloned()
            .collect()
    }

    /// Forgets every entry (`seq` keeps counting).
    pub fn clear(&self) {
        self.lock().entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(route: Route) -> JournalEntry {
        JournalEntry {
            seq: 0,
            received_at: DateTime::<Utc>::MIN_UTC,
            route,
            grant: None,
            continue_uri: None,
            status: Some(200),
            error: None,
            acted: false,
            delivered: true,
            faults: Vec::new(),
        }
    }

    #[test]
    fn entries_are_numbered_and_read_since_a_seq() {
        let j = Journal::default();
        assert_eq!(j.record(entry(Route::GrantRequest)), 1);
        assert_eq!(j.record(entry(Route::Continue)), 2);
        let after_first: Vec<_> = j.since(1).into_iter().map(|e| (e.seq, e.route)).collect();
        assert_eq!(after_first, [(2, Route::Continue)]);
        j.clear();
        assert!(j.since(0).is_empty());
        assert_eq!(j.record(entry(Route::Cancel)), 3);
    }

    #[tokio::test]
    async fn notes_are_collected_per_request_and_ignored_outside_one() {
        let grant = Uuid::new_v4();
        concerns(grant); // outside: no effect, no panic
        let ((), notes) = noting(async { concerns(grant) }).await;
        assert_eq!(
            notes,
            Notes {
                grant: Some(grant),
                acted: false
            }
        );
        let ((), notes) = noting(async {
            tokio::task::yield_now().await;
            acted(grant);
        })
        .await;
        assert!(notes.acted);
    }

    #[test]
    fn entry_json_names_the_route() {
        let json = serde_json::to_value(entry(Route::TokenRotate)).unwrap_or_default();
        assert_eq!(json["route"], "token_rotate");
        assert_eq!(json["delivered"], true);
    }
}
