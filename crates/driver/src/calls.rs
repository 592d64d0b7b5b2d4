//! Making a machine [`Effect`]'s call, and turning what happened into the machine's next
//! [`Event`].
//!
//! [`Calls`] is the seam between the engine and the network: [`ClientCalls`] makes the calls
//! with `grantflow-client` (signed, timed out, bounded). The classification of failures is the
//! one the machine's rules need: *not sent* (safe to re-send anything), *ambiguous* (may have
//! reached the AS: non-idempotent calls are re-sent at most once, then the grant is `Lost`), or
//! a *refusal* with the HTTP status and GNAP error.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, SystemTime};

use grantflow_client::{Client, ClientError, Delivery, ErrorKind};
use grantflow_machine::{Answer, Effect, Event};
use grantflow_protocol::GnapError;
use url::Url;

/// What a call produced: the event to feed the machine, and the server's `Retry-After`, if any.
#[derive(Debug)]
pub struct CallOutcome {
    /// The outcome as a machine event (`Answered`, `Refused`, `NotSent` or `Ambiguous`).
    pub event: Event,
    /// How long the server asked us to wait before trying again.
    pub retry_after: Option<Duration>,
}

impl CallOutcome {
    /// An outcome without `Retry-After`.
    pub fn event(event: Event) -> Self {
        Self {
            event,
            retry_after: None,
        }
    }
}

/// A boxed future, so [`Calls`] can be used as a trait object.
pub type CallFuture<'a> = Pin<Box<dyn Future<Output = CallOutcome> + Send + 'a>>;

/// Makes the call an effect asks for. Implementations must never panic and must classify every
/// failure honestly: claiming `NotSent` for a request that may have been sent breaks the
/// at-most-once rule for continue and rotate.
pub trait Calls: Send + Sync + 'static {
    /// Makes the call of `effect` (never called with [`Effect::Notify`]).
    fn call<'a>(&'a self, effect: &'a Effect) -> CallFuture<'a>;

    /// Looks a wallet address up and returns its `authServer`: the grant endpoint of grants for
    /// that wallet. The default cannot (it has no network); [`ClientCalls`] fetches it.
    fn auth_server<'a>(&'a self, wallet_address: &'a str) -> LookupFuture<'a> {
        let _ = wallet_address;
        Box::pin(async { Err("this Calls implementation cannot look wallet addresses up".into()) })
    }

    /// The client payments make their resource-server calls with (quotes, outgoing payments,
    /// spent amounts, the sending wallet address). The default has none: such an engine cannot
    /// pay ([`EngineError::NoPaymentCalls`](crate::EngineError::NoPaymentCalls)).
    fn client(&self) -> Option<&Client> {
        None
    }
}

/// The answer of [`Calls::auth_server`]: the `authServer`, or why it could not be had.
pub type LookupFuture<'a> = Pin<Box<dyn Future<Output = Result<String, String>> + Send + 'a>>;

/// [`Calls`] over the real network with [`grantflow_client::Client`].
#[derive(Clone, Debug)]
pub struct ClientCalls {
    client: Client,
}

impl ClientCalls {
    /// Makes calls with `client` (its wallet address and key are the grant requests' client).
    pub fn new(client: Client) -> Self {
        Self { client }
    }
}

fn parse_url(what: &str, s: &str) -> Result<Url, String> {
    Url::parse(s).map_err(|e| format!("the {what} is not a URL: {e}"))
}

/// Makes the call; `Err` is a call that could not even be built (nothing sent).
async fn make(c: &Client, effect: &Effect) -> Result<Result<Answer, ClientError>, String> {
    Ok(match effect {
        Effect::SendGrantRequest { intent } => {
            let url = parse_url("grant endpoint", &intent.grant_endpoint)?;
            c.request_grant(&url, &intent.request)
                .await
                .map(Answer::Grant)
        }
        Effect::Continue {
            continuation,
            interact_ref,
        } => {
            let url = parse_url("continuation URI", &continuation.uri)?;
            c.continue_grant(&url, &continuation.access_token.value, Some(interact_ref))
                .await
                .map(Answer::Grant)
        }
        Effect::Poll { continuation } => {
            let url = parse_url("continuation URI", &continuation.uri)?;
            c.continue_grant(&url, &continuation.access_token.value, None)
                .await
                .map(Answer::Grant)
        }
        Effect::Cancel { continuation } => {
            let url = parse_url("continuation URI", &continuation.uri)?;
            c.cancel_grant(&url, &continuation.access_token.value)
                .await
                .map(|()| Answer::NoContent)
        }
        Effect::Rotate { token } => {
            let url = parse_url("manage URL", &token.manage)?;
            c.rotate_token(&url, &token.value)
                .await
                .map(Answer::Rotated)
        }
        Effect::RevokeToken { token } => {
            let url = parse_url("manage URL", &token.manage)?;
            c.revoke_token(&url, &token.value)
                .await
                .map(|()| Answer::NoContent)
        }
        Effect::Notify { .. } => return Err("a notification is not a call".into()),
    })
}

impl Calls for ClientCalls {
    fn call<'a>(&'a self, effect: &'a Effect) -> CallFuture<'a> {
        Box::pin(async move {
            match make(&self.client, effect).await {
                Ok(Ok(answer)) => CallOutcome::event(Event::Answered { answer }),
                Ok(Err(error)) => classify(&error),
                Err(detail) => CallOutcome::event(Event::NotSent { detail }),
            }
        })
    }

    fn client(&self) -> Option<&Client> {
        Some(&self.client)
    }

    fn auth_server<'a>(&'a self, wallet_address: &'a str) -> LookupFuture<'a> {
        Box::pin(async move {
            let url = parse_url("wallet address", wallet_address)?;
            self.client
                .get_wallet_address(&url)
                .await
                .map(|w| w.auth_server)
                .map_err(|e| e.to_string())
        })
    }
}

/// Maps a client error to the machine's outcome events.
pub fn classify(error: &ClientError) -> CallOutcome {
    let retry_after = error.retry_after().map(|r| r.delay_from(SystemTime::now()));
    let detail = error.to_string();
    let event = match error.kind() {
        ErrorKind::Status(s) => Event::Refused {
            status: s.status.as_u16(),
            error: s.gnap.clone().unwrap_or_default(),
        },
        kind => match error.delivery() {
            Delivery::NotSent => Event::NotSent { detail },
            Delivery::Unknown => Event::Ambiguous { detail },
            // The server answered but the answer could not be used: a success we cannot read
            // may have taken effect; an error status is a refusal without a usable body.
            Delivery::Received => match (kind, kind.status()) {
                (_, Some(status)) if !status.is_success() => Event::Refused {
                    status: status.as_u16(),
                    error: GnapError {
                        code: None,
                        description: Some(detail),
                    },
                },
                // Received means received: the AS acted; the machine does not send it again.
                (ErrorKind::MalformedBody { reason, body, .. }, Some(status)) => Event::Malformed {
                    status: status.as_u16(),
                    error: reason.clone(),
                    body_start: body_outline(&body.to_text()),
                },
                (ErrorKind::InvalidResponse { reason, .. }, Some(status)) => Event::Malformed {
                    status: status.as_u16(),
                    error: reason.clone(),
                    body_start: String::new(),
                },
                // The body never arrived whole: what it said is unknown.
                _ => Event::Ambiguous { detail },
            },
        },
    };
    CallOutcome { event, retry_after }
}

/// The start of a body that did not parse, safe to keep in a grant's reason: the structure and
/// the keys as sent, every string *value* replaced by `"…"` (values may be tokens, nonces or
/// redirect URLs that carry the AS nonce).
fn body_outline(body: &str) -> String {
    let mut out = String::new();
    let mut chars = body.chars();
    // Whether the next string is a value (after `:` or inside an array) rather than a key.
    let mut expect_value = false;
    let mut depth_is_array: Vec<bool> = Vec::new();
    while let Some(ch) = chars.next() {
        if out.chars().count() >= Event::BODY_START_CHARS {
            break;
        }
        match ch {
            '"' => {
                let mut text = String::new();
                let mut escaped = false;
                for ch in chars.by_ref() {
                    if escaped {
                        escaped = false;
                    } else if ch == '\\' {
                        escaped = true;
                    } else if ch == '"' {
                        break;
                    }
                    text.push(ch);
                }
                if expect_value || depth_is_array.last() == Some(&true) {
                    out.push_str("\"…\"");
                } else {
                    out.push('"');
                    out.push_str(&text);
                    out.push('"');
                }
                expect_value = false;
            }
            ':' => {
                expect_value = true;
                out.push(ch);
            }
            '{' | '[' => {
                depth_is_array.push(ch == '[');
                expect_value = false;
                out.push(ch);
            }
            '}' | ']' => {
                depth_is_array.pop();
                out.push(ch);
            }
            ',' => {
                expect_value = false;
                out.push(ch);
            }
            _ => out.push(ch),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::body_outline;

    #[test]
    fn a_malformed_body_keeps_its_keys_and_hides_every_string_value() {
        let body = r#"{"interact":{"redirect":"https://as/interact/1/SECRETNONCE"},"continue":{"access_token":{"value":"SECRET"},"uri":"u","wait":5},"x":["SECRET"]}"#;
        let outline = body_outline(body);
        assert!(!outline.contains("SECRET"), "{outline}");
        assert!(outline.starts_with(r#"{"interact":{"redirect":"…"},"continue":{"access_token""#));
        assert!(outline.contains(r#""wait":5"#));
    }
}
