//! The consent page: plain, accessible HTML saying who asks for what, with Approve and Deny as a
//! real form (works without JavaScript, with the keyboard: Tab moves between the buttons, Enter
//! or Space presses one; Approve has focus first).

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use chrono::{DateTime, Utc};
use grantflow_protocol::amount::Amount;
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

/// `500` at scale 2 in USD -> `5.00 USD`.
pub(crate) fn format_amount(amount: &Amount) -> String {
    let digits = amount.value.to_string();
    let scale = usize::from(amount.asset_scale);
    let number = if scale == 0 {
        digits
    } else if digits.len() > scale {
        let (int, frac) = digits.split_at(digits.len() - scale);
        format!("{int}.{frac}")
    } else {
        format!("0.{}{digits}", "0".repeat(scale - digits.len()))
    };
    format!("{number} {}", amount.asset_code)
}

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

fn describe_interval(
    interval: &grantflow_interval::RepeatingInterval,
    reading: grantflow_interval::Reading,
    now: DateTime<Utc>,
) -> String {
    let mut text = format!(
        "The limit applies separately to each period of the repeating interval <code>{}</code>",
        escape(&interval.to_string())
    );
    match crate::limits::window_at(interval, reading, now) {
        Some((start, end)) => text.push_str(&format!(
            "; the current period runs from {} to {}.",
            start.format("%Y-%m-%d %H:%M:%S UTC"),
            end.format("%Y-%m-%d %H:%M:%S UTC")
        )),
        None => text.push_str("; no period is current now, so no payment would be allowed now."),
    }
    text
}

fn describe(item: &AccessItem, reading: grantflow_interval::Reading, now: DateTime<Utc>) -> String {
    let what = match item {
        AccessItem::IncomingPayment(_) => "incoming payments (money coming in)",
        AccessItem::OutgoingPayment(_) => "outgoing payments (money going out)",
        AccessItem::Quote(_) => "quotes",
    };
    let actions: Vec<&str> = item.actions().iter().map(|a| action_phrase(*a)).collect();
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
        match &op.limits {
            None => html.push_str("<p><strong>No spending limit.</strong></p>"),
            Some(limits) => {
                html.push_str("<ul>");
                if let Some(a) = &limits.debit_amount {
                    html.push_str(&format!(
                        "<li>At most <strong>{}</strong> may leave your account.</li>",
                        escape(&format_amount(a))
                    ));
                }
                if let Some(a) = &limits.receive_amount {
                    html.push_str(&format!(
                        "<li>At most <strong>{}</strong> may be received by the payees.</li>",
                        escape(&format_amount(a))
                    ));
                }
                if let Some(r) = &limits.receiver {
                    html.push_str(&format!("<li>Only to <code>{}</code>.</li>", escape(r)));
                }
                match &limits.interval {
                    Some(interval) => html.push_str(&format!(
                        "<li>{}</li>",
                        describe_interval(interval, reading, now)
                    )),
                    None => {
                        html.push_str("<li>The limit applies to the whole life of the grant.</li>")
                    }
                }
                html.push_str("</ul>");
            }
        }
    }
    html.push_str("</li>");
    html
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;line-height:1.5}\
button{font-size:1rem;padding:.5rem 1.5rem;margin-right:1rem}\
button:focus{outline:3px solid #1a5fb4;outline-offset:2px}\
code{word-break:break-all}";

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
            view.expires_at.format("%Y-%m-%d %H:%M:%S UTC")
        )
    };
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>Approve access for {name_e}? (grantflow sandbox)</title><style>{STYLE}</style></head>\
<body><main><h1>Approve access for {name_e}?</h1>\
<p><strong>{name_e}</strong>{uri_part} asks for access to your account:</p>\
<ul>{items}</ul>{form}\
<p><small>grantflow sandbox: a local test server, no real money moves.</small></p>\
</main></body></html>\n",
        name_e = escape(&name),
        uri_part = if uri.is_empty() {
            String::new()
        } else {
            format!(" (<code>{}</code>)", escape(&uri))
        },
    )
}

/// A small HTML page for a refused consent step, with the reference's status.
pub(crate) fn error_page(status: StatusCode, code: &str, description: &str) -> Response {
    let body = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Request not completed</title>\
<style>{STYLE}</style></head><body><main><h1>Request not completed</h1>\
<p role=\"alert\">{} (<code>{}</code>)</p></main></body></html>\n",
        escape(description),
        escape(code)
    );
    (status, Html(body)).into_response()
}

/// The page after a grant without a finish URI was decided.
pub(crate) fn done_page() -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Done</title>\
<style>{STYLE}</style></head><body><main><h1>Done</h1>\
<p>You can close this window and return to the application.</p></main></body></html>\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd(value: u64, scale: u8) -> Amount {
        serde_json::from_value(serde_json::json!({
            "value": value.to_string(), "assetCode": "USD", "assetScale": scale
        }))
        .unwrap()
    }

    #[test]
    fn amounts_read_as_decimals() {
        assert_eq!(format_amount(&usd(500, 2)), "5.00 USD");
        assert_eq!(format_amount(&usd(5, 2)), "0.05 USD");
        assert_eq!(format_amount(&usd(12345, 0)), "12345 USD");
        assert_eq!(format_amount(&usd(0, 3)), "0.000 USD");
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
