//! The demo's readable timeline: one line per thing that happened, with the wall-clock time and
//! the time since the demo started. Never a secret: tokens, nonces and `interact_ref`s are not
//! printed, URLs go through [`display_url`](crate::cli::browser::display_url).

use std::collections::HashMap;
use std::fmt::Display;
use std::io::Write;
use std::sync::Mutex;
use std::time::Instant;

use chrono::Utc;
use grantflow_driver::GrantChange;
use grantflow_machine::StateKind;
use grantflow_store::GrantId;

/// Prints timeline lines and remembers each grant's label and last state.
#[derive(Debug)]
pub struct Timeline {
    start: Instant,
    /// Label and last printed state per grant, so transitions print as `from → to`.
    grants: Mutex<HashMap<GrantId, (String, Option<StateKind>)>>,
    /// The label of the grant about to be requested: its first transitions are printed before
    /// its id is known to the caller.
    pending_label: Mutex<Option<String>>,
    /// The highest version printed per grant, and a signal when it moves, so the demo can wait
    /// for the printer before it prints what follows (keeps the lines in causal order).
    printed: Mutex<HashMap<GrantId, i64>>,
    moved: tokio::sync::Notify,
}

impl Timeline {
    /// A timeline starting now.
    pub fn new() -> Self {
        Self {
            start: Instant::now(),
            grants: Mutex::new(HashMap::new()),
            pending_label: Mutex::new(None),
            printed: Mutex::new(HashMap::new()),
            moved: tokio::sync::Notify::new(),
        }
    }

    /// Seconds since the start.
    pub fn elapsed(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    /// One line: `HH:MM:SS.mmmZ  +S.SSSs  text` (the time of day in UTC, said with its zone).
    pub fn line(&self, text: impl Display) {
        let stamp = Utc::now().format("%H:%M:%S%.3fZ");
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{stamp}  +{:>6.3}s  {text}", self.elapsed());
        let _ = out.flush();
    }

    /// A step heading.
    pub fn step(&self, number: usize, title: &str) {
        println!();
        self.line(format_args!("── step {number}: {title}"));
    }

    /// Names the next grant seen for the first time (the one about to be requested).
    pub fn expect(&self, label: &str) {
        if let Ok(mut pending) = self.pending_label.lock() {
            *pending = Some(label.to_owned());
        }
    }

    /// Names a grant for its later lines, with its state when it was created.
    pub fn label(&self, id: GrantId, label: &str, kind: StateKind) {
        if let Ok(mut grants) = self.grants.lock() {
            grants
                .entry(id)
                .and_modify(|(l, _)| *l = label.to_owned())
                .or_insert((label.to_owned(), Some(kind)));
        }
    }

    /// The short name of a grant: the first 8 characters of its id and its label.
    pub fn name(&self, id: GrantId) -> String {
        let label = self
            .grants
            .lock()
            .ok()
            .and_then(|g| g.get(&id).map(|(l, _)| l.clone()))
            .unwrap_or_default();
        format!("grant {} {label}", short(id))
    }

    /// A state transition seen by `worker`. A change to the same state (a call recorded as in
    /// flight, a lease renewal's write) prints nothing.
    pub fn transition(&self, worker: &str, change: &GrantChange) {
        let previous = match self.grants.lock() {
            Ok(mut grants) => {
                let entry = grants.entry(change.grant).or_insert_with(|| {
                    let label = self
                        .pending_label
                        .lock()
                        .ok()
                        .and_then(|mut p| p.take())
                        .unwrap_or_default();
                    (label, None)
                });
                entry.1.replace(change.kind)
            }
            Err(_) => None,
        };
        let mark = |this: &Self| {
            if let Ok(mut printed) = this.printed.lock() {
                let v = printed.entry(change.grant).or_insert(0);
                *v = (*v).max(change.version);
            }
            this.moved.notify_waiters();
        };
        if previous == Some(change.kind) {
            mark(self);
            return;
        }
        let from = previous.map_or_else(String::new, |k| format!("{k} → "));
        self.line(format_args!(
            "   {}  {from}{}   [{worker}, v{}]",
            self.name(change.grant),
            change.kind,
            change.version
        ));
        mark(self);
    }

    /// Waits (at most a second) until the printer has shown `grant` at `version` or later.
    pub async fn caught_up(&self, grant: GrantId, version: i64) {
        let wait = async {
            loop {
                let moved = self.moved.notified();
                let printed = self
                    .printed
                    .lock()
                    .map(|p| p.get(&grant).copied().unwrap_or(0))
                    .unwrap_or(i64::MAX);
                if printed >= version {
                    return;
                }
                moved.await;
            }
        };
        let _ = tokio::time::timeout(std::time::Duration::from_secs(1), wait).await;
    }
}

/// The first 8 characters of a grant id.
pub fn short(id: GrantId) -> String {
    id.to_string().chars().take(8).collect()
}
