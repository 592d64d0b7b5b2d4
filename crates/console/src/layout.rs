//! The page shell every page shares (language, title, navigation, what the operator may do, the
//! style and the script) and the static assets.

use axum::http::header;
use axum::response::{IntoResponse, Response};
use grantflow_machine::StateKind;
use maud::{DOCTYPE, Markup, html};

use crate::format::home;

/// The stylesheet, served at `assets/console.css`.
pub(crate) const STYLE: &str = include_str!("../assets/console.css");

/// The live updates' script, served at `assets/console.js`.
pub(crate) const SCRIPT: &str = include_str!("../assets/console.js");

/// What the header says about actions.
pub(crate) enum Mode {
    /// No operator token is configured.
    ReadOnly,
    /// Actions need signing in.
    SignedOut,
    /// Signed in; the CSRF token for the sign-out form.
    SignedIn {
        /// The session's CSRF token.
        csrf: String,
    },
}

/// A whole page: `title` is the page's own (the site name is added).
pub(crate) fn page(base: &str, title: &str, mode: &Mode, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · grantflow console" }
                // No favicon request (a 404 in every log and browser console).
                link rel="icon" href="data:,";
                link rel="stylesheet" href={ (base) "/assets/console.css" };
                script src={ (base) "/assets/console.js" } defer {}
            }
            body data-base=(base) {
                a.skip href="#main" { "Skip to the content" }
                header.top {
                    span.brand { "grantflow console" }
                    nav aria-label="Console" {
                        a href={ (home(base)) } { "Grants" }
                    }
                    span.mode {
                        @match mode {
                            Mode::ReadOnly => {
                                "Read-only: no operator token is configured, so no action is offered."
                            }
                            Mode::SignedOut => {
                                a href={ (base) "/login" } { "Sign in to act" }
                            }
                            Mode::SignedIn { csrf } => {
                                "Signed in. "
                                form method="post" action={ (base) "/logout" } {
                                    input type="hidden" name="csrf" value=(csrf);
                                    button.secondary type="submit" { "Sign out" }
                                }
                            }
                        }
                    }
                }
                main #main { (body) }
            }
        }
    }
}

/// A grant's state as a badge.
pub(crate) fn state_badge(kind: StateKind) -> Markup {
    let class = match kind {
        StateKind::Issued => "state issued",
        StateKind::Failed => "state failed",
        StateKind::Lost => "state lost",
        k if k.is_final() => "state final",
        _ => "state",
    };
    html! { span class=(class) { (kind.as_str()) } }
}

/// A static asset with its content type; cached for an hour.
pub(crate) fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}
