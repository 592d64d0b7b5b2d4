//! The schedule's transition function: `(state, event, now) -> Result<ScheduleTransition>`.
//!
//! [`transition`] refuses every `(state, event)` pair the table has no edge for, then hands the
//! event to the function of the state, which names the [`ScheduleEdge`] it follows. What the
//! states share: recording occurrences (`Progress::record`, `skip_to`), deciding to pay
//! (`pay`), requesting a grant (`request_consent`), and where a schedule goes once an
//! occurrence's payment ended (`settle`).

use chrono::{DateTime, TimeDelta, Utc};

use super::cadence::{Plan, before};
use super::config::ScheduleConfig;
use super::error::{OrderProblem, ScheduleError};
use super::event::{FailureClass, ScheduleEffect, ScheduleEvent};
use super::kind::{ScheduleEventKind, ScheduleStateKind};
use super::order::{consent_key, payment_key};
use super::state::{
    AwaitingConsent, Canceled, Completed, OccurrenceRecord, Paused, Paying, Progress,
    ScheduleState, SkipReason, StopReason, Stopped, Tally, Waiting,
};
use super::table::{self, ScheduleEdge};
use crate::event::GrantEnd;

/// The result of a transition: the edge followed, the new state, what to do, and what became of
/// occurrences.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleTransition {
    /// The edge of [`TRANSITIONS`](super::TRANSITIONS) followed.
    pub edge: ScheduleEdge,
    /// The new state. Commit it (with the event) before acting on the effect.
    pub state: ScheduleState,
    /// What to do.
    pub effect: Option<ScheduleEffect>,
    /// The occurrences recorded by this transition (paid, failed, unknown, skipped), for the
    /// change feed; the state keeps the newest of them and the counts.
    pub records: Vec<OccurrenceRecord>,
}

impl ScheduleTransition {
    fn with(mut self, effect: ScheduleEffect) -> Self {
        self.effect = Some(effect);
        self
    }

    /// When the schedule next needs a [`ScheduleEvent::Wake`].
    pub fn next_wake_at(&self) -> Option<DateTime<Utc>> {
        self.state.next_wake_at()
    }
}

/// Applies `event` to `state` at `now`.
///
/// Pure and total: no I/O, no clock, no panics; the same inputs always give the same output. An
/// invalid event gives a [`ScheduleError`] and changes nothing.
///
/// ```
/// use std::sync::Arc;
/// use chrono::{TimeZone, Utc};
/// use grantflow_interval::{Amount, Reading};
/// use grantflow_payment::{PaymentAmount, PaymentOrder};
/// use grantflow_payment::schedule::*;
///
/// let start = Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap();
/// let order = Arc::new(ScheduleOrder {
///     payment: Arc::new(PaymentOrder {
///         wallet_address: "https://rs.example/alice".into(),
///         receiver: "https://rs.example/bob/incoming-payments/1".into(),
///         amount: PaymentAmount::Debit(Amount::new(500, "USD", 2)),
///         metadata: None,
///     }),
///     cadence: Cadence::Interval { interval: "R/2026-12-01T09:00:00Z/P1D".parse()?, reading: Reading::Iso8601 },
///     start,
///     end: None,
/// });
/// let config = ScheduleConfig::default();
/// let event = ScheduleEvent::Order { schedule: "s1".into(), order, grant: Some("g1".into()) };
/// let t = transition(&ScheduleState::Initial, event, start, &config)?;
/// assert_eq!(t.edge, ScheduleEdge::Scheduled);
/// let t = transition(&t.state, ScheduleEvent::Wake, start, &config)?;
/// assert_eq!(t.edge, ScheduleEdge::OccurrenceDue);
/// assert!(matches!(t.effect, Some(ScheduleEffect::Pay { ref key, .. }) if key == "schedule/s1/0"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn transition(
    state: &ScheduleState,
    event: ScheduleEvent,
    now: DateTime<Utc>,
    config: &ScheduleConfig,
) -> Result<ScheduleTransition, ScheduleError> {
    let state_kind = state.kind();
    let event_kind = event.kind();
    if !table::accepts(state_kind, event_kind) {
        return Err(refusal(state_kind, event_kind));
    }
    let cx = Cx { now, config };
    let t = match state {
        ScheduleState::Initial => order(event, cx),
        ScheduleState::Waiting(s) => waiting(s, event, cx),
        ScheduleState::Paying(s) => paying(s, event, cx),
        ScheduleState::Paused(s) => paused(s, event, cx),
        ScheduleState::AwaitingConsent(s) => awaiting_consent(s, event, cx),
        ScheduleState::Completed(_) | ScheduleState::Canceled(_) | ScheduleState::Stopped(_) => {
            Err(refusal(state_kind, event_kind))
        }
    }?;
    debug_assert!(
        t.edge.connects(state_kind, event_kind, t.state.kind()),
        "{state_kind} --{event_kind}--> {} is not the edge {}",
        t.state.kind(),
        t.edge
    );
    Ok(t)
}

/// The typed error for an event the table has no edge for in this state.
fn refusal(state: ScheduleStateKind, event: ScheduleEventKind) -> ScheduleError {
    if event == ScheduleEventKind::Order && state != ScheduleStateKind::Initial {
        return ScheduleError::AlreadyOrdered { state };
    }
    if state == ScheduleStateKind::Initial {
        return ScheduleError::NotOrdered { event };
    }
    if state.is_final() {
        return ScheduleError::Final { state, event };
    }
    ScheduleError::NotNow { state, event }
}

/// What every state function needs besides the state and the event.
#[derive(Clone, Copy)]
struct Cx<'a> {
    now: DateTime<Utc>,
    config: &'a ScheduleConfig,
}

impl Cx<'_> {
    fn after(&self, delta: TimeDelta) -> DateTime<Utc> {
        self.now
            .checked_add_signed(delta)
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }

    /// The first instant after `now`: occurrences due before it came due by now.
    fn just_after_now(&self) -> DateTime<Utc> {
        self.after(TimeDelta::nanoseconds(1))
    }
}

/// A transition being built: the progress it changes and the records it makes.
struct Step {
    progress: Progress,
    records: Vec<OccurrenceRecord>,
}

impl Step {
    fn new(progress: &Progress) -> Self {
        Self {
            progress: progress.clone(),
            records: Vec::new(),
        }
    }

    /// Records what became of an occurrence (or a run of skipped ones).
    fn record(&mut self, record: OccurrenceRecord, cx: Cx<'_>) {
        let tally = &mut self.progress.tally;
        match &record {
            OccurrenceRecord::Paid { .. } => tally.paid = tally.paid.saturating_add(1),
            OccurrenceRecord::Failed { .. } => tally.failed = tally.failed.saturating_add(1),
            OccurrenceRecord::Unknown { .. } => tally.unknown = tally.unknown.saturating_add(1),
            OccurrenceRecord::Skipped { from, to, .. } => {
                tally.skipped = tally.skipped.saturating_add(to.saturating_sub(*from));
            }
        }
        let recent = &mut self.progress.recent;
        recent.push_back(record.clone());
        while recent.len() > cx.config.history {
            recent.pop_front();
        }
        self.records.push(record);
    }

    /// Skips the occurrences from `progress.next` up to `to` (exclusive), if any.
    fn skip_to(&mut self, to: u64, reason: SkipReason, cx: Cx<'_>) {
        let from = self.progress.next;
        if to > from {
            self.record(OccurrenceRecord::Skipped { from, to, reason }, cx);
            self.progress.next = to;
            self.progress.attempts = 0;
        }
    }

    /// Skips every occurrence left.
    fn skip_rest(&mut self, reason: SkipReason, cx: Cx<'_>) {
        let to = self.progress.plan.end_index().unwrap_or(self.progress.next);
        self.skip_to(to, reason, cx);
    }

    /// The occurrence being paid is done with: on to the next.
    fn advance(&mut self) {
        self.progress.next = self.progress.next.saturating_add(1);
        self.progress.attempts = 0;
    }

    /// The transition along `edge` to the state `make` builds from the progress.
    fn into(
        self,
        edge: ScheduleEdge,
        make: impl FnOnce(Progress) -> ScheduleState,
    ) -> ScheduleTransition {
        ScheduleTransition {
            edge,
            state: make(self.progress),
            effect: None,
            records: self.records,
        }
    }

    /// `Canceled` along `edge`.
    fn canceled(self, edge: ScheduleEdge, payment_in_flight: Option<String>) -> ScheduleTransition {
        self.into(edge, |progress| {
            ScheduleState::Canceled(Canceled {
                progress,
                payment_in_flight,
            })
        })
    }

    /// Waiting for occurrence `progress.next` (at once when it has none: the wake completes it).
    fn waiting(self, edge: ScheduleEdge, cx: Cx<'_>) -> ScheduleTransition {
        let wake_at = self.due_or_now(cx);
        self.into(edge, |progress| {
            ScheduleState::Waiting(Waiting { progress, wake_at })
        })
    }

    fn paused(self, edge: ScheduleEdge, cx: Cx<'_>) -> ScheduleTransition {
        let wake_at = self.due_or_now(cx);
        self.into(edge, |progress| {
            ScheduleState::Paused(Paused { progress, wake_at })
        })
    }

    fn completed(self, edge: ScheduleEdge) -> ScheduleTransition {
        self.into(edge, |progress| {
            ScheduleState::Completed(Completed { progress })
        })
    }

    fn due_or_now(&self, cx: Cx<'_>) -> DateTime<Utc> {
        self.progress
            .plan
            .occurrence(self.progress.next)
            .map_or(cx.now, |o| o.due_at)
    }

    /// Decides to pay `progress.next` now: its key is in the state committed before the payment.
    fn pay(mut self, edge: ScheduleEdge, cx: Cx<'_>) -> ScheduleTransition {
        let p = &mut self.progress;
        let occurrence = p.plan.occurrence(p.next);
        p.attempts = p.attempts.saturating_add(1);
        let key = payment_key(&p.schedule, p.next, p.attempts);
        let Some(occurrence) = occurrence else {
            // Not reached: callers pay only an occurrence they found. Total all the same.
            return self.completed(ScheduleEdge::NothingLeft);
        };
        let effect = ScheduleEffect::Pay {
            // Waiting is entered only with a grant (the order's, or one issued since).
            grant: p.grant.clone().unwrap_or_default(),
            key: key.clone(),
            occurrence,
            order: p.order.payment.clone(),
        };
        self.into(edge, |progress| {
            ScheduleState::Paying(Paying {
                progress,
                occurrence,
                key,
                wake_at: cx.after(cx.config.payment_check),
                pause_requested: false,
            })
        })
        .with(effect)
    }

    /// Requests a grant (the `in_a_row`-th in a row).
    fn request_consent(
        mut self,
        edge: ScheduleEdge,
        in_a_row: u32,
        cx: Cx<'_>,
    ) -> ScheduleTransition {
        let p = &mut self.progress;
        p.consents = p.consents.saturating_add(1);
        let key = consent_key(&p.schedule, p.consents);
        let effect = ScheduleEffect::RequestConsent {
            key: key.clone(),
            previous: p.grant.clone(),
            ended: p.grant_ended,
        };
        self.into(edge, |progress| {
            ScheduleState::AwaitingConsent(AwaitingConsent {
                progress,
                key,
                in_a_row,
                wake_at: cx.after(cx.config.consent_check),
            })
        })
        .with(effect)
    }

    /// Where a schedule goes once an occurrence's payment ended (or needs a new grant): the
    /// edges for Waiting, Paused, AwaitingConsent and Completed, in that order.
    fn settle(
        self,
        pause_requested: bool,
        [next, paused, consent, last]: [ScheduleEdge; 4],
        cx: Cx<'_>,
    ) -> ScheduleTransition {
        if self.progress.plan.occurrence(self.progress.next).is_none() {
            self.completed(last)
        } else if self.progress.grant_ended.is_some() {
            self.request_consent(consent, 1, cx)
        } else if pause_requested {
            self.paused(paused, cx)
        } else {
            self.waiting(next, cx)
        }
    }
}

/// `Initial`: the order.
fn order(event: ScheduleEvent, cx: Cx<'_>) -> Result<ScheduleTransition, ScheduleError> {
    let ScheduleEvent::Order {
        schedule,
        order,
        grant,
    } = event
    else {
        return Err(ScheduleError::NotOrdered {
            event: event.kind(),
        });
    };
    if schedule.is_empty() || schedule.contains('/') {
        return Err(OrderProblem::ScheduleId { id: schedule }.into());
    }
    if let Some(end) = order.end.filter(|end| *end <= order.start) {
        return Err(OrderProblem::EndBeforeStart {
            start: order.start,
            end,
        }
        .into());
    }
    let plan = Plan {
        series: order.cadence.series()?,
        reading: order.cadence.reading(),
        start: order.start,
        end: order.end,
    };
    let first = plan.first();
    let has_grant = grant.is_some();
    let step = Step {
        progress: Progress {
            schedule,
            order,
            plan,
            grant,
            grant_ended: None,
            next: first.unwrap_or(0),
            attempts: 0,
            consents: 0,
            tally: Tally::default(),
            recent: Default::default(),
        },
        records: Vec::new(),
    };
    Ok(match first {
        None => step.completed(ScheduleEdge::NoOccurrence),
        Some(_) if has_grant => step.waiting(ScheduleEdge::Scheduled, cx),
        Some(_) => step.request_consent(ScheduleEdge::ScheduledNeedsConsent, 1, cx),
    })
}

/// `Waiting`: the catch-up rule when an occurrence comes due; pause, cancel, the grant's end.
fn waiting(
    s: &Waiting,
    event: ScheduleEvent,
    cx: Cx<'_>,
) -> Result<ScheduleTransition, ScheduleError> {
    let mut step = Step::new(&s.progress);
    Ok(match event {
        ScheduleEvent::Wake => {
            if cx.now < s.wake_at {
                return Err(ScheduleError::NotDue { wake_at: s.wake_at });
            }
            let cutoff = before(cx.now, cx.config.max_catch_up);
            let plan = step.progress.plan;
            match plan.first_due_from(step.progress.next, cutoff) {
                None => {
                    step.skip_rest(SkipReason::TooLate, cx);
                    step.completed(ScheduleEdge::NothingLeft)
                }
                Some(o) if o.due_at > cx.now => {
                    if o.index == step.progress.next {
                        return Err(ScheduleError::NotDue { wake_at: o.due_at });
                    }
                    step.skip_to(o.index, SkipReason::TooLate, cx);
                    step.waiting(ScheduleEdge::TooLateSkipped, cx)
                }
                Some(o) => {
                    step.skip_to(o.index, SkipReason::TooLate, cx);
                    step.pay(ScheduleEdge::OccurrenceDue, cx)
                }
            }
        }
        ScheduleEvent::Pause => step.paused(ScheduleEdge::PausedWhileWaiting, cx),
        ScheduleEvent::Cancel => step.canceled(ScheduleEdge::CanceledWhileWaiting, None),
        ScheduleEvent::GrantEnded { end } => {
            step.progress.grant_ended = Some(end);
            step.request_consent(ScheduleEdge::GrantEndedWhileWaiting, 1, cx)
        }
        other => return Err(refusal(ScheduleStateKind::Waiting, other.kind())),
    })
}

/// `Paying`: the payment's outcome, asking again, and what the application asks meanwhile.
fn paying(
    s: &Paying,
    event: ScheduleEvent,
    cx: Cx<'_>,
) -> Result<ScheduleTransition, ScheduleError> {
    let mut step = Step::new(&s.progress);
    let stale = |key: &str| {
        (key != s.key).then(|| ScheduleError::StalePayment {
            expected: s.key.clone(),
            got: key.to_owned(),
        })
    };
    let still = |step: Step, edge, pause_requested| {
        step.into(edge, |progress| {
            ScheduleState::Paying(Paying {
                progress,
                pause_requested,
                ..s.clone()
            })
        })
    };
    Ok(match event {
        ScheduleEvent::Wake => {
            if cx.now < s.wake_at {
                return Err(ScheduleError::NotDue { wake_at: s.wake_at });
            }
            step.into(ScheduleEdge::PayAgain, |progress| {
                ScheduleState::Paying(Paying {
                    progress,
                    wake_at: cx.after(cx.config.payment_check),
                    ..s.clone()
                })
            })
            .with(ScheduleEffect::Pay {
                grant: s.progress.grant.clone().unwrap_or_default(),
                key: s.key.clone(),
                occurrence: s.occurrence,
                order: s.progress.order.payment.clone(),
            })
        }
        ScheduleEvent::Paid { key, payment } => {
            if let Some(e) = stale(&key) {
                return Err(e);
            }
            let occurrence = s.occurrence.index;
            step.record(
                OccurrenceRecord::Paid {
                    occurrence,
                    key,
                    payment,
                },
                cx,
            );
            step.advance();
            step.settle(
                s.pause_requested,
                [
                    ScheduleEdge::PaidNext,
                    ScheduleEdge::PaidThenPaused,
                    ScheduleEdge::PaidThenConsent,
                    ScheduleEdge::PaidLast,
                ],
                cx,
            )
        }
        ScheduleEvent::PaymentFailed { key, failure } => {
            if let Some(e) = stale(&key) {
                return Err(e);
            }
            let occurrence = s.occurrence.index;
            let reason = failure.to_string();
            match FailureClass::of(&failure) {
                FailureClass::NeedsConsent(end) => {
                    // Nothing was paid: the occurrence is paid again, under a new key, once a new
                    // grant is issued (if it is still within reach then).
                    step.progress.grant_ended = Some(end);
                    return Ok(step.request_consent(ScheduleEdge::FailedThenConsent, 1, cx));
                }
                FailureClass::MaybePaid(end) => {
                    step.record(
                        OccurrenceRecord::Unknown {
                            occurrence,
                            key,
                            reason,
                        },
                        cx,
                    );
                    if end.is_some() {
                        step.progress.grant_ended = end;
                    }
                }
                FailureClass::NothingPaid => step.record(
                    OccurrenceRecord::Failed {
                        occurrence,
                        key,
                        reason,
                    },
                    cx,
                ),
            }
            step.advance();
            step.settle(
                s.pause_requested,
                [
                    ScheduleEdge::FailedNext,
                    ScheduleEdge::FailedThenPaused,
                    ScheduleEdge::FailedThenConsent,
                    ScheduleEdge::FailedLast,
                ],
                cx,
            )
        }
        ScheduleEvent::Pause => still(step, ScheduleEdge::PauseAfterPayment, true),
        ScheduleEvent::Resume => {
            if !s.pause_requested {
                return Err(refusal(
                    ScheduleStateKind::Paying,
                    ScheduleEventKind::Resume,
                ));
            }
            still(step, ScheduleEdge::ResumeBeforePause, false)
        }
        ScheduleEvent::Cancel => {
            step.canceled(ScheduleEdge::CanceledWhilePaying, Some(s.key.clone()))
        }
        ScheduleEvent::GrantEnded { end } => {
            step.progress.grant_ended = Some(end);
            still(step, ScheduleEdge::GrantEndedWhilePaying, s.pause_requested)
        }
        other => return Err(refusal(ScheduleStateKind::Paying, other.kind())),
    })
}

/// `Paused`: occurrences that come due are skipped; resume, cancel, the grant's end.
fn paused(
    s: &Paused,
    event: ScheduleEvent,
    cx: Cx<'_>,
) -> Result<ScheduleTransition, ScheduleError> {
    let mut step = Step::new(&s.progress);
    // The first occurrence not yet due; the ones before it came due while paused.
    let upcoming = step
        .progress
        .plan
        .first_due_from(step.progress.next, cx.just_after_now());
    Ok(match event {
        ScheduleEvent::Wake => {
            if cx.now < s.wake_at {
                return Err(ScheduleError::NotDue { wake_at: s.wake_at });
            }
            match upcoming {
                None => {
                    step.skip_rest(SkipReason::Paused, cx);
                    step.completed(ScheduleEdge::PausedToEnd)
                }
                Some(o) => {
                    if o.index == step.progress.next {
                        return Err(ScheduleError::NotDue { wake_at: o.due_at });
                    }
                    step.skip_to(o.index, SkipReason::Paused, cx);
                    step.paused(ScheduleEdge::PausedSkip, cx)
                }
            }
        }
        ScheduleEvent::Resume => match upcoming {
            // Nothing left: waiting completes it at once, without asking for a grant.
            None => {
                step.skip_rest(SkipReason::Paused, cx);
                step.waiting(ScheduleEdge::Resumed, cx)
            }
            Some(o) => {
                step.skip_to(o.index, SkipReason::Paused, cx);
                if step.progress.grant_ended.is_some() {
                    step.request_consent(ScheduleEdge::ResumedNeedsConsent, 1, cx)
                } else {
                    step.waiting(ScheduleEdge::Resumed, cx)
                }
            }
        },
        ScheduleEvent::Cancel => step.canceled(ScheduleEdge::CanceledWhilePaused, None),
        ScheduleEvent::GrantEnded { end } => {
            step.progress.grant_ended = Some(end);
            step.into(ScheduleEdge::GrantEndedWhilePaused, |progress| {
                ScheduleState::Paused(Paused {
                    progress,
                    wake_at: s.wake_at,
                })
            })
        }
        other => return Err(refusal(ScheduleStateKind::Paused, other.kind())),
    })
}

/// `AwaitingConsent`: the grant request's outcome, looking at it again, cancel.
fn awaiting_consent(
    s: &AwaitingConsent,
    event: ScheduleEvent,
    cx: Cx<'_>,
) -> Result<ScheduleTransition, ScheduleError> {
    let mut step = Step::new(&s.progress);
    let stale = |key: &str| {
        (key != s.key).then(|| ScheduleError::StaleConsent {
            expected: s.key.clone(),
            got: key.to_owned(),
        })
    };
    Ok(match event {
        ScheduleEvent::Wake => {
            if cx.now < s.wake_at {
                return Err(ScheduleError::NotDue { wake_at: s.wake_at });
            }
            let cutoff = before(cx.now, cx.config.max_catch_up);
            if step
                .progress
                .plan
                .first_due_from(step.progress.next, cutoff)
                .is_none()
            {
                step.skip_rest(SkipReason::NoConsent, cx);
                return Ok(step.completed(ScheduleEdge::ConsentOutlived));
            }
            step.into(ScheduleEdge::ConsentCheck, |progress| {
                ScheduleState::AwaitingConsent(AwaitingConsent {
                    progress,
                    wake_at: cx.after(cx.config.consent_check),
                    ..s.clone()
                })
            })
            .with(ScheduleEffect::RequestConsent {
                key: s.key.clone(),
                previous: s.progress.grant.clone(),
                ended: s.progress.grant_ended,
            })
        }
        ScheduleEvent::ConsentGiven { key, grant } => {
            if let Some(e) = stale(&key) {
                return Err(e);
            }
            step.progress.grant = Some(grant);
            step.progress.grant_ended = None;
            step.waiting(ScheduleEdge::ConsentGiven, cx)
        }
        ScheduleEvent::ConsentRefused { key, end } => {
            if let Some(e) = stale(&key) {
                return Err(e);
            }
            let stopped = |step: Step, edge, reason| {
                step.into(edge, |progress| {
                    ScheduleState::Stopped(Stopped { progress, reason })
                })
            };
            if end == GrantEnd::Rejected {
                stopped(step, ScheduleEdge::ConsentDeclined, StopReason::Declined)
            } else if s.in_a_row >= cx.config.max_consent_requests {
                stopped(
                    step,
                    ScheduleEdge::ConsentNotGiven,
                    StopReason::ConsentNotGiven {
                        requests: s.in_a_row,
                        end,
                    },
                )
            } else {
                step.request_consent(
                    ScheduleEdge::ConsentAskedAgain,
                    s.in_a_row.saturating_add(1),
                    cx,
                )
            }
        }
        ScheduleEvent::Cancel => step
            .canceled(ScheduleEdge::CanceledAwaitingConsent, None)
            .with(ScheduleEffect::CancelConsent { key: s.key.clone() }),
        other => return Err(refusal(ScheduleStateKind::AwaitingConsent, other.kind())),
    })
}
