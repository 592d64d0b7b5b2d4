//! Signing in and out, and the actions (cancel, rotate, revoke): a confirmation page (`GET
//! /grants/{id}/{action}`) whose form POSTs the action. Every POST is refused (403) unless an
//! operator token is configured, the session cookie verifies, the form's CSRF token is the
//! session's and the request comes from the console's own origin (`auth.rs`).

use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use grantflow_store::GrantStore;
use maud::html;
use serde::Deserialize;

use crate::auth::{self, COOKIE};
use crate::context::{Base, Console};
use crate::error::ConsoleError;
use crate::format::{form_encode, home, short_id};
use crate::grant::{ACTIONS, actions_for, capitalized, error_page, grant_id};
use crate::layout::{Mode, page, state_badge};

/// The sign-in form's fields.
#[derive(Deserialize)]
pub(crate) struct LoginForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    next: String,
}

/// Where to go after signing in.
#[derive(Deserialize)]
pub(crate) struct Next {
    #[serde(default)]
    next: String,
}

/// An action's form.
#[derive(Deserialize)]
pub(crate) struct ActionForm {
    #[serde(default)]
    csrf: String,
}

/// `next` if it is a page of the console, else the list.
fn safe_next(base: &str, next: &str) -> String {
    let inside = next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && (next == home(base) || next.starts_with(&format!("{base}/")));
    if inside {
        next.to_owned()
    } else {
        home(base).to_owned()
    }
}

/// `GET /login`.
pub(crate) async fn login_page<S: GrantStore>(
    State(console): State<Console<S>>,
    Base(base): Base,
    headers: HeaderMap,
    Query(next): Query<Next>,
) -> Response {
    let mode = console.mode(&headers);
    login_form(
        &base,
        &mode,
        &safe_next(&base, &next.next),
        None,
        StatusCode::OK,
    )
}

fn login_form(
    base: &str,
    mode: &Mode,
    next: &str,
    refused: Option<&str>,
    status: StatusCode,
) -> Response {
    let body = html! {
        h1 { "Sign in" }
        @if matches!(mode, Mode::ReadOnly) {
            p.notice { "This console is read-only: no operator token is configured (`grantflow worker --console-token-file`)." }
        } @else {
            @if let Some(why) = refused { p.notice.error role="alert" { (why) } }
            p { "Enter the operator token once; the session lasts until you sign out or it expires." }
            form method="post" action={ (base) "/login" } {
                input type="hidden" name="next" value=(next);
                p {
                    label for="token" { "Operator token" }
                    br;
                    input #token name="token" type="password" size="40" required autocomplete="off" autofocus;
                }
                button type="submit" { "Sign in" }
            }
        }
    };
    (
        status,
        Html(page(base, "Sign in", mode, body).into_string()),
    )
        .into_response()
}

/// `POST /login`: the token opens a session.
pub(crate) async fn login<S: GrantStore>(
    State(console): State<Console<S>>,
    Base(base): Base,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let mode = console.mode(&headers);
    let next = safe_next(&base, &form.next);
    let Some(token) = &console.config.operator_token else {
        return login_form(&base, &mode, &next, None, StatusCode::FORBIDDEN);
    };
    if !auth::same_origin(&headers) {
        let why = "Refused: the form was not sent from this console's own page.";
        return login_form(&base, &mode, &next, Some(why), StatusCode::FORBIDDEN);
    }
    if !auth::token_matches(token, &form.token) {
        tracing::warn!("console: sign-in with a wrong operator token");
        let why = "That is not the operator token.";
        return login_form(&base, &mode, &next, Some(why), StatusCode::FORBIDDEN);
    }
    let now = console.engine.config().clock.now();
    let lifetime = chrono::TimeDelta::from_std(console.config.session_lifetime)
        .unwrap_or(chrono::TimeDelta::hours(8));
    let value = auth::new_session(token, now + lifetime);
    let secure = if auth::over_https(&headers) {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{COOKIE}={value}; Path={}; Max-Age={}; HttpOnly; SameSite=Strict{secure}",
        home(&base),
        lifetime.num_seconds()
    );
    see_other(&next, Some(cookie))
}

/// `POST /logout`: ends the session (its cookie is cleared).
pub(crate) async fn logout<S: GrantStore>(
    State(console): State<Console<S>>,
    Base(base): Base,
    headers: HeaderMap,
    Form(form): Form<ActionForm>,
) -> Response {
    if let Err(e) = console.authorize(&headers, &form.csrf) {
        return error_page(&base, &console.mode(&headers), &e);
    }
    let cookie = format!(
        "{COOKIE}=; Path={}; Max-Age=0; HttpOnly; SameSite=Strict",
        home(&base)
    );
    see_other(home(&base), Some(cookie))
}

fn see_other(to: &str, cookie: Option<String>) -> Response {
    let mut response = Redirect::to(to).into_response();
    if let Some(value) = cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

/// The action named in the path: its name and what it does.
fn action(name: &str) -> Result<(&'static str, &'static str), ConsoleError> {
    ACTIONS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(n, _, what)| (*n, *what))
        .ok_or_else(|| ConsoleError::NotFound(format!("action {name:?}")))
}

/// `GET /grants/{id}/{action}`: what the action will do, and the form that does it.
pub(crate) async fn confirm_page<S: GrantStore>(
    State(console): State<Console<S>>,
    Base(base): Base,
    headers: HeaderMap,
    Path((id, name)): Path<(String, String)>,
) -> Response {
    let mode = console.mode(&headers);
    let csrf = match &mode {
        Mode::SignedIn { csrf } => csrf.clone(),
        Mode::SignedOut => {
            let next = format!("{base}/grants/{id}/{name}");
            return Redirect::to(&format!("{base}/login?next={}", form_encode(&next)))
                .into_response();
        }
        Mode::ReadOnly => {
            let e = ConsoleError::Forbidden(
                "this console is read-only: no operator token is configured",
            );
            return error_page(&base, &mode, &e);
        }
    };
    let found = match (grant_id(&id), action(&name)) {
        (Ok(id), Ok(action)) => console
            .engine
            .get(id)
            .await
            .map(|view| (view, action))
            .map_err(ConsoleError::from),
        (Err(e), _) | (_, Err(e)) => Err(e),
    };
    let (view, (name, what)) = match found {
        Ok(found) => found,
        Err(e) => return error_page(&base, &mode, &e),
    };
    let possible = actions_for(view.kind()).any(|(n, _)| n == name);
    let grant_url = format!("{base}/grants/{}", view.id);
    let title = format!("{} grant {}?", capitalized(name), short_id(&view.id));
    let body = html! {
        h1 { (title) }
        p { "The grant " span.mono { (view.id) } " is " (state_badge(view.kind())) "." }
        @if possible {
            p { (what) }
            form method="post" action={ (grant_url) "/" (name) } {
                input type="hidden" name="csrf" value=(csrf);
                div.actions {
                    button.danger type="submit" { (capitalized(name)) " the grant" }
                    a href=(grant_url) { "Back, do nothing" }
                }
            }
        } @else {
            p.notice role="alert" { "Not possible now: a " (view.kind().as_str()) " grant does not accept " (name) "." }
            p { a href=(grant_url) { "Back to the grant" } }
        }
    };
    Html(page(&base, &title, &mode, body).into_string()).into_response()
}

/// `POST /grants/{id}/{action}`: does it, then shows the grant.
pub(crate) async fn act<S: GrantStore>(
    State(console): State<Console<S>>,
    Base(base): Base,
    headers: HeaderMap,
    Path((id, name)): Path<(String, String)>,
    Form(form): Form<ActionForm>,
) -> Response {
    let mode = console.mode(&headers);
    let done = async {
        console.authorize(&headers, &form.csrf)?;
        let id = grant_id(&id)?;
        let engine = &console.engine;
        let view = match action(&name)?.0 {
            "cancel" => engine.cancel(id).await?,
            "rotate" => engine.rotate(id).await?,
            _ => engine.revoke(id).await?,
        };
        tracing::info!(grant = %id, action = %name, state = %view.kind(), "console: operator action");
        Ok::<_, ConsoleError>(view)
    };
    match done.await {
        Ok(view) => see_other(&format!("{base}/grants/{}", view.id), None),
        Err(e) => {
            if matches!(e, ConsoleError::Forbidden(_)) {
                tracing::warn!(action = %name, reason = %e, "console: action refused");
            }
            error_page(&base, &mode, &e)
        }
    }
}

impl<S: GrantStore> Console<S> {
    /// Refuses a POST that is not an operator's own form: read-only console, no session, wrong
    /// CSRF token, or another origin.
    pub(crate) fn authorize(&self, headers: &HeaderMap, csrf: &str) -> Result<(), ConsoleError> {
        let token = self
            .config
            .operator_token
            .as_ref()
            .ok_or(ConsoleError::Forbidden(
                "refused: this console is read-only (no operator token is configured)",
            ))?;
        let now = self.engine.config().clock.now();
        let session = auth::session(token, headers, now).ok_or(ConsoleError::Forbidden(
            "refused: not signed in (or the session expired): sign in again",
        ))?;
        if !auth::csrf_matches(token, &session, csrf) {
            return Err(ConsoleError::Forbidden(
                "refused: the form's CSRF token is not this session's; reload the page and try again",
            ));
        }
        if !auth::same_origin(headers) {
            return Err(ConsoleError::Forbidden(
                "refused: the request does not come from this console's own page (Origin)",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_console_pages_are_followed_after_sign_in() {
        assert_eq!(
            safe_next("/console", "/console/grants/x"),
            "/console/grants/x"
        );
        assert_eq!(safe_next("/console", "/console"), "/console");
        for outside in [
            "//evil.example/",
            "https://evil.example",
            "/other",
            "/console\\..",
            "",
        ] {
            assert_eq!(safe_next("/console", outside), "/console", "{outside}");
        }
        assert_eq!(safe_next("", "/grants/x"), "/grants/x");
    }
}
