//! The grant's state: what the machine remembers between events.
//!
//! Wire payloads (the intent, the AS's continuation and token) sit behind `Arc`, so a transition
//! shares them with the previous state instead of copying them.

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use grantflow_protocol::grant::{AccessToken, Continuation, InteractResponse, Subject};
use grantflow_protocol::{GnapError, Secret};
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::intent::GrantIntent;
use crate::kind::{AnswerKind, CallKind, StateKind};
use crate::redact::RedactedInteraction;

/// The client-side state of one grant.
///
/// Persist it with [`GrantState::to_json`] / [`GrantState::from_json`], which wrap it in an
/// envelope carrying the format [`version`](crate::FORMAT_VERSION).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum GrantState {
    /// Before the application's [`Event::Request`](crate::Event::Request): the starting point of
    /// every replay. Never stored.
    Initial,
    /// The intent is recorded; the grant request is to be sent or in flight.
    Requested(Requested),
    /// The AS answered "pending" and a finish callback is expected: the user must interact.
    AwaitingInteraction(AwaitingInteraction),
    /// The finish hash verified and the `interact_ref` is to be sent, or the grant (requested
    /// without a finish URI) is being polled.
    Continuing(Continuing),
    /// The grant is being canceled at the AS (`DELETE` on the continuation URI) on the way to
    /// [`Canceling::then`]'s final state.
    Canceling(Canceling),
    /// The grant reached an outcome. Only an issued grant still acts (its token sub-lifecycle).
    Finalized(Outcome),
    /// No interaction before the deadline; the grant was canceled at the AS.
    Expired(ExpiredGrant),
}

/// [`GrantState::Requested`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requested {
    /// What to request, and where.
    pub intent: Arc<GrantIntent>,
    /// The grant request call.
    pub call: Call,
}

/// [`GrantState::AwaitingInteraction`].
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AwaitingInteraction {
    /// What was requested (the client nonce and endpoint are inputs of the finish hash).
    pub intent: Arc<GrantIntent>,
    /// The redirect URL for the user and the AS finish nonce.
    pub interaction: Arc<InteractResponse>,
    /// The continuation (URI, token, `wait`).
    pub continuation: Arc<Continuation>,
    /// When the AS's last continuation answer arrived: no continue before this plus `wait`.
    pub answered_at: DateTime<Utc>,
    /// The client-side interaction deadline: after it the grant is canceled and ends `Expired`.
    pub deadline: DateTime<Utc>,
}

/// How a [`Continuing`] grant is continued.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum ContinueMode {
    /// The finish callback's hash verified; the `interact_ref` is sent with the continue.
    Finish {
        /// The verified, single-use interaction reference.
        interact_ref: Arc<Secret>,
    },
    /// The grant was requested without a finish URI: it is polled (bodiless continue) until the
    /// AS issues or refuses it, or the interaction deadline passes.
    Poll {
        /// The client-side interaction deadline.
        deadline: DateTime<Utc>,
    },
}

impl fmt::Debug for ContinueMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // `Secret` redacts itself; spelled out so the redaction is visible here too.
            Self::Finish { .. } => f.write_str("Finish { interact_ref: Secret(***) }"),
            Self::Poll { deadline } => f.debug_struct("Poll").field("deadline", deadline).finish(),
        }
    }
}

/// [`GrantState::Continuing`].
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Continuing {
    /// What was requested.
    pub intent: Arc<GrantIntent>,
    /// The redirect URL (kept so the application can still show it while polling).
    pub interaction: Arc<InteractResponse>,
    /// The latest continuation (a poll answer may replace it).
    pub continuation: Arc<Continuation>,
    /// Finish (with the verified `interact_ref`) or poll.
    pub mode: ContinueMode,
    /// When the AS's last continuation answer arrived.
    pub answered_at: DateTime<Utc>,
    /// `too_fast` answers in a row (drives the back-off).
    pub too_fast: u32,
    /// The continue or poll call.
    pub call: Call,
}

/// Why a grant is being canceled: the final state it reaches once the AS confirms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "then", rename_all = "snake_case")]
pub enum CancelGoal {
    /// The application asked: ends `Finalized(Canceled)`.
    Canceled,
    /// The interaction deadline passed: ends `Expired`.
    Expired {
        /// The deadline that passed.
        deadline: DateTime<Utc>,
    },
    /// A non-idempotent call's outcome is unknowable: ends `Finalized(Lost)`. Canceling revokes
    /// whatever token the AS may have issued that we never received.
    Lost(Lost),
    /// The finish callback reported a failure: ends `Finalized(Failed)`.
    Failed(Failure),
    /// The token could not be revoked on its own: the whole grant is canceled instead and ends
    /// `Finalized(Revoked)`.
    Revoked,
    /// The finish callback said the user denied: the grant is deleted at the AS too (best
    /// effort), then ends `Finalized(Rejected)`.
    Rejected,
}

/// [`GrantState::Canceling`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Canceling {
    /// The continuation to `DELETE`.
    pub continuation: Arc<Continuation>,
    /// Where the grant ends once the AS confirms (or says it no longer knows the grant).
    pub then: CancelGoal,
    /// The cancel call (idempotent: retried with back-off until answered).
    pub call: Call,
}

/// A grant's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// The AS issued an access token. The only outcome that still acts: token rotation,
    /// revocation and cancel.
    Issued(Issued),
    /// The user denied the grant.
    Rejected {
        /// When the machine learned it.
        at: DateTime<Utc>,
    },
    /// Canceled by the application (at the AS too, when it had a continuation).
    Canceled {
        /// When the cancel completed.
        at: DateTime<Utc>,
    },
    /// The token (or, failing that, the grant) was revoked on the application's command.
    Revoked {
        /// When the revocation completed.
        at: DateTime<Utc>,
    },
    /// The AS refused, or the interaction failed.
    Failed(Failure),
    /// A non-idempotent call's outcome could not be known: the token can no longer be obtained.
    /// The grant was canceled at the AS; request a new one.
    Lost(Lost),
}

/// [`Outcome::Issued`]: the access token and its sub-lifecycle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Issued {
    /// The continuation (cancel = `DELETE` on its URI revokes the grant and all its tokens).
    pub continuation: Arc<Continuation>,
    /// The current access token (value, manage URL, `expires_in`, granted access).
    pub token: Arc<AccessToken>,
    /// Subject information, if the AS returned any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Arc<Subject>>,
    /// When the current token was received.
    pub token_received_at: DateTime<Utc>,
    /// When the current token expires (`token_received_at + expires_in`), if the AS said.
    pub expires_at: Option<DateTime<Utc>>,
    /// Active, rotating or revoking.
    #[serde(flatten)]
    pub token_state: TokenState,
}

impl Issued {
    /// Whether the token may be handed out at `now`: it does not expire, or `now` is before its
    /// expiry minus the margin for its lifetime, or it was received at `now`.
    pub fn usable_at(&self, now: DateTime<Utc>, config: &Config) -> bool {
        match self.expires_at {
            None => true,
            Some(expires_at) => {
                let margin = config.margin_for(expires_at - self.token_received_at);
                now <= self.token_received_at
                    || expires_at
                        .checked_sub_signed(margin)
                        .is_some_and(|usable_until| now < usable_until)
            }
        }
    }
}

/// The token sub-lifecycle of an issued grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "token_state", rename_all = "snake_case")]
pub enum TokenState {
    /// Usable (until the margin before expiry); rotated on demand, for keep-alive, or kept warm.
    Active {
        /// When the machine will rotate it on its own (keep-alive after expiry, or expiry minus
        /// margin when kept warm), if it will.
        rotate_at: Option<DateTime<Utc>>,
    },
    /// A rotation (`POST` on the manage URL) is due or in flight.
    Rotating {
        /// The rotate call.
        call: Call,
    },
    /// A revocation (`DELETE` on the manage URL) is due or in flight.
    Revoking {
        /// The revoke call.
        call: Call,
    },
}

/// Why a grant failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "failure", rename_all = "snake_case")]
pub enum Failure {
    /// The AS refused a call with a GNAP error (or a code-less error body).
    Refused {
        /// The call that was refused.
        call: CallKind,
        /// The HTTP status.
        status: u16,
        /// The GNAP error.
        error: GnapError,
    },
    /// The finish callback carried `result=<result>` other than `grant_rejected`
    /// (`grant_invalid`, `invalid_interaction`, `unknown_interaction`, `request_denied`, ...).
    InteractionFailed {
        /// The `result` query parameter.
        result: String,
        /// The `message` query parameter, if any.
        message: Option<String>,
    },
    /// The AS answered with a response of the wrong shape for the call (for example a bare
    /// continuation to the initial grant request).
    UnexpectedAnswer {
        /// The call.
        call: CallKind,
        /// What came back.
        answer: AnswerKind,
    },
    /// The AS answered with a success status and a body that does not parse. The AS acted, so the
    /// call is not sent again.
    MalformedAnswer {
        /// The call.
        call: CallKind,
        /// The HTTP status.
        status: u16,
        /// The parse error.
        error: String,
        /// The start of the body, as the driver gave it (see [`Event::Malformed`](crate::Event::Malformed)).
        body_start: String,
    },
    /// The call kept failing (never sent, 429, 5xx, no answer) for the whole recovery budget, and
    /// no attempt can have acted at the AS.
    GaveUp {
        /// The call.
        call: CallKind,
        /// Sends so far.
        attempts: u32,
        /// The last failure.
        last_error: String,
    },
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Refused {
                call,
                status,
                error,
            } => write!(
                f,
                "the AS refused the {call} call with HTTP {status}, {error}"
            ),
            Self::InteractionFailed { result, message } => match message {
                Some(m) => write!(f, "the interaction failed: result={result} ({m})"),
                None => write!(f, "the interaction failed: result={result}"),
            },
            Self::UnexpectedAnswer { call, answer } => {
                write!(
                    f,
                    "the AS answered the {call} call with a {answer} response"
                )
            }
            Self::MalformedAnswer {
                call,
                status,
                error,
                body_start,
            } => write!(
                f,
                "the AS answered the {call} call with HTTP {status} and a body that does not parse ({error}); the body starts: {body_start}"
            ),
            Self::GaveUp {
                call,
                attempts,
                last_error,
            } => write!(
                f,
                "the {call} call failed for the whole recovery budget ({attempts} attempts; last: {last_error})"
            ),
        }
    }
}

/// [`Outcome::Lost`]: which call's outcome became unknowable, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lost {
    /// The non-idempotent call (continue, poll or rotate).
    pub call: CallKind,
    /// Why.
    pub reason: LostReason,
}

/// Why a grant was lost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum LostReason {
    /// The call was re-sent once after an ambiguous outcome, and that outcome was ambiguous too.
    /// (No longer produced: the machine now retries for [`Config::recovery_budget`](crate::Config::recovery_budget);
    /// kept so stored grants stay readable.)
    AmbiguousTwice {
        /// The last ambiguous outcome.
        detail: String,
    },
    /// After an ambiguous outcome the re-sent call was refused in the way that proves an earlier
    /// attempt succeeded at the AS (a continue or poll answered `request_denied`, a rotation
    /// `invalid_client`), and its answer is gone.
    RefusedAfterResend {
        /// The HTTP status of the refusal.
        status: u16,
        /// The GNAP error.
        error: GnapError,
    },
    /// The call kept failing for the whole recovery budget after an attempt whose outcome is
    /// unknown (it may have consumed the interaction or rotated the token).
    BudgetExhausted {
        /// Sends so far.
        attempts: u32,
        /// The last failure.
        last_error: String,
    },
    /// The AS refused to rotate the token: the grant has no usable token any more. (No longer
    /// produced: a first refusal now ends `Failed`; kept so stored grants stay readable.)
    RotationRefused {
        /// The HTTP status of the refusal.
        status: u16,
        /// The GNAP error.
        error: GnapError,
    },
}

impl fmt::Display for Lost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let call = self.call;
        match &self.reason {
            LostReason::AmbiguousTwice { detail } => write!(
                f,
                "the {call} call had an ambiguous outcome twice (last: {detail}); it is not idempotent, so the token cannot be obtained: request a new grant"
            ),
            LostReason::RefusedAfterResend { status, error } => write!(
                f,
                "the {call} call was re-sent after an ambiguous outcome and refused (HTTP {status}, {error}): the first attempt most likely succeeded and its answer is lost: request a new grant"
            ),
            LostReason::BudgetExhausted {
                attempts,
                last_error,
            } => write!(
                f,
                "the {call} call failed for the whole recovery budget ({attempts} attempts; last: {last_error}) after an attempt whose outcome is unknown; it is not idempotent, so the token cannot be obtained: request a new grant"
            ),
            LostReason::RotationRefused { status, error } => write!(
                f,
                "the AS refused to rotate the access token (HTTP {status}, {error}): request a new grant"
            ),
        }
    }
}

/// [`GrantState::Expired`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpiredGrant {
    /// The interaction deadline that passed.
    pub deadline: DateTime<Utc>,
    /// When the cancel at the AS completed.
    pub at: DateTime<Utc>,
}

/// An outgoing call: due at some instant, or in flight.
///
/// The driver commits the state with the call in flight *before* making it, so after a crash the
/// machine knows a call may have been sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Call {
    /// Which call.
    pub kind: CallKind,
    /// Due or in flight.
    #[serde(flatten)]
    pub status: CallStatus,
    /// Sends so far (the one in flight included).
    pub attempts: u32,
    /// Transient failures in a row (never sent, 429, 5xx on an idempotent call): drives the
    /// back-off.
    pub failures: u32,
    /// An attempt of this call had an unknown outcome (5xx, no answer, crash) and no definite
    /// answer has settled it since: a refusal that proves the earlier attempt acted, or the end of
    /// the recovery budget, now means `Lost`.
    pub resent_after_ambiguity: bool,
    /// Since when the call has been failing, and how it last failed; `None` while it has not
    /// failed (absent in stored states before format version 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trouble: Option<CallTrouble>,
}

/// [`Call::trouble`]: a call failing in a row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallTrouble {
    /// The first failure in a row: the recovery budget counts from here.
    pub since: DateTime<Utc>,
    /// The last failure, for the grant's status.
    pub last_error: String,
}

/// [`Call::status`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "call_status", rename_all = "snake_case")]
pub enum CallStatus {
    /// To be sent at (or after) `at`.
    Due {
        /// When.
        at: DateTime<Utc>,
    },
    /// Handed to the driver at `since`; if no outcome has come by `wake_at`, the grant needs
    /// attention (the caller probably crashed).
    InFlight {
        /// When the call was handed out.
        since: DateTime<Utc>,
        /// `since` plus the configured call timeout.
        wake_at: DateTime<Utc>,
    },
}

impl Call {
    /// The instant this call next needs attention.
    pub fn wake_at(&self) -> DateTime<Utc> {
        match self.status {
            CallStatus::Due { at } => at,
            CallStatus::InFlight { wake_at, .. } => wake_at,
        }
    }

    /// Whether the call is in flight.
    pub fn in_flight(&self) -> bool {
        matches!(self.status, CallStatus::InFlight { .. })
    }
}

impl GrantState {
    /// The instant this grant next needs attention (a `Wake`), or `None` for final states and for
    /// an issued token that never expires (nothing can go stale).
    ///
    /// Every other state that is not final has one: no grant can be stuck. An issued token is
    /// woken for its keep-alive rotation ([`Rotation::OnDemand`](crate::Rotation::OnDemand)) or
    /// before its expiry ([`Rotation::KeepWarm`](crate::Rotation::KeepWarm)).
    pub fn next_wake_at(&self) -> Option<DateTime<Utc>> {
        match self {
            Self::Initial | Self::Expired(_) => None,
            Self::Requested(s) => Some(s.call.wake_at()),
            Self::AwaitingInteraction(s) => Some(s.deadline),
            Self::Continuing(s) => match (&s.mode, s.call.status) {
                (ContinueMode::Poll { deadline }, CallStatus::Due { at }) => {
                    Some(at.min(*deadline))
                }
                _ => Some(s.call.wake_at()),
            },
            Self::Canceling(s) => Some(s.call.wake_at()),
            Self::Finalized(Outcome::Issued(i)) => match &i.token_state {
                TokenState::Active { rotate_at } => *rotate_at,
                TokenState::Rotating { call } | TokenState::Revoking { call } => {
                    Some(call.wake_at())
                }
            },
            Self::Finalized(_) => None,
        }
    }

    /// Whether the grant has reached a state that absorbs every event: any outcome but `Issued`,
    /// and `Expired`.
    pub fn is_final(&self) -> bool {
        self.kind().is_final()
    }

    /// The call in flight, if any.
    pub fn call_in_flight(&self) -> Option<CallKind> {
        self.call().filter(|c| c.in_flight()).map(|c| c.kind)
    }

    /// The pending call (due or in flight), if any.
    pub fn call(&self) -> Option<&Call> {
        match self {
            Self::Requested(s) => Some(&s.call),
            Self::Continuing(s) => Some(&s.call),
            Self::Canceling(s) => Some(&s.call),
            Self::Finalized(Outcome::Issued(i)) => match &i.token_state {
                TokenState::Rotating { call } | TokenState::Revoking { call } => Some(call),
                TokenState::Active { .. } => None,
            },
            _ => None,
        }
    }

    /// The redirect URL to send the user to, while the grant waits for (or polls for) the
    /// interaction.
    pub fn redirect(&self) -> Option<&str> {
        match self {
            Self::AwaitingInteraction(s) => Some(&s.interaction.redirect),
            Self::Continuing(s) if matches!(s.mode, ContinueMode::Poll { .. }) => {
                Some(&s.interaction.redirect)
            }
            _ => None,
        }
    }

    /// The current access token of an issued grant.
    pub fn access_token(&self) -> Option<&AccessToken> {
        match self {
            Self::Finalized(Outcome::Issued(i)) => Some(&i.token),
            _ => None,
        }
    }

    /// The access token, if it may be handed out at `now`: the grant is issued, no rotation or
    /// revocation is under way, and the token is not within the margin of its expiry
    /// ([`Config::margin_for`]). `None` means: send [`Event::RotateNow`](crate::Event::RotateNow)
    /// (if the grant is issued) and hand out the token of the transition that rotated it, without
    /// asking again (a token just rotated is usable whatever its lifetime).
    pub fn usable_token(&self, now: DateTime<Utc>, config: &Config) -> Option<&AccessToken> {
        match self {
            Self::Finalized(Outcome::Issued(i))
                if matches!(i.token_state, TokenState::Active { .. })
                    && i.usable_at(now, config) =>
            {
                Some(&i.token)
            }
            _ => None,
        }
    }

    /// Why the grant failed or was lost, or, while a call keeps failing, its last error.
    pub fn reason(&self) -> Option<String> {
        match self {
            Self::Finalized(Outcome::Failed(f)) => Some(f.to_string()),
            Self::Finalized(Outcome::Lost(l)) => Some(l.to_string()),
            Self::Canceling(Canceling {
                then: CancelGoal::Failed(f),
                ..
            }) => Some(f.to_string()),
            Self::Canceling(Canceling {
                then: CancelGoal::Lost(l),
                ..
            }) => Some(l.to_string()),
            _ => self.call().and_then(|c| c.trouble.as_ref()).map(|t| {
                format!(
                    "retrying the {} call (failing since {}): {}",
                    self.call().map_or(CallKind::GrantRequest, |c| c.kind),
                    t.since.format("%Y-%m-%d %H:%M:%S UTC"),
                    t.last_error
                )
            }),
        }
    }

    /// The coarse state, as named in the transition table.
    pub fn kind(&self) -> StateKind {
        match self {
            Self::Initial => StateKind::Initial,
            Self::Requested(_) => StateKind::Requested,
            Self::AwaitingInteraction(_) => StateKind::AwaitingInteraction,
            Self::Continuing(_) => StateKind::Continuing,
            Self::Canceling(_) => StateKind::Canceling,
            Self::Finalized(o) => match o {
                Outcome::Issued(i) => match i.token_state {
                    TokenState::Active { .. } => StateKind::Issued,
                    TokenState::Rotating { .. } => StateKind::Rotating,
                    TokenState::Revoking { .. } => StateKind::Revoking,
                },
                Outcome::Rejected { .. } => StateKind::Rejected,
                Outcome::Canceled { .. } => StateKind::Canceled,
                Outcome::Revoked { .. } => StateKind::Revoked,
                Outcome::Failed(_) => StateKind::Failed,
                Outcome::Lost(_) => StateKind::Lost,
            },
            Self::Expired(_) => StateKind::Expired,
        }
    }
}

impl fmt::Debug for AwaitingInteraction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwaitingInteraction")
            .field("intent", &self.intent)
            .field("interaction", &RedactedInteraction(&self.interaction))
            .field("continuation", &self.continuation)
            .field("answered_at", &self.answered_at)
            .field("deadline", &self.deadline)
            .finish()
    }
}

impl fmt::Debug for Continuing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Continuing")
            .field("intent", &self.intent)
            .field("interaction", &RedactedInteraction(&self.interaction))
            .field("continuation", &self.continuation)
            .field("mode", &self.mode)
            .field("answered_at", &self.answered_at)
            .field("too_fast", &self.too_fast)
            .field("call", &self.call)
            .finish()
    }
}
