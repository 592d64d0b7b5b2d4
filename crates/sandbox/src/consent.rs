//! The consent page: plain, accessible HTML saying who asks for what, with Approve and Deny as a
//! real form (works without JavaScript, with the keyboard: Tab moves between the buttons, Enter
//! or Space presses one; Approve has focus first).

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use chrono::{DateTime, Utc};
use grantflow_interval::{instant_in_words, series_in_words};
use grantflow_protocol::grant::{AccessAction, AccessItem};

/// Everything the consent page shows.
pub(crate) struct ConsentView<'a> {
    /// The client's public name and wallet address.
    pub client: Option<(String, String)>,
    pub access: &'a [AccessItem],
    /// Where the form posts.
    pub choice_action: String,
    pub expires_at: DateTime<Utc>,
    pub expired: bool,
    pub now: DateTime<Utc>,
    pub reading: grantflow_interval::Reading,
}

/// Escapes text for HTML element content and attribute values (the one escaper, in protocol).
pub(crate) use grantflow_protocol::text::escape_html as escape;

fn action_phrase(action: AccessAction) -> &'static str {
    match action {
        AccessAction::Create => "create",
        AccessAction::Complete => "complete",
        AccessAction::Read => "read the ones it created",
        AccessAction::ReadAll => "read all",
        AccessAction::List => "list the ones it created",
        AccessAction::ListAll => "list all",
    }
}

/// The requested actions as phrases, each said once: a repeated action is shown once, and
/// `read`/`list` are left out when `read-all`/`list-all` (which include them) are asked too.
fn action_phrases(actions: &[AccessAction]) -> Vec<&'static str> {
    let mut phrases: Vec<&'static str> = Vec::new();
    for action in actions {
        let covered = match action {
            AccessAction::Read => actions.contains(&AccessAction::ReadAll),
            AccessAction::List => actions.contains(&AccessAction::ListAll),
            _ => false,
        };
        let phrase = action_phrase(*action);
        if !covered && !phrases.contains(&phrase) {
            phrases.push(phrase);
        }
    }
    phrases
}

fn describe_interval(
    interval: &grantflow_interval::RepeatingInterval,
    reading: grantflow_interval::Reading,
    now: DateTime<Utc>,
) -> String {
    let mut text = format!(
        "The limit applies anew to each period: {} (<code>{}</code>); ",
        escape(&series_in_words(interval, reading)),
        escape(&interval.to_string())
    );
    match crate::limits::window_at(interval, reading, now) {
        Some((start, end)) => text.push_str(&format!(
            "this period: from {} to {}.",
            instant_in_words(start),
            instant_in_words(end)
        )),
        None => text.push_str("no period is current now, so no payment would be allowed now."),
    }
    text
}

/// The prominent warning for an outgoing-payment grant without an amount limit.
const NO_LIMIT: &str = "<p class=\"warning\" role=\"alert\"><strong>No limit: any amount may leave your account.</strong></p>";

fn describe(item: &AccessItem, reading: grantflow_interval::Reading, now: DateTime<Utc>) -> String {
    let what = match item {
        AccessItem::IncomingPayment(_) => "incoming payments (money coming in)",
        AccessItem::OutgoingPayment(_) => "outgoing payments (money going out)",
        AccessItem::Quote(_) => "quotes",
    };
    let actions = action_phrases(item.actions());
    let mut html = format!(
        "<li><p><strong>{}</strong>: {}.</p>",
        escape(what),
        escape(&actions.join(", "))
    );
    let identifier = match item {
        AccessItem::IncomingPayment(a) => a.identifier.as_deref(),
        AccessItem::OutgoingPayment(a) => Some(a.identifier.as_str()),
        AccessItem::Quote(_) => None,
    };
    if let Some(id) = identifier {
        html.push_str(&format!(
            "<p>On the account <code>{}</code>.</p>",
            escape(id)
        ));
    }
    if let AccessItem::OutgoingPayment(op) = item {
        let limits = op.limits.as_ref();
        let amount_limited =
            limits.is_some_and(|l| l.debit_amount.is_some() || l.receive_amount.is_some());
        if !amount_limited {
            html.push_str(NO_LIMIT);
        }
        let mut rules = String::new();
        if let Some(limits) = limits {
            if let Some(a) = &limits.debit_amount {
                rules.push_str(&format!(
                    "<li>At most <strong>{}</strong> may leave your account.</li>",
                    escape(&a.in_units())
                ));
            }
            if let Some(a) = &limits.receive_amount {
                rules.push_str(&format!(
                    "<li>At most <strong>{}</strong> may be received by the payees.</li>",
                    escape(&a.in_units())
                ));
            }
            if let Some(r) = &limits.receiver {
                rules.push_str(&format!("<li>Only to <code>{}</code>.</li>", escape(r)));
            }
            match &limits.interval {
                Some(interval) if amount_limited => rules.push_str(&format!(
                    "<li>{}</li>",
                    describe_interval(interval, reading, now)
                )),
                // An interval without an amount limits nothing: the warning above says so.
                Some(_) => {}
                None if amount_limited => {
                    rules.push_str("<li>The limit applies to the whole life of the grant.</li>")
                }
                None => {}
            }
        }
        if !rules.is_empty() {
            html.push_str(&format!("<ul>{rules}</ul>"));
        }
    }
    html.push_str("</li>");
    html
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;line-height:1.5}\
button{font-size:1rem;padding:.5rem 1.5rem;margin-right:1rem}\
button:focus{outline:3px solid #1a5fb4;outline-offset:2px}\
code{word-break:break-all}\
.warning{border:2px solid #c01c28;background:#fff0f0;padding:.5rem 1rem;font-size:1.15rem}";

/// A whole page: `lang`, charset, viewport, title and the one style, around `body` (HTML).
fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{}</title><style>{STYLE}</style></head><body><main>{body}</main></body></html>\n",
        escape(title)
    )
}

/// The consent page.
pub(crate) fn render(view: &ConsentView<'_>) -> String {
    let (name, uri) = view
        .client
        .clone()
        .unwrap_or_else(|| ("An unnamed application".to_owned(), String::new()));
    let items: String = view
        .access
        .iter()
        .map(|i| describe(i, view.reading, view.now))
        .collect();
    let form = if view.expired {
        "<p role=\"alert\"><strong>This request has expired.</strong> Return to the application and start again.</p>".to_owned()
    } else {
        format!(
            "<form method=\"post\" action=\"{}\">\
<button type=\"submit\" name=\"choice\" value=\"accept\" autofocus>Approve</button>\
<button type=\"submit\" name=\"choice\" value=\"reject\">Deny</button>\
</form>\
<p><small>This request expires at {}.</small></p>",
            escape(&view.choice_action),
            instant_in_words(view.expires_at)
        )
    };
    let name_e = escape(&name);
    let uri_part = if uri.is_empty() {
        String::new()
    } else {
        format!(" (<code>{}</code>)", escape(&uri))
    };
    page(
        &format!("Approve access for {name}? (grantflow sandbox)"),
        &format!(
            "<h1>Approve access for {name_e}?</h1>\
<p><strong>{name_e}</strong>{uri_part} asks for access to your account:</p>\
<ul>{items}</ul>{form}\
<p><small>grantflow sandbox: a local test server, no real money moves.</small></p>"
        ),
    )
}

/// A small HTML page for a refused consent step, with the reference's status.
pub(crate) fn error_page(status: StatusCode, code: &str, description: &str) -> Response {
    (status, Html(error_html(code, description))).into_response()
}

fn error_html(code: &str, description: &str) -> String {
    page(
        "Request not completed",
        &format!(
            "<h1>Request not completed</h1><p role=\"alert\">{} (<code>{}</code>)</p>",
            escape(description),
            escape(code)
        ),
    )
}

/// The page after a grant without a finish URI was decided.
pub(crate) fn done_page() -> String {
    page(
        "Done",
        "<h1>Done</h1><p>You can close this window and return to the application.</p>",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }

    fn outgoing(limits: serde_json::Value, actions: serde_json::Value) -> AccessItem {
        let mut item = serde_json::json!({
            "type": "outgoing-payment",
            "actions": actions,
            "identifier": "https://wallet.example/alice",
        });
        if !limits.is_null() {
            item["limits"] = limits;
        }
        serde_json::from_value(item).unwrap()
    }

    /// The page for `access` at 2026-11-25T12:00Z in the Rafiki-compatible reading.
    fn page_for(access: &[AccessItem]) -> String {
        let now: DateTime<Utc> = "2026-11-25T12:00:00Z".parse().unwrap();
        render(&ConsentView {
            client: Some(("Shop".into(), "https://shop.example/pay".into())),
            access,
            choice_action: "/auth/interact/i/n/choice".into(),
            expires_at: "2026-11-25T12:10:00Z".parse().unwrap(),
            expired: false,
            now,
            reading: grantflow_interval::Reading::RafikiCompatible,
        })
    }

    const WARNING: &str = "No limit: any amount may leave your account.";

    #[test]
    fn a_grant_without_an_amount_limit_says_so_prominently() {
        let actions = serde_json::json!(["create"]);
        for limits in [
            serde_json::Value::Null,
            serde_json::json!({}),
            serde_json::json!({"interval": "R/2016-08-24T08:00:00Z/P1D"}),
            serde_json::json!({"receiver": "https://wallet.example/bob/incoming-payments/1"}),
        ] {
            let html = page_for(&[outgoing(limits.clone(), actions.clone())]);
            assert!(
                html.contains(&format!(
                    "<p class=\"warning\" role=\"alert\"><strong>{WARNING}"
                )),
                "{limits}: {html}"
            );
            assert!(!html.contains("whole life"), "{limits}: {html}");
            assert!(!html.contains("applies anew"), "{limits}: {html}");
        }
        let limited = page_for(&[outgoing(
            serde_json::json!({"debitAmount": {"value": "500", "assetCode": "USD", "assetScale": 2}}),
            actions,
        )]);
        assert!(!limited.contains(WARNING), "{limited}");
        assert!(limited.contains("At most <strong>5.00 USD</strong> may leave your account."));
        assert!(limited.contains("The limit applies to the whole life of the grant."));
    }

    #[test]
    fn the_interval_is_said_in_words_with_the_current_period() {
        let html = page_for(&[outgoing(
            serde_json::json!({
                "debitAmount": {"value": "500", "assetCode": "USD", "assetScale": 2},
                "interval": "R/2016-08-24T08:00:00Z/P1D"
            }),
            serde_json::json!(["create"]),
        )]);
        assert!(
            html.contains(
                "The limit applies anew to each period: every day from 24 Aug 2016 08:00 UTC, \
                 with no end (<code>R/2016-08-24T08:00:00Z/P1D</code>); this period: from \
                 25 Nov 2026 08:00 UTC to 26 Nov 2026 08:00 UTC."
            ),
            "{html}"
        );
        assert!(html.contains("This request expires at 25 Nov 2026 12:10 UTC."));
        let ended = page_for(&[outgoing(
            serde_json::json!({
                "debitAmount": {"value": "1", "assetCode": "USD", "assetScale": 2},
                "interval": "R2/2022-07-01T15:00:00+02:00/P2M"
            }),
            serde_json::json!(["create"]),
        )]);
        assert!(
            ended.contains(
                "every 2 months from 1 Jul 2022 13:00 UTC, 3 periods in all \
                 (<code>R2/2022-07-01T15:00:00+02:00/P2M</code>); no period is current now"
            ),
            "{ended}"
        );
    }

    #[test]
    fn each_action_is_said_once() {
        let html = page_for(&[outgoing(
            serde_json::json!({"debitAmount": {"value": "1", "assetCode": "USD", "assetScale": 2}}),
            serde_json::json!(["list", "list-all", "read", "read-all", "create", "create"]),
        )]);
        assert!(
            html.contains("<strong>outgoing payments (money going out)</strong>: list all, read all, create.</p>"),
            "{html}"
        );
        assert_eq!(
            action_phrases(&[AccessAction::Read, AccessAction::Read, AccessAction::List]),
            ["read the ones it created", "list the ones it created"]
        );
    }

    #[test]
    fn every_page_has_lang_viewport_and_the_style() {
        let consent = page_for(&[]);
        let error = error_html("invalid_request", "invalid <session>");
        assert!(error.contains("invalid &lt;session&gt; (<code>invalid_request</code>)"));
        let done = done_page();
        for html in [consent.as_str(), error.as_str(), done.as_str()] {
            assert!(
                html.starts_with("<!DOCTYPE html>\n<html lang=\"en\">"),
                "{html}"
            );
            assert!(html.contains(
                "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            ));
            assert!(html.contains(STYLE));
            assert!(html.contains("<title>"));
        }
    }
}
