//! Events, calls and answers in words for the timeline, never with a secret: tokens, nonces and
//! `interact_ref`s are never read here, interaction URLs and finish URIs never shown, and the
//! URLs of calls pass through `display_url`.

use grantflow_machine::{Answer, Effect, Event, FinishCallback};
use grantflow_protocol::grant::{AccessItem, GrantResponse};

use crate::format::display_url;

/// What happened, in a few words (the command, the callback, time passing), or `None` for the
/// outcome of a call, which [`answer`] says.
pub(crate) fn event(event: &Event) -> Option<String> {
    Some(match event {
        Event::Request { intent } => {
            let types = intent
                .request
                .access_token
                .as_ref()
                .map(|t| access_types(&t.access))
                .unwrap_or_default();
            format!(
                "requested ({}) at {}",
                if types.is_empty() {
                    "no access"
                } else {
                    &types
                },
                display_url(&intent.grant_endpoint)
            )
        }
        Event::Cancel => "command: cancel".to_owned(),
        Event::RotateNow => "command: rotate the access token".to_owned(),
        Event::Revoke => "command: revoke".to_owned(),
        Event::FinishCallback { callback } => match callback {
            FinishCallback::Approved { .. } => {
                "finish callback: the user approved (hash and interaction reference received)"
                    .to_owned()
            }
            FinishCallback::Result { result, message } => match message {
                Some(m) => format!("finish callback: result={result} ({m})"),
                None => format!("finish callback: result={result}"),
            },
        },
        Event::Wake => "wake: due, or resumed after its worker stopped".to_owned(),
        Event::Answered { .. }
        | Event::Refused { .. }
        | Event::NotSent { .. }
        | Event::Ambiguous { .. }
        | Event::Malformed { .. } => return None,
    })
}

/// The authorization server's answer to the call in flight, redacted (what it said, never the
/// tokens it sent), if `event` is a call's outcome.
pub(crate) fn answer(event: &Event) -> Option<String> {
    Some(match event {
        Event::Answered { answer } => match answer {
            Answer::Grant(GrantResponse::Pending(p)) => {
                format!("pending: the user must interact{}", wait(p.continue_.wait))
            }
            Answer::Grant(GrantResponse::Issued(i)) => format!(
                "issued: an access token for {}{}",
                access_types(&i.access_token.access),
                expires(i.access_token.expires_in)
            ),
            Answer::Grant(GrantResponse::Continuation(c)) => {
                format!("still pending{}", wait(c.continue_.wait))
            }
            Answer::Rotated(r) => format!(
                "rotated: a new access token{} and manage URL {}",
                expires(r.access_token.expires_in),
                display_url(&r.access_token.manage)
            ),
            Answer::NoContent => "204 No Content".to_owned(),
        },
        Event::Refused { status, error } => format!("HTTP {status}, {error}"),
        Event::Malformed { status, error, .. } => {
            format!("HTTP {status} with a body that does not parse: {error}")
        }
        Event::NotSent { detail } => format!("not sent: {detail}"),
        Event::Ambiguous { detail } => {
            format!("no answer (the call may have reached the server): {detail}")
        }
        _ => return None,
    })
}

/// The call a transition made: method, URL (redacted) and what it is.
pub(crate) fn call(effect: &Effect) -> Option<String> {
    let (method, url, what) = match effect {
        Effect::SendGrantRequest { intent } => ("POST", &intent.grant_endpoint, "grant request"),
        Effect::Continue { continuation, .. } => (
            "POST",
            &continuation.uri,
            "continue with the interaction reference",
        ),
        Effect::Poll { continuation } => ("POST", &continuation.uri, "poll"),
        Effect::Cancel { continuation } => ("DELETE", &continuation.uri, "cancel the grant"),
        Effect::Rotate { token } => ("POST", &token.manage, "rotate the access token"),
        Effect::RevokeToken { token } => ("DELETE", &token.manage, "revoke the access token"),
        Effect::Notify { .. } => return None,
    };
    Some(format!("{method} {} ({what})", display_url(url)))
}

/// The access types of `access`, in order, each once: `outgoing-payment, quote`.
pub(crate) fn access_types(access: &[AccessItem]) -> String {
    let mut types: Vec<&str> = Vec::new();
    for item in access {
        if !types.contains(&item.type_str()) {
            types.push(item.type_str());
        }
    }
    types.join(", ")
}

fn wait(seconds: Option<u64>) -> String {
    seconds.map_or_else(String::new, |s| format!(" (continue after {s} s)"))
}

fn expires(seconds: Option<u64>) -> String {
    seconds.map_or_else(String::new, |s| format!(", expiring in {s} s"))
}
