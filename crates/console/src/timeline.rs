//! A grant's history replayed through the machine: for each recorded event the edge it took,
//! the call it made and the reason after it. Replay reproduces the stored state (the machine's
//! invariant), so this is what happened, not a guess.

use chrono::{DateTime, Utc};
use grantflow_driver::HistoryEntry;
use grantflow_machine::{Config, Edge, GrantIntent, GrantState, transition};
use std::sync::Arc;

use crate::describe;

/// One row of the timeline.
pub(crate) struct Step {
    /// The grant's version after it.
    pub version: i64,
    /// When it was recorded.
    pub at: DateTime<Utc>,
    /// The edge taken (`None` once replay stopped matching: see [`Timeline::replay_stopped`]).
    pub edge: Option<Edge>,
    /// What happened, when it was not a call's outcome.
    pub event: Option<String>,
    /// The authorization server's answer, when the event is a call's outcome.
    pub answer: Option<String>,
    /// The call this transition made.
    pub call: Option<String>,
    /// Why the grant failed, was lost, or a call keeps failing, after this step.
    pub reason: Option<String>,
}

/// A grant's timeline.
pub(crate) struct Timeline {
    /// Oldest first.
    pub steps: Vec<Step>,
    /// Why replay stopped matching the history, if it did (the page says so).
    pub replay_stopped: Option<String>,
    /// What the grant asked for (its first event).
    pub intent: Option<Arc<GrantIntent>>,
}

impl Timeline {
    /// Replays `history` (oldest first) with the engine's machine `config`.
    pub(crate) fn replay(history: &[HistoryEntry], config: &Config) -> Self {
        let mut state = Some(GrantState::Initial);
        let mut replay_stopped = None;
        let mut intent = None;
        let mut steps = Vec::with_capacity(history.len());
        for entry in history {
            if let grantflow_machine::Event::Request { intent: i } = &entry.event {
                intent.get_or_insert_with(|| i.clone());
            }
            let mut step = Step {
                version: entry.version,
                at: entry.at,
                edge: None,
                event: describe::event(&entry.event),
                answer: describe::answer(&entry.event),
                call: None,
                reason: None,
            };
            if let Some(before) = state.take() {
                match transition(&before, entry.event.clone(), entry.at, config) {
                    Ok(t) => {
                        step.edge = Some(t.edge);
                        step.call = t.effects.call_effect().and_then(describe::call);
                        step.reason = t.state.reason();
                        state = Some(t.state);
                    }
                    Err(e) => {
                        replay_stopped = Some(format!(
                            "version {} does not replay from {} ({e}): the machine's \
                             configuration changed since it was recorded",
                            entry.version,
                            before.kind()
                        ));
                    }
                }
            }
            steps.push(step);
        }
        Self {
            steps,
            replay_stopped,
            intent,
        }
    }

    /// The edges taken, in order.
    pub(crate) fn edges(&self) -> impl Iterator<Item = Edge> + '_ {
        self.steps.iter().filter_map(|s| s.edge)
    }
}
