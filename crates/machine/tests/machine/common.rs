//! Fixtures: the seed flows' wire data, shaped like the reference server's answers, with every
//! secret carrying the marker `SECRET` so the Debug checks can look for it.

use chrono::{DateTime, TimeZone, Utc};
use grantflow_machine::{
    Answer, Config, Event, FinishCallback, GrantIntent, GrantState, MachineError, Transition,
    transition,
};
use grantflow_protocol::finish_hash::{FinishHashEncoding, finish_hash};
use grantflow_protocol::grant::GrantRequest;
use grantflow_protocol::{GnapError, GnapErrorCode, Secret};

/// The grant endpoint (the wallet address's `authServer`), exactly as POSTed to.
pub const ENDPOINT: &str = "https://auth.example/4f4d1a52-tenant";
/// The client's `interact.finish.nonce`.
pub const CLIENT_NONCE: &str = "SECRET-client-nonce-5e3c";
/// The AS nonce (`interact.finish`), 16 hex characters at the reference server; it is also the
/// last path segment of the redirect URL.
pub const AS_NONCE: &str = "SECRETA5F00DBEEF";
/// The continuation token.
pub const CONTINUE_TOKEN: &str = "SECRETC0C0C0C0C0C0C0";
/// The continuation URI.
pub const CONTINUE_URI: &str = "https://auth.example/continue/7a1f2c54-6d5e-4a8b-9c3d-2e1f0a9b8c7d";

/// 2026-11-25T02:00:00Z.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 2, 0, 0).unwrap()
}

/// The seed flow's outgoing-payment grant request: debit limit, the repeating interval
/// `R/2016-08-24T08:00:00Z/P1D`, interactive with a redirect finish (or, without `finish`, to be
/// polled).
pub fn outgoing_request(finish: bool) -> GrantRequest {
    let finish = if finish {
        format!(
            r#","finish":{{"method":"redirect","uri":"http://localhost:3344","nonce":"{CLIENT_NONCE}"}}"#
        )
    } else {
        String::new()
    };
    let json = format!(
        r#"{{"access_token":{{"access":[{{"type":"outgoing-payment","actions":["list","list-all","read","read-all","create"],"identifier":"https://ilp.example/alice","limits":{{"debitAmount":{{"value":"500","assetCode":"USD","assetScale":2}},"interval":"R/2016-08-24T08:00:00Z/P1D"}}}}]}},"client":"https://wallet.example/client","interact":{{"start":["redirect"]{finish}}}}}"#
    );
    serde_json::from_str(&json).unwrap()
}

/// A non-interactive incoming-payment grant request.
pub fn incoming_request() -> GrantRequest {
    serde_json::from_str(
        r#"{"access_token":{"access":[{"type":"incoming-payment","actions":["create","read","list","complete"]}]},"client":"https://wallet.example/client"}"#,
    )
    .unwrap()
}

/// The three kinds of intent the tests use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Outgoing payment, redirect finish.
    Interactive,
    /// Outgoing payment, no finish URI: polled.
    Polling,
    /// Incoming payment: issued at once.
    NonInteractive,
}

pub fn intent(flow: Flow) -> GrantIntent {
    let request = match flow {
        Flow::Interactive => outgoing_request(true),
        Flow::Polling => outgoing_request(false),
        Flow::NonInteractive => incoming_request(),
    };
    GrantIntent::new(ENDPOINT, request)
}

pub fn request(flow: Flow) -> Event {
    Event::Request {
        intent: std::sync::Arc::new(intent(flow)),
    }
}

fn answer(json: &str) -> Event {
    Event::Answered {
        answer: Answer::Grant(serde_json::from_str(json).unwrap()),
    }
}

/// The reference server's pending answer (`wait: 5`, or as given).
pub fn pending(wait: Option<u64>) -> Event {
    let wait = wait.map(|w| format!(r#","wait":{w}"#)).unwrap_or_default();
    answer(&format!(
        r#"{{"interact":{{"redirect":"https://auth.example/interact/0b5d3c1e-2f4a-4b6c-8d9e-1a2b3c4d5e6f/{AS_NONCE}?clientName=Shop&clientUri=https%3A%2F%2Fshop.example","finish":"{AS_NONCE}"}},"continue":{{"access_token":{{"value":"{CONTINUE_TOKEN}"}},"uri":"{CONTINUE_URI}"{wait}}}}}"#
    ))
}

/// The access token value of the `n`-th token.
pub fn token_value(n: u32) -> String {
    format!("SECRETT0KEN{n:09}")
}

/// The manage URL of the `n`-th token.
pub fn manage_url(n: u32) -> String {
    format!("https://auth.example/token/00000000-0000-4000-8000-{n:012}")
}

fn token_json(n: u32, expires_in: Option<u64>) -> String {
    let expires = expires_in
        .map(|e| format!(r#","expires_in":{e}"#))
        .unwrap_or_default();
    format!(
        r#"{{"value":"{}","manage":"{}"{expires},"access":[{{"type":"outgoing-payment","actions":["create","read"],"identifier":"https://ilp.example/alice","limits":{{"debitAmount":{{"value":"500","assetCode":"USD","assetScale":2}},"interval":"R/2016-08-24T08:00:00Z/P1D"}}}}]}}"#,
        token_value(n),
        manage_url(n)
    )
}

/// An issued grant (token `n`), with the unchanged continuation and no `wait`.
pub fn issued(n: u32, expires_in: Option<u64>) -> Event {
    answer(&format!(
        r#"{{"access_token":{},"continue":{{"access_token":{{"value":"{CONTINUE_TOKEN}"}},"uri":"{CONTINUE_URI}"}}}}"#,
        token_json(n, expires_in)
    ))
}

/// A poll answer: still pending.
pub fn continuation(wait: Option<u64>) -> Event {
    let wait = wait.map(|w| format!(r#","wait":{w}"#)).unwrap_or_default();
    answer(&format!(
        r#"{{"continue":{{"access_token":{{"value":"{CONTINUE_TOKEN}"}},"uri":"{CONTINUE_URI}"{wait}}}}}"#
    ))
}

/// A rotation answer: token `n` (new value, new manage URL).
pub fn rotated(n: u32, expires_in: Option<u64>) -> Event {
    Event::Answered {
        answer: Answer::Rotated(
            serde_json::from_str(&format!(
                r#"{{"access_token":{}}}"#,
                token_json(n, expires_in)
            ))
            .unwrap(),
        ),
    }
}

pub fn no_content() -> Event {
    Event::Answered {
        answer: Answer::NoContent,
    }
}

pub fn refused(status: u16, code: Option<&str>, description: &str) -> Event {
    Event::Refused {
        status,
        error: GnapError {
            code: code.map(GnapErrorCode::parse),
            description: Some(description.to_owned()),
        },
    }
}

pub fn not_sent() -> Event {
    Event::NotSent {
        detail: "connection refused (os error 111)".into(),
    }
}

/// A 2xx whose body does not parse (the pending grant without `interact.finish` of the issue).
pub fn malformed() -> Event {
    Event::Malformed {
        status: 200,
        error: "missing field `finish` at line 1 column 120".into(),
        body_start: r#"{"interact":{"redirect":"https://auth.example/interact/x"},"continue":{"#
            .into(),
    }
}

pub fn ambiguous() -> Event {
    Event::Ambiguous {
        detail: "timed out after 30s waiting for the response".into(),
    }
}

/// The interact_ref the AS hands back (`n`-th).
pub fn interact_ref(n: u32) -> String {
    format!("SECRET-ref-{n:04}-4f1e")
}

/// The finish redirect with a correct hash, in either encoding.
pub fn callback(interact_ref: &str, encoding: FinishHashEncoding) -> Event {
    let hash = finish_hash(CLIENT_NONCE, AS_NONCE, interact_ref, ENDPOINT, encoding);
    Event::FinishCallback {
        callback: FinishCallback::Approved {
            hash,
            interact_ref: Secret::new(interact_ref),
        },
    }
}

/// A finish redirect whose hash was computed for another interact_ref (a forgery).
pub fn forged_callback(interact_ref: &str) -> Event {
    let hash = finish_hash(
        CLIENT_NONCE,
        AS_NONCE,
        "some-other-ref",
        ENDPOINT,
        FinishHashEncoding::Rfc9635,
    );
    Event::FinishCallback {
        callback: FinishCallback::Approved {
            hash,
            interact_ref: Secret::new(interact_ref),
        },
    }
}

pub fn result_callback(result: &str, message: Option<&str>) -> Event {
    Event::FinishCallback {
        callback: FinishCallback::Result {
            result: result.into(),
            message: message.map(str::to_owned),
        },
    }
}

/// Runs events through the machine like a driver would, recording the accepted ones.
pub struct Run {
    pub state: GrantState,
    pub now: DateTime<Utc>,
    pub config: Config,
    pub log: Vec<(Event, DateTime<Utc>)>,
    pub last: Option<Transition>,
}

impl Run {
    pub fn new() -> Self {
        Self::with_config(Config::default())
    }

    pub fn with_config(config: Config) -> Self {
        Self {
            state: GrantState::Initial,
            now: t0(),
            config,
            log: Vec::new(),
            last: None,
        }
    }

    /// Applies `event` at `now + after_secs`; on success keeps the new state and logs the event.
    pub fn at(&mut self, after_secs: i64, event: Event) -> Result<Transition, MachineError> {
        self.now += chrono::TimeDelta::seconds(after_secs);
        let t = transition(&self.state, event.clone(), self.now, &self.config)?;
        self.state = t.state.clone();
        self.log.push((event, self.now));
        self.last = Some(t.clone());
        Ok(t)
    }

    /// Like [`Run::at`], but the event must be accepted.
    pub fn ok(&mut self, after_secs: i64, event: Event) -> Transition {
        match self.at(after_secs, event) {
            Ok(t) => t,
            Err(e) => panic!("refused at {}: {e}\nstate: {:?}", self.now, self.state),
        }
    }

    /// A wake-up exactly at `next_wake_at`.
    pub fn wake(&mut self) -> Transition {
        let at = self.state.next_wake_at().expect("a wake-up time");
        if at > self.now {
            self.now = at;
        }
        self.ok(0, Event::Wake)
    }

    /// Replays the log from the initial state.
    pub fn replay(&self) -> GrantState {
        let mut state = GrantState::Initial;
        for (event, at) in &self.log {
            state = transition(&state, event.clone(), *at, &self.config)
                .expect("a recorded event replays")
                .state;
        }
        state
    }
}
