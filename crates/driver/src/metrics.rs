//! The engine's metrics: their names, what they measure, and the functions that record them.
//!
//! The engine records through the facade of the [`metrics` crate](::metrics). Nothing is
//! exported unless the process installs a recorder (`grantflow worker` installs the Prometheus
//! exporter and serves it at `/metrics`, see [`crate::operations_router`]); without one, every
//! record is a no-op costing an atomic load, so an application embedding the engine pays nothing
//! for metrics it does not collect, and may install any `metrics` recorder it likes (the names
//! below are its API).
//!
//! Every name starts with `grantflow_`; durations are in seconds; label values are fixed small
//! sets (never a grant id, an URL or an error text), so the number of series stays bounded.
//! The list with what each family is for is in `docs/operations.md`.

use std::time::Duration;

use grantflow_machine::{CallKind, Edge, EventKind};
use metrics::{Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge};

/// Gauge, label `state`: grants in the store by state kind (refreshed periodically by a worker
/// process from one count query of the store's state-kind column).
pub const GRANTS: &str = "grantflow_grants";
/// Counter, labels `edge`, `from`, `to`: transitions committed, by the machine's edge.
pub const TRANSITIONS: &str = "grantflow_transitions_total";
/// Counter, labels `route`, `outcome`: calls made to the authorization server.
pub const AS_CALLS: &str = "grantflow_as_calls_total";
/// Histogram, labels `route`, `outcome`: how long each call to the authorization server took.
pub const AS_CALL_DURATION: &str = "grantflow_as_call_duration_seconds";
/// Counter, label `route`: calls sent again after a failure (the second attempt on).
pub const CALL_RETRIES: &str = "grantflow_call_retries_total";
/// Histogram, label `route`: at each retry, the share of the recovery budget already spent
/// (0 to 1; at 1 the grant gives up).
pub const RECOVERY_BUDGET_USED: &str = "grantflow_call_recovery_budget_used_ratio";
/// Counter, label `by` (`claim`, `command`, `request`): leases taken on grants.
pub const LEASES_TAKEN: &str = "grantflow_leases_taken_total";
/// Counter, label `during` (`commit`, `renew`, `release`): leases found gone (lapsed and taken
/// over by another worker): each one is work this worker did for nothing.
pub const LEASES_LOST: &str = "grantflow_leases_lost_total";
/// Histogram: how long one claim of due grants took (the store's round trip).
pub const CLAIM_DURATION: &str = "grantflow_claim_duration_seconds";
/// Histogram: how late a grant was claimed after it became due (on the engine's clock).
pub const CLAIM_DELAY: &str = "grantflow_claim_delay_seconds";
/// Histogram: how long after a change was committed a change-feed consumer received it.
pub const CHANGE_FEED_LAG: &str = "grantflow_change_feed_lag_seconds";
/// Histogram: how long after a change was committed its webhook delivery succeeded.
pub const WEBHOOK_DELIVERY_LAG: &str = "grantflow_webhook_delivery_lag_seconds";
/// Counter, label `outcome`: webhook delivery attempts, `delivered` or why one failed
/// ([`WebhookFailure`]: `unreachable`, `timeout`, `rejected`, `error`).
pub const WEBHOOK_DELIVERIES: &str = "grantflow_webhook_deliveries_total";
/// Gauge: 1 while the database answers, 0 from the first failure that says it is unreachable
/// until it answers again.
pub const DATABASE_UP: &str = "grantflow_database_up";
/// Counter: final grants deleted by the retention task.
pub const PRUNED_GRANTS: &str = "grantflow_retention_pruned_grants_total";

/// Histogram buckets for the `_seconds` families: 1 ms to 1 min.
pub const SECONDS_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];
/// Histogram buckets for [`RECOVERY_BUDGET_USED`].
pub const RATIO_BUCKETS: &[f64] = &[0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0];

/// Every family's name, in the order of `docs/operations.md`.
pub const FAMILIES: &[&str] = &[
    GRANTS,
    TRANSITIONS,
    AS_CALLS,
    AS_CALL_DURATION,
    CALL_RETRIES,
    RECOVERY_BUDGET_USED,
    LEASES_TAKEN,
    LEASES_LOST,
    CLAIM_DURATION,
    CLAIM_DELAY,
    CHANGE_FEED_LAG,
    WEBHOOK_DELIVERY_LAG,
    WEBHOOK_DELIVERIES,
    DATABASE_UP,
    PRUNED_GRANTS,
];

/// Gives every family its help text and unit in the installed recorder, and registers the
/// series that count rare events at zero (retries, lost leases, webhook deliveries, pruning, the
/// lag histograms), so dashboards and `rate()` see them before the first event. Call it once
/// after installing a recorder (before, it does nothing).
pub fn describe() {
    for kind in [
        CallKind::GrantRequest,
        CallKind::Continue,
        CallKind::Poll,
        CallKind::Cancel,
        CallKind::Rotate,
        CallKind::RevokeToken,
    ] {
        counter!(CALL_RETRIES, "route" => route(kind)).increment(0);
        let _registered = metrics::histogram!(RECOVERY_BUDGET_USED, "route" => route(kind));
    }
    for during in ["commit", "renew", "release"] {
        counter!(LEASES_LOST, "during" => during).increment(0);
    }
    counter!(WEBHOOK_DELIVERIES, "outcome" => "delivered").increment(0);
    for failure in WebhookFailure::ALL {
        counter!(WEBHOOK_DELIVERIES, "outcome" => failure.as_str()).increment(0);
    }
    counter!(PRUNED_GRANTS).increment(0);
    let _registered = metrics::histogram!(CLAIM_DELAY);
    let _registered = metrics::histogram!(CHANGE_FEED_LAG);
    let _registered = metrics::histogram!(WEBHOOK_DELIVERY_LAG);
    describe_gauge!(GRANTS, "Grants in the store by state kind.");
    describe_counter!(
        TRANSITIONS,
        "Transitions committed, by edge of the machine."
    );
    describe_counter!(
        AS_CALLS,
        "Calls to the authorization server by route and outcome."
    );
    describe_histogram!(
        AS_CALL_DURATION,
        Unit::Seconds,
        "Duration of calls to the authorization server."
    );
    describe_counter!(CALL_RETRIES, "Calls sent again after a failure.");
    describe_histogram!(
        RECOVERY_BUDGET_USED,
        "Share of the recovery budget spent when a call was retried."
    );
    describe_counter!(LEASES_TAKEN, "Leases taken on grants.");
    describe_counter!(
        LEASES_LOST,
        "Leases found lapsed and taken over by another worker."
    );
    describe_histogram!(
        CLAIM_DURATION,
        Unit::Seconds,
        "Duration of one claim of due grants."
    );
    describe_histogram!(
        CLAIM_DELAY,
        Unit::Seconds,
        "Time from a grant becoming due to its claim."
    );
    describe_histogram!(
        CHANGE_FEED_LAG,
        Unit::Seconds,
        "Time from a change's commit to its receipt by a change-feed consumer."
    );
    describe_histogram!(
        WEBHOOK_DELIVERY_LAG,
        Unit::Seconds,
        "Time from a change's commit to its webhook delivery."
    );
    describe_counter!(WEBHOOK_DELIVERIES, "Webhook delivery attempts by outcome.");
    describe_gauge!(DATABASE_UP, "1 while the database answers, else 0.");
    describe_counter!(PRUNED_GRANTS, "Final grants deleted by the retention task.");
}

/// A call's route label: `grant_request`, `continue`, `poll`, `cancel`, `rotate`,
/// `revoke_token`.
pub(crate) fn route(kind: CallKind) -> &'static str {
    match kind {
        CallKind::GrantRequest => "grant_request",
        CallKind::Continue => "continue",
        CallKind::Poll => "poll",
        CallKind::Cancel => "cancel",
        CallKind::Rotate => "rotate",
        CallKind::RevokeToken => "revoke_token",
    }
}

/// A call's outcome label, from the event its outcome became: `answered`, `malformed`,
/// `too_fast`, `refused`, `not_sent`, `ambiguous`.
fn outcome(kind: EventKind) -> &'static str {
    match kind {
        EventKind::Malformed => "malformed",
        EventKind::RefusedTooFast => "too_fast",
        EventKind::Refused => "refused",
        EventKind::NotSent => "not_sent",
        EventKind::Ambiguous => "ambiguous",
        _ => "answered",
    }
}

/// Records one committed transition.
pub(crate) fn transition(edge: Edge) {
    let row = edge.row();
    counter!(TRANSITIONS, "edge" => edge.as_str(), "from" => row.from.as_str(), "to" => row.to.as_str())
        .increment(1);
}

/// Records one call to the authorization server and its duration.
pub(crate) fn as_call(kind: CallKind, outcome_event: EventKind, took: Duration) {
    let labels = [("route", route(kind)), ("outcome", outcome(outcome_event))];
    counter!(AS_CALLS, &labels).increment(1);
    metrics::histogram!(AS_CALL_DURATION, &labels).record(took.as_secs_f64());
}

/// Records a call sent again, with the share of its recovery budget already spent.
pub(crate) fn retry(kind: CallKind, budget_used: f64) {
    counter!(CALL_RETRIES, "route" => route(kind)).increment(1);
    metrics::histogram!(RECOVERY_BUDGET_USED, "route" => route(kind)).record(budget_used);
}

/// Records `n` leases taken `by` a claim, a command or a request.
pub(crate) fn leases_taken(by: &'static str, n: u64) {
    if n > 0 {
        counter!(LEASES_TAKEN, "by" => by).increment(n);
    }
}

/// Records a lease found gone `during` a commit, a renewal or a release.
pub(crate) fn lease_lost(during: &'static str) {
    counter!(LEASES_LOST, "during" => during).increment(1);
}

/// Records one claim's round trip, and how late each claimed grant was.
pub(crate) fn claim(took: Duration, delays: impl Iterator<Item = Duration>) {
    metrics::histogram!(CLAIM_DURATION).record(took.as_secs_f64());
    let delay = metrics::histogram!(CLAIM_DELAY);
    for d in delays {
        delay.record(d.as_secs_f64());
    }
}

/// Sets the grants-by-state gauge: one series per state kind, zero for kinds not counted.
pub(crate) fn grant_counts(counts: &[(grantflow_machine::StateKind, u64)]) {
    for kind in grantflow_machine::StateKind::ALL {
        let n: u64 = counts
            .iter()
            .filter(|(k, _)| *k == kind)
            .map(|(_, n)| *n)
            .sum();
        // Exact below 2^53 grants.
        #[allow(clippy::cast_precision_loss)]
        gauge!(GRANTS, "state" => kind.as_str()).set(n as f64);
    }
}

/// Records `n` final grants pruned.
pub(crate) fn pruned(n: u64) {
    counter!(PRUNED_GRANTS).increment(n);
}

/// Sets the database gauge.
pub(crate) fn database_up(up: bool) {
    gauge!(DATABASE_UP).set(if up { 1.0 } else { 0.0 });
}

/// Records how long after its commit a change reached a change-feed consumer. For the change
/// feed's consumers (the engine's own, or an application's).
pub fn record_change_feed_lag(lag: Duration) {
    metrics::histogram!(CHANGE_FEED_LAG).record(lag.as_secs_f64());
}

/// Records a webhook delivery that succeeded `lag` after the change was committed.
pub fn record_webhook_delivered(lag: Duration) {
    counter!(WEBHOOK_DELIVERIES, "outcome" => "delivered").increment(1);
    metrics::histogram!(WEBHOOK_DELIVERY_LAG).record(lag.as_secs_f64());
}

/// Why a webhook delivery attempt failed: the `outcome` label of [`WEBHOOK_DELIVERIES`] for
/// failures (it will be retried).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookFailure {
    /// No connection to the receiver (refused, no route, DNS, TLS handshake).
    Unreachable,
    /// No answer within the timeout.
    Timeout,
    /// The receiver answered, with a status other than 2xx.
    Rejected,
    /// Any other transport error (the connection broke mid-request).
    Error,
}

impl WebhookFailure {
    /// Every reason, in label order.
    pub const ALL: [WebhookFailure; 4] = [
        Self::Unreachable,
        Self::Timeout,
        Self::Rejected,
        Self::Error,
    ];

    /// The label value: `unreachable`, `timeout`, `rejected`, `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unreachable => "unreachable",
            Self::Timeout => "timeout",
            Self::Rejected => "rejected",
            Self::Error => "error",
        }
    }
}

/// Records a webhook delivery attempt that failed (it will be retried).
pub fn record_webhook_failed(reason: WebhookFailure) {
    counter!(WEBHOOK_DELIVERIES, "outcome" => reason.as_str()).increment(1);
}
