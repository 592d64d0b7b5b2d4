//! A grant's page: what it is (access, wallet, limits, the interval in words and its current
//! period), its timeline, the lifecycle diagram with its path, and its actions.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Response};
use chrono::{DateTime, Utc};
use grantflow_driver::{EngineError, GrantView};
use grantflow_interval::{Reading, instant_in_words, series_in_words};
use grantflow_machine::table::accepts;
use grantflow_machine::{EventKind, GrantState, Outcome, StateKind};
use grantflow_protocol::grant::{AccessItem, OutgoingPaymentLimits};
use grantflow_store::{GrantId, GrantStore};
use maud::{Markup, html};

use crate::context::{Base, Console};
use crate::diagram::diagram;
use crate::error::ConsoleError;
use crate::format::{home, instant, short_id};
use crate::layout::{Mode, page, state_badge};
use crate::timeline::Timeline;

/// The actions an operator can take, with the machine's event each sends.
pub(crate) const ACTIONS: [(&str, EventKind, &str); 3] = [
    (
        "cancel",
        EventKind::Cancel,
        "Cancel the grant (at the authorization server too): its token stops working.",
    ),
    (
        "rotate",
        EventKind::RotateNow,
        "Rotate the access token now: the AS issues a new one and revokes the old.",
    ),
    (
        "revoke",
        EventKind::Revoke,
        "Revoke the access token, then the grant: nothing of it stays usable.",
    ),
];

/// The actions the machine accepts in `kind` now.
pub(crate) fn actions_for(kind: StateKind) -> impl Iterator<Item = (&'static str, &'static str)> {
    ACTIONS
        .into_iter()
        .filter(move |(_, event, _)| accepts(kind, *event))
        .map(|(name, _, what)| (name, what))
}

/// Reads a grant id from the path.
pub(crate) fn grant_id(text: &str) -> Result<GrantId, ConsoleError> {
    text.parse()
        .map_err(|_| ConsoleError::NotFound(text.chars().take(64).collect()))
}

/// `GET /grants/{id}`.
pub(crate) async fn grant_page<S: GrantStore>(
    State(console): State<Console<S>>,
    Base(base): Base,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let mode = console.mode(&headers);
    match render(&console, &base, &mode, &id).await {
        Ok((title, body)) => Html(page(&base, &title, &mode, body).into_string()).into_response(),
        Err(e) => error_page(&base, &mode, &e),
    }
}

/// A page that says what went wrong, with its status.
pub(crate) fn error_page(base: &str, mode: &Mode, e: &ConsoleError) -> Response {
    if matches!(e, ConsoleError::Engine(_)) {
        tracing::warn!(error = %e, "console: a page failed");
    }
    let body = html! {
        h1 { "Not shown" }
        p.notice.error role="alert" { (e.for_people()) }
        p { a href={ (home(base)) } { "Back to the grants" } }
    };
    (
        e.status(),
        Html(page(base, "Error", mode, body).into_string()),
    )
        .into_response()
}

async fn render<S: GrantStore>(
    console: &Console<S>,
    base: &str,
    mode: &Mode,
    id: &str,
) -> Result<(String, Markup), ConsoleError> {
    let id = grant_id(id)?;
    let view = console.engine.get(id).await?;
    let history = console.engine.history(id).await?;
    let timeline = Timeline::replay(&history, &console.engine.config().machine);
    let now = console.engine.config().clock.now();
    let spent = match outgoing_limits(&view, &timeline) {
        Some(limits) => spent(console.engine.headroom(id, Some(limits), now).await, limits),
        None => html! {},
    };
    let title = format!("Grant {}", short_id(&view.id));
    let body = html! {
        h1 { "Grant " span.mono { (view.id) } " " (state_badge(view.kind())) }
        div #live data-live="grant" data-grant=(view.id) data-version=(view.version) {
            p.live aria-live="polite" {}
            (facts(&view, now))
            (access(&view, &timeline, console.config.reading, now, &spent))
            (actions(base, mode, &view))
            (timeline_table(&timeline))
            h2 { "Lifecycle" }
            (diagram(&timeline.edges().collect::<Vec<_>>()))
        }
    };
    Ok((title, body))
}

fn facts(view: &GrantView, now: DateTime<Utc>) -> Markup {
    let issued = match &view.state {
        GrantState::Finalized(Outcome::Issued(i)) => Some(i),
        _ => None,
    };
    html! {
        h2 { "What it is" }
        dl.facts {
            dt { "State" }
            dd {
                (state_badge(view.kind()))
                @if view.is_final() { " (final: nothing more happens to it)" }
                @if let Some(call) = view.state.call_in_flight() { " — a " (call) " call is in flight" }
            }
            @if let Some(reason) = view.state.reason() {
                dt { "Reason" } dd { (reason) }
            }
            dt { "Wallet address" }
            dd { @match &view.wallet_address { Some(w) => span.mono { (w) }, None => "not known" } }
            dt { "Access" }
            dd { @if view.access_types.is_empty() { "not known" } @else { (view.access_types.join(", ")) } }
            @if let Some(key) = &view.idempotency_key {
                dt { "Idempotency key" } dd { span.mono { (key) } }
            }
            dt { "Requested" } dd { (instant(view.created_at)) }
            dt { "Last changed" } dd { (instant(view.updated_at)) " (version " (view.version) ")" }
            dt { "Next attention" }
            dd {
                @match view.next_wake_at {
                    Some(at) if at <= now => { (instant(at)) " (due)" }
                    Some(at) => (instant(at)),
                    None => "none: nothing is scheduled",
                }
            }
            @if let GrantState::AwaitingInteraction(a) = &view.state {
                dt { "Interaction deadline" } dd { (instant(a.deadline)) }
            }
            @if let Some(i) = issued {
                dt { "Access token" }
                dd {
                    "received " (instant(i.token_received_at))
                    @match i.expires_at {
                        Some(e) if e <= now => { ", expired " (instant(e)) }
                        Some(e) => { ", expires " (instant(e)) }
                        None => ", does not expire",
                    }
                    " (its value is never shown)"
                }
            }
        }
    }
}

/// The grant's access as granted (once issued) or as requested, with the heading that says which.
fn access_items<'a>(
    view: &'a GrantView,
    timeline: &'a Timeline,
) -> (&'static str, &'a [AccessItem]) {
    let granted = view.state.access_token().map(|t| t.access.as_slice());
    let requested = timeline
        .intent
        .as_ref()
        .and_then(|i| i.request.access_token.as_ref())
        .map(|t| t.access.as_slice());
    match (granted, requested) {
        (Some(g), _) => ("Access granted", g),
        (None, Some(r)) => ("Access requested", r),
        (None, None) => ("Access", &[][..]),
    }
}

/// The limits of the grant's outgoing-payment access, when it has one with limits.
fn outgoing_limits<'a>(
    view: &'a GrantView,
    timeline: &'a Timeline,
) -> Option<&'a OutgoingPaymentLimits> {
    access_items(view, timeline)
        .1
        .iter()
        .find_map(|item| match item {
            AccessItem::OutgoingPayment(op) => op.limits.as_ref(),
            _ => None,
        })
}

/// The "Spent" row: what grantflow's own payments used of `limits` in the current period (from
/// its ledger; payments by other clients of the grant are not in it).
fn spent(
    headroom: Result<grantflow_driver::Headroom, EngineError>,
    limits: &OutgoingPaymentLimits,
) -> Markup {
    let used = |limit: &Option<grantflow_interval::Amount>,
                left: &Option<grantflow_interval::Amount>| {
        match (limit, left) {
            (Some(l), Some(left)) => Some((
                grantflow_interval::Amount::new(
                    l.value.saturating_sub(left.value),
                    l.asset_code.clone(),
                    l.asset_scale,
                ),
                left.clone(),
            )),
            _ => None,
        }
    };
    let period = if limits.interval.is_some() {
        "this period"
    } else {
        "the grant's life"
    };
    html! {
        dt { "Spent" }
        dd {
            @match headroom {
                Ok(h) => {
                    ul {
                        @if let Some((used, left)) = used(&limits.debit_amount, &h.debit_left) {
                            li { strong { (used.in_units()) } " debited in " (period) " by grantflow's payments; " (left.in_units()) " left" }
                        }
                        @if let Some((used, left)) = used(&limits.receive_amount, &h.receive_left) {
                            li { strong { (used.in_units()) } " received in " (period) " by grantflow's payments; " (left.in_units()) " left" }
                        }
                    }
                    p.note { "From grantflow's own ledger. Payments other clients make under this grant are not counted here; grantflow reads the resource server's spent amounts before each payment." }
                }
                Err(EngineError::LimitRefused { refused, .. }) => { "none: " (refused.to_string()) }
                Err(error) => { "not known: " (error.to_string()) }
            }
        }
    }
}

fn access(
    view: &GrantView,
    timeline: &Timeline,
    reading: Reading,
    now: DateTime<Utc>,
    spent: &Markup,
) -> Markup {
    let (heading, items) = access_items(view, timeline);
    html! {
        h2 { (heading) }
        @if items.is_empty() {
            p { "Not known: the grant's request is not in its history." }
        }
        @for item in items {
            (access_item(item, reading, now, spent))
        }
    }
}

fn access_item(item: &AccessItem, reading: Reading, now: DateTime<Utc>, spent: &Markup) -> Markup {
    let identifier = match item {
        AccessItem::IncomingPayment(a) => a.identifier.as_deref(),
        AccessItem::OutgoingPayment(a) => Some(a.identifier.as_str()),
        AccessItem::Quote(_) => None,
    };
    let actions: Vec<&str> = item.actions().iter().map(|a| a.as_str()).collect();
    html! {
        section.access {
            h3 { code { (item.type_str()) } }
            dl.facts {
                dt { "Actions" } dd { (actions.join(", ")) }
                @if let Some(id) = identifier {
                    dt { "Wallet address" } dd { span.mono { (id) } }
                }
                @if let AccessItem::OutgoingPayment(op) = item {
                    (limits(op.limits.as_ref(), reading, now))
                    (spent)
                }
            }
        }
    }
}

fn limits(limits: Option<&OutgoingPaymentLimits>, reading: Reading, now: DateTime<Utc>) -> Markup {
    let amount_limited =
        limits.is_some_and(|l| l.debit_amount.is_some() || l.receive_amount.is_some());
    html! {
        dt { "Limits" }
        dd {
            @if !amount_limited {
                span.warning { "No amount limit: any amount may be sent." }
            }
            @if let Some(l) = limits {
                ul {
                    @if let Some(a) = &l.debit_amount { li { "At most " strong { (a.in_units()) } " debited" } }
                    @if let Some(a) = &l.receive_amount { li { "At most " strong { (a.in_units()) } " received" } }
                    @if let Some(r) = &l.receiver { li { "Only to " span.mono { (r) } } }
                }
            }
        }
        @if let Some(interval) = limits.and_then(|l| l.interval.as_ref()) {
            dt { "Interval" }
            dd { (series_in_words(interval, reading)) " (" code { (interval.to_string()) } ", " (reading.name()) " reading)" }
            dt { "Current period" }
            dd {
                @match interval.window_at(reading, now) {
                    Some(w) => { (instant_in_words(w.start)) " to " (instant_in_words(w.end)) " (period " (w.index + 1) ")" }
                    None => "none: no period is current, so no payment is allowed now",
                }
            }
        } @else if amount_limited {
            dt { "Interval" } dd { "none: the limit applies to the whole life of the grant" }
        }
    }
}

fn actions(base: &str, mode: &Mode, view: &GrantView) -> Markup {
    let available: Vec<_> = actions_for(view.kind()).collect();
    let names = available
        .iter()
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join(", ");
    html! {
        h2 { "Actions" }
        @if available.is_empty() {
            p { "None: a " (view.kind().as_str()) " grant accepts no command." }
        } @else {
            @match mode {
                Mode::ReadOnly => { p { "This console is read-only (no operator token is configured). Possible here: " (names) "." } }
                Mode::SignedOut => { p { a href={ (base) "/login?next=" (base) "/grants/" (view.id) } { "Sign in" } " to " (names) " this grant." } }
                Mode::SignedIn { .. } => {
                    ul.actions {
                        @for (name, what) in &available {
                            li { a.button.danger href={ (base) "/grants/" (view.id) "/" (name) } { (capitalized(name)) "…" } " " (what) }
                        }
                    }
                }
            }
        }
    }
}

pub(crate) fn capitalized(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

fn timeline_table(timeline: &Timeline) -> Markup {
    html! {
        h2 { "Timeline" }
        @if let Some(why) = &timeline.replay_stopped {
            p.notice role="note" { "Edges are shown up to where replay stopped: " (why) "." }
        }
        table #timeline {
            caption { "Every recorded transition, oldest first. Calls and answers are shown without their tokens." }
            thead {
                tr {
                    th scope="col" { "Version" }
                    th scope="col" { "Time" }
                    th scope="col" { "Transition" }
                    th scope="col" { "What happened" }
                    th scope="col" { "Call made" }
                    th scope="col" { "Reason" }
                }
            }
            tbody {
                @for step in &timeline.steps {
                    tr {
                        th scope="row" { (step.version) }
                        td { (instant(step.at)) }
                        td {
                            @if let Some(edge) = step.edge {
                                @let row = edge.row();
                                code { (edge.as_str()) } br;
                                (row.from.as_str()) " → " (row.to.as_str())
                            }
                        }
                        td {
                            @if let Some(event) = &step.event { (event) }
                            @if let Some(answer) = &step.answer { "AS answered: " (answer) }
                        }
                        td { @if let Some(call) = &step.call { span.mono { (call) } } }
                        td { @if let Some(reason) = &step.reason { (reason) } }
                    }
                }
            }
        }
    }
}
