//! The demo's [`Calls`]: the real network calls of [`ClientCalls`], each shown on the timeline
//! (what is sent to whom, and the answer, never a secret), and the crash the demo stages: the
//! first worker dies when it is about to send the continue.

use std::sync::{Arc, Mutex};

use grantflow_driver::{CallFuture, CallOutcome, Calls, ClientCalls};
use grantflow_machine::{Answer, Effect, Event};
use grantflow_protocol::grant::GrantResponse;

use crate::cli::browser::display_url;
use crate::cli::demo::timeline::Timeline;

/// Shows every call on the timeline and can stage a crash before a continue.
pub struct ObservedCalls {
    inner: ClientCalls,
    timeline: Arc<Timeline>,
    worker: String,
    /// Fired (once) when a continue is about to be sent; the call then never returns, like a
    /// process killed at that instant. `None`: no crash staged.
    crash_before_continue: Mutex<Option<tokio::sync::oneshot::Sender<()>>>,
}

impl ObservedCalls {
    /// Calls through `inner`, printed as made by `worker`.
    pub fn new(inner: ClientCalls, timeline: Arc<Timeline>, worker: &str) -> Self {
        Self {
            inner,
            timeline,
            worker: worker.to_owned(),
            crash_before_continue: Mutex::new(None),
        }
    }

    /// Stages the crash: `fired` is sent when the continue is about to leave.
    pub fn crash_before_continue(self, fired: tokio::sync::oneshot::Sender<()>) -> Self {
        if let Ok(mut slot) = self.crash_before_continue.lock() {
            *slot = Some(fired);
        }
        self
    }
}

impl Calls for ObservedCalls {
    fn call<'a>(&'a self, effect: &'a Effect) -> CallFuture<'a> {
        Box::pin(async move {
            let (method, url, what) = describe(effect);
            if matches!(effect, Effect::Continue { .. }) {
                let staged = self
                    .crash_before_continue
                    .lock()
                    .ok()
                    .and_then(|mut slot| slot.take());
                if let Some(fired) = staged {
                    self.timeline.line(format_args!(
                        "      ✗ {} dies here: the callback is recorded, the continue to {} is not sent",
                        self.worker,
                        display_url(url)
                    ));
                    let _ = fired.send(());
                    // The process is gone: nothing after this runs, nothing is released.
                    return std::future::pending::<CallOutcome>().await;
                }
            }
            self.timeline.line(format_args!(
                "      → {method} {}  {what}  [{}]",
                display_url(url),
                self.worker
            ));
            let outcome = self.inner.call(effect).await;
            self.timeline
                .line(format_args!("      ← {}", describe_outcome(&outcome.event)));
            outcome
        })
    }
}

/// Method, URL and a few words for a call.
fn describe(effect: &Effect) -> (&'static str, &str, &'static str) {
    match effect {
        Effect::SendGrantRequest { intent } => ("POST", &intent.grant_endpoint, "grant request"),
        Effect::Continue { continuation, .. } => {
            ("POST", &continuation.uri, "continue with interact_ref")
        }
        Effect::Poll { continuation } => ("POST", &continuation.uri, "poll"),
        Effect::Cancel { continuation } => ("DELETE", &continuation.uri, "cancel the grant"),
        Effect::Rotate { token } => ("POST", &token.manage, "rotate the access token"),
        Effect::RevokeToken { token } => ("DELETE", &token.manage, "revoke the access token"),
        Effect::Notify { .. } => ("-", "", "notification"),
    }
}

/// The outcome of a call in a few words, without secrets.
pub fn describe_outcome(event: &Event) -> String {
    match event {
        Event::Answered { answer } => match answer {
            Answer::Grant(GrantResponse::Pending(p)) => format!(
                "200 pending: the user must interact (continue.wait {}s)",
                p.continue_.wait.unwrap_or(0)
            ),
            Answer::Grant(GrantResponse::Issued(i)) => match i.access_token.expires_in {
                Some(s) => format!("200 issued: access token (expires in {s}s)"),
                None => "200 issued: access token".to_owned(),
            },
            Answer::Grant(GrantResponse::Continuation(_)) => "200 still pending".to_owned(),
            Answer::Rotated(r) => format!(
                "200 rotated: new token, new manage URL {}",
                display_url(&r.access_token.manage)
            ),
            Answer::NoContent => "204 done".to_owned(),
        },
        Event::Refused { status, error } => format!("{status} refused: {error}"),
        Event::NotSent { detail } => format!("not sent: {detail}"),
        Event::Ambiguous { detail } => format!("no answer (may have reached the server): {detail}"),
        other => format!("{}", other.kind()),
    }
}
