//! The grant list: filters (state, wallet address, access type, created between) over the
//! engine's keyset pages, a "Next page" link carrying the cursor.

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Response};
use grantflow_driver::{ACCESS_TYPES, GrantFilter, GrantView, ListCursor};
use grantflow_machine::StateKind;
use grantflow_store::GrantStore;
use maud::{Markup, html};
use serde::Deserialize;

use crate::context::{Base, Console};
use crate::error::ConsoleError;
use crate::format::{datetime_local, form_encode, home, instant, parse_instant, short_id};
use crate::layout::{page, state_badge};

/// The list page's query: the filter form's fields and the cursor. Empty fields mean "any".
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ListQuery {
    #[serde(default)]
    state: String,
    #[serde(default)]
    wallet: String,
    #[serde(default)]
    access: String,
    #[serde(default)]
    created_after: String,
    #[serde(default)]
    created_before: String,
    #[serde(default)]
    after: String,
}

impl ListQuery {
    /// The engine's filter and the cursor, or what is wrong with the form.
    fn parse(&self) -> Result<(GrantFilter, Option<ListCursor>), ConsoleError> {
        let given = |s: &str| Some(s.trim()).filter(|s| !s.is_empty()).map(str::to_owned);
        let state = given(&self.state)
            .map(|s| {
                s.parse::<StateKind>()
                    .map_err(|e| ConsoleError::BadInput(e.to_string()))
            })
            .transpose()?;
        let access = given(&self.access);
        if let Some(a) = &access
            && !ACCESS_TYPES.contains(&a.as_str())
        {
            return Err(ConsoleError::BadInput(format!(
                "unknown access type {a:?}: expected one of {}",
                ACCESS_TYPES.join(", ")
            )));
        }
        let instant = |field: &str, text: &str| {
            given(text)
                .map(|t| {
                    parse_instant(&t).ok_or_else(|| {
                        ConsoleError::BadInput(format!(
                            "{field}: {t:?} is not a date and time (2026-12-03T21:50, read as \
                             UTC, or RFC 3339)"
                        ))
                    })
                })
                .transpose()
        };
        let filter = GrantFilter {
            state,
            wallet: given(&self.wallet),
            access,
            created_after: instant("created from", &self.created_after)?,
            created_before: instant("created before", &self.created_before)?,
        };
        let after = given(&self.after)
            .map(|c| {
                c.parse::<ListCursor>()
                    .map_err(|_| ConsoleError::BadInput("the page cursor is not valid".into()))
            })
            .transpose()?;
        Ok((filter, after))
    }

    /// The query string of this filter's page after `cursor` (its first page without one).
    fn page_link(filter: &GrantFilter, cursor: Option<&ListCursor>) -> String {
        let mut pairs: Vec<(&str, String)> = Vec::new();
        if let Some(s) = filter.state {
            pairs.push(("state", s.as_str().to_owned()));
        }
        if let Some(w) = &filter.wallet {
            pairs.push(("wallet", w.clone()));
        }
        if let Some(a) = &filter.access {
            pairs.push(("access", a.clone()));
        }
        if let Some(t) = filter.created_after {
            pairs.push(("created_after", datetime_local(t)));
        }
        if let Some(t) = filter.created_before {
            pairs.push(("created_before", datetime_local(t)));
        }
        if let Some(c) = cursor {
            pairs.push(("after", c.to_string()));
        }
        form_urlencoded(&pairs)
    }
}

/// `application/x-www-form-urlencoded` of `pairs` (what a GET form sends).
fn form_urlencoded(pairs: &[(&str, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", form_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// `GET /`: the list.
pub(crate) async fn list_page<S: GrantStore>(
    State(console): State<Console<S>>,
    Base(base): Base,
    headers: HeaderMap,
    Query(query): Query<ListQuery>,
) -> Response {
    let mode = console.mode(&headers);
    let parsed = query.parse();
    let (filter, after) = match &parsed {
        Ok((f, a)) => (f.clone(), *a),
        Err(_) => (GrantFilter::default(), None),
    };
    let listed = match parsed {
        Ok(_) => console
            .engine
            .list(&filter, after, console.config.page_size)
            .await
            .map_err(ConsoleError::from),
        Err(e) => Err(e),
    };
    let (status, body) = match listed {
        Ok(page) => {
            let next = page.next.map(|c| ListQuery::page_link(&filter, Some(&c)));
            (
                axum::http::StatusCode::OK,
                html! {
                    h1 { "Grants" }
                    (filters(&base, &filter))
                    (table(&base, &page.grants, after.is_some()))
                    nav.pager aria-label="Pages" {
                        @if after.is_some() {
                            a href={ (home(&base)) "?" (ListQuery::page_link(&filter, None)) } { "First page" }
                        }
                        @if let Some(next) = next {
                            a href={ (home(&base)) "?" (next) } rel="next" { "Next page" }
                        }
                    }
                },
            )
        }
        Err(e) => {
            if matches!(e, ConsoleError::Engine(_)) {
                tracing::warn!(error = %e, "console: listing grants failed");
            }
            (
                e.status(),
                html! {
                    h1 { "Grants" }
                    (filters(&base, &filter))
                    p.notice.error role="alert" { (e.for_people()) }
                },
            )
        }
    };
    (
        status,
        Html(page(&base, "Grants", &mode, body).into_string()),
    )
        .into_response()
}

fn filters(base: &str, filter: &GrantFilter) -> Markup {
    let states = StateKind::ALL
        .into_iter()
        .filter(|k| *k != StateKind::Initial);
    html! {
        form.filters method="get" action={ (home(base)) } role="search" aria-label="Filter grants" {
            label for="f-state" { "State"
                select #f-state name="state" {
                    option value="" { "any" }
                    @for k in states {
                        option value=(k.as_str()) selected[filter.state == Some(k)] { (k.as_str()) }
                    }
                }
            }
            label for="f-wallet" { "Wallet address"
                input #f-wallet name="wallet" type="text" size="34" inputmode="url"
                    placeholder="https://wallet.example/alice" value=[filter.wallet.as_deref()];
            }
            label for="f-access" { "Access type"
                select #f-access name="access" {
                    option value="" { "any" }
                    @for a in ACCESS_TYPES {
                        option value=(a) selected[filter.access.as_deref() == Some(a)] { (a) }
                    }
                }
            }
            label for="f-after" { "Created from (UTC)"
                input #f-after name="created_after" type="datetime-local" step="1"
                    value=[filter.created_after.map(datetime_local)];
            }
            label for="f-before" { "Created before (UTC)"
                input #f-before name="created_before" type="datetime-local" step="1"
                    value=[filter.created_before.map(datetime_local)];
            }
            button type="submit" { "Filter" }
            a href={ (home(base)) } { "Clear" }
        }
    }
}

fn table(base: &str, grants: &[GrantView], later_page: bool) -> Markup {
    html! {
        @if grants.is_empty() {
            p.notice { @if later_page { "No more grants match." } @else { "No grant matches." } }
        } @else {
            table #grants data-live="list" {
                caption { "Newest first. " span.live aria-live="polite" {} }
                thead {
                    tr {
                        th scope="col" { "Grant" }
                        th scope="col" { "State" }
                        th scope="col" { "Access" }
                        th scope="col" { "Wallet address" }
                        th scope="col" { "Created" }
                        th scope="col" { "Changed" }
                        th scope="col" { "Last error" }
                    }
                }
                tbody {
                    @for g in grants { (row(base, g)) }
                }
            }
        }
    }
}

/// One grant's row (also served alone, for the live update).
pub(crate) fn row(base: &str, g: &GrantView) -> Markup {
    html! {
        tr id={ "grant-" (g.id) } data-version=(g.version) {
            th scope="row" {
                a.mono href={ (base) "/grants/" (g.id) } title=(g.id) { (short_id(&g.id)) }
            }
            td { (state_badge(g.kind())) }
            td { (g.access_types.join(", ")) }
            td { @if let Some(w) = &g.wallet_address { span.mono { (w) } } }
            td { (instant(g.created_at)) }
            td { (instant(g.updated_at)) }
            td { @if let Some(r) = g.state.reason() { (r) } }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filter_round_trips_through_the_next_page_link() {
        let query = ListQuery {
            state: "issued".into(),
            wallet: "https://wallet.example/a b".into(),
            access: "outgoing-payment".into(),
            created_after: "2026-12-03T21:50".into(),
            ..ListQuery::default()
        };
        let (filter, after) = query.parse().unwrap();
        assert_eq!(after, None);
        assert_eq!(filter.state, Some(StateKind::Issued));
        let cursor: ListCursor = "0006455f3e7a8c00a1a2a3a4b1b2c1c2d1d2e1e2e3e4e5e6"
            .parse()
            .unwrap();
        let link = ListQuery::page_link(&filter, Some(&cursor));
        assert!(
            link.contains("wallet=https%3A%2F%2Fwallet.example%2Fa+b"),
            "{link}"
        );
        assert!(
            link.contains("created_after=2026-12-03T21%3A50%3A00"),
            "{link}"
        );
        assert!(link.ends_with(&format!("after={cursor}")), "{link}");
        assert!(
            !ListQuery::page_link(&filter, None).contains("&after="),
            "{link}"
        );
        let again = ListQuery {
            state: "issued".into(),
            wallet: "https://wallet.example/a b".into(),
            access: "outgoing-payment".into(),
            created_after: "2026-12-03T21:50:00".into(),
            after: cursor.to_string(),
            ..ListQuery::default()
        };
        assert_eq!(again.parse().unwrap(), (filter, Some(cursor)));
        for bad in [
            ListQuery {
                state: "Pending".into(),
                ..ListQuery::default()
            },
            ListQuery {
                access: "payments".into(),
                ..ListQuery::default()
            },
            ListQuery {
                created_before: "yesterday".into(),
                ..ListQuery::default()
            },
            ListQuery {
                after: "nope".into(),
                ..ListQuery::default()
            },
        ] {
            assert!(
                matches!(bad.parse(), Err(ConsoleError::BadInput(_))),
                "{bad:?}"
            );
        }
    }
}
