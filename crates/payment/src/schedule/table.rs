//! The schedule's transition table: every edge the schedule machine can take, one line each, and
//! the diagram generated from it (`docs/schedule.md`, kept in sync by a test). The same shape as
//! the payment's table ([`crate::table`]): the dispatcher refuses any `(state, event)` pair
//! without a line here, and every transition names its edge.

use super::kind::{ScheduleEventKind, ScheduleStateKind};
use crate::edges::{self, Row, transition_table};

/// One edge of the schedule machine: `from --(event, when)--> to`, named by [`ScheduleEdge`].
pub type ScheduleTransitionEdge = Row<ScheduleEdge, ScheduleStateKind, ScheduleEventKind>;

transition_table! {
    machine: "schedule", edge: ScheduleEdge, state: ScheduleStateKind, event: ScheduleEventKind;
    Scheduled:                Initial --Order--> Waiting, "a grant is given: wait for the first occurrence";
    ScheduledNeedsConsent:    Initial --Order--> AwaitingConsent, "no grant yet: request one";
    NoOccurrence:             Initial --Order--> Completed, "the cadence has no occurrence between start and end";
    // Waiting for the next occurrence.
    OccurrenceDue:            Waiting --Wake--> Paying, "an occurrence came due at most max_catch_up ago: commit its key, pay (older ones skipped)";
    TooLateSkipped:           Waiting --Wake--> Waiting, "every due occurrence is older than max_catch_up: skipped, wait for the next";
    NothingLeft:              Waiting --Wake--> Completed, "no occurrence left (older ones skipped)";
    PausedWhileWaiting:       Waiting --Pause--> Paused, "pause";
    CanceledWhileWaiting:     Waiting --Cancel--> Canceled, "cancel";
    GrantEndedWhileWaiting:   Waiting --GrantEnded--> AwaitingConsent, "the grant ended: request a new one with the same access";
    // Paying one occurrence (its payment's key committed before the payment is made).
    PayAgain:                 Paying --Wake--> Paying, "no outcome yet: ask again with the same key (a crash made nothing twice)";
    PaidNext:                 Paying --Paid--> Waiting, "recorded paid: wait for the next occurrence";
    PaidThenPaused:           Paying --Paid--> Paused, "recorded paid: pause, as asked meanwhile";
    PaidThenConsent:          Paying --Paid--> AwaitingConsent, "recorded paid; the grant ended meanwhile: request a new one";
    PaidLast:                 Paying --Paid--> Completed, "recorded paid: it was the last occurrence";
    FailedNext:               Paying --PaymentFailed--> Waiting, "recorded failed or unknown (never paid again): wait for the next occurrence";
    FailedThenPaused:         Paying --PaymentFailed--> Paused, "recorded failed or unknown: pause, as asked meanwhile";
    FailedThenConsent:        Paying --PaymentFailed--> AwaitingConsent, "the grant can pay no more: request a new one (the occurrence is paid again under it only if nothing was paid)";
    FailedLast:               Paying --PaymentFailed--> Completed, "recorded failed or unknown: it was the last occurrence";
    PauseAfterPayment:        Paying --Pause--> Paying, "pause once the payment ends";
    ResumeBeforePause:        Paying --Resume--> Paying, "a pause was asked: forget it";
    CanceledWhilePaying:      Paying --Cancel--> Canceled, "cancel: the payment in flight runs to its own end";
    GrantEndedWhilePaying:    Paying --GrantEnded--> Paying, "noted: the payment's outcome decides, then a new grant is requested";
    // Paused: occurrences that come due are skipped.
    PausedSkip:               Paused --Wake--> Paused, "an occurrence came due: recorded skipped";
    PausedToEnd:              Paused --Wake--> Completed, "no occurrence left (the due ones skipped)";
    Resumed:                  Paused --Resume--> Waiting, "occurrences due meanwhile skipped: wait for the next";
    ResumedNeedsConsent:      Paused --Resume--> AwaitingConsent, "the grant ended while paused: request a new one";
    CanceledWhilePaused:      Paused --Cancel--> Canceled, "cancel";
    GrantEndedWhilePaused:    Paused --GrantEnded--> Paused, "noted: a new grant is requested on resume";
    // Awaiting a new grant (the user's consent).
    ConsentCheck:             AwaitingConsent --Wake--> AwaitingConsent, "look at the grant request again (same key)";
    ConsentOutlived:          AwaitingConsent --Wake--> Completed, "every occurrence left is older than max_catch_up: skipped";
    ConsentGiven:             AwaitingConsent --ConsentGiven--> Waiting, "the new grant is issued: catch up by the rule, then wait";
    ConsentAskedAgain:        AwaitingConsent --ConsentRefused--> AwaitingConsent, "the request ended without a grant (expired, lost, failed): request again";
    ConsentDeclined:          AwaitingConsent --ConsentRefused--> Stopped, "the user declined the new grant";
    ConsentNotGiven:          AwaitingConsent --ConsentRefused--> Stopped, "max_consent_requests requests in a row ended without a grant";
    CanceledAwaitingConsent:  AwaitingConsent --Cancel--> Canceled, "cancel, and cancel the grant request";
}

/// Whether the table has any edge for `event` in state `from`.
pub fn accepts(from: ScheduleStateKind, event: ScheduleEventKind) -> bool {
    edges::accepts(TRANSITIONS, from, event)
}

/// The Mermaid `stateDiagram-v2` source of [`TRANSITIONS`].
pub fn mermaid() -> String {
    edges::mermaid(
        TRANSITIONS,
        ScheduleStateKind::Initial,
        ScheduleStateKind::ALL.into_iter().filter(|s| s.is_final()),
    )
}

/// The full text of `docs/schedule.md`: the rules, the diagram and the table, generated.
pub fn diagram_markdown() -> String {
    let mut out = String::from("# The recurring schedule machine\n\n");
    out.push_str(
        "<!-- Generated from grantflow_payment::schedule::TRANSITIONS by `GRANTFLOW_BLESS=1 cargo test -p grantflow-payment --test schedule diagram`. Do not edit by hand: the test fails when this file and the table differ. -->\n\n",
    );
    out.push_str(
        "`grantflow_payment::schedule::transition(state, event, now, config)` is the whole life of \
         a recurring payment: one payment per occurrence of its cadence (every window of the \
         grant's `limits.interval`, or its own repeating interval), from its start to its end. \
         Every transition names the edge below that it followed; events with no edge for a state \
         are refused with a typed error and change nothing; `Completed`, `Canceled` and `Stopped` \
         absorb every event; every other state but `Initial` has a `next_wake_at`.\n\n\
         The rules:\n\n\
         - **One key per occurrence.** The decision to pay occurrence `i` is committed with its \
         payment's idempotency key `schedule/<id>/<i>` before the payment is made; a crash \
         anywhere after re-sends the same key, and the engine finds the payment instead of making \
         another. A second key (`schedule/<id>/<i>/2`) is used only when the first payment proved \
         that nothing was paid and the grant could pay no more.\n\
         - **Catch-up.** When the schedule gets to an occurrence late (downtime, a wait for \
         consent), it is paid once if it came due at most `max_catch_up` ago; older ones are \
         skipped and recorded as skipped, never paid.\n\
         - **Failures.** A payment that failed with nothing paid is recorded failed; one whose \
         outcome is unknown (a create may have acted) is recorded unknown. Neither is paid again.\n\
         - **Consent.** When the grant ends (revoked, lost, its token no longer rotatable, its \
         series over), the schedule requests a new grant with the same access (the user gets a \
         new redirect) and resumes, by the catch-up rule, once it is issued. A user who declines \
         stops the schedule; so do `max_consent_requests` requests in a row that end without a \
         grant.\n\
         - **Pause.** Occurrences that come due while paused are skipped. A pause asked while \
         an occurrence is being paid takes effect once that payment ends.\n\n",
    );
    out.push_str("```mermaid\n");
    out.push_str(&mermaid());
    out.push_str("```\n\n");
    out.push_str(&edges::markdown_rows(TRANSITIONS));
    out
}
