//! Grant requests and responses of the Open Payments authorization server (GNAP, RFC 9635 as
//! profiled by Open Payments).
//!
//! - [`GrantRequest`] is the body of `POST <walletAddress.authServer>`.
//! - [`GrantResponse`] is its 200 answer and the answer to a continuation: [`PendingGrant`] when
//!   `interact` is present, [`IssuedGrant`] when `access_token` is present, [`GrantContinuation`]
//!   when only `continue` is. Both `interact` and `access_token`, or neither `interact`,
//!   `access_token` nor `continue`, is a typed error: the variant is never guessed.
//! - [`ContinueRequest`] is the body of `POST <continue.uri>` after the interaction finished.
//! - [`RotatedToken`] is the answer of `POST <access_token.manage>`.
//!
//! URLs are kept as the exact strings received or sent, because the finish hash and the
//! signature base are computed over the exact strings.

use std::fmt;

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize, Serializer};

use grantflow_interval::RepeatingInterval;

use crate::amount::Amount;
use crate::jwk::Jwk;
use crate::secret::Secret;

/// The body of a grant request.
///
/// ```
/// use grantflow_protocol::grant::*;
/// use grantflow_protocol::secret::Secret;
///
/// let req = GrantRequest {
///     access_token: Some(AccessTokenRequest {
///         access: vec![AccessItem::IncomingPayment(IncomingPaymentAccess {
///             actions: vec![AccessAction::Create, AccessAction::Read],
///             identifier: None,
///         })],
///     }),
///     client: Client::WalletAddress("https://wallet.example/alice".into()),
///     interact: None,
///     subject: None,
/// };
/// assert_eq!(
///     serde_json::to_string(&req).unwrap(),
///     r#"{"access_token":{"access":[{"type":"incoming-payment","actions":["create","read"]}]},"client":"https://wallet.example/alice"}"#
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantRequest {
    /// The access requested (required unless the request asks only for a subject).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token: Option<AccessTokenRequest>,
    /// Who the client is.
    pub client: Client,
    /// How the resource owner will be asked, for interactive grants.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interact: Option<InteractRequest>,
    /// Subject information requested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<SubjectRequest>,
}

/// The `access_token` member of a grant request: a single token with a list of access items.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessTokenRequest {
    /// What the token should allow (at most 3 items in the spec).
    pub access: Vec<AccessItem>,
}

/// One access right, tagged by `"type"`.
///
/// Deserialising checks the actions allowed for each type (see [`AccessItem::allowed_actions`]):
/// an action outside that list is a typed error.
// The outgoing-payment variant carries the parsed interval inline; a request has at most three
// items, so boxing would only make matching clumsier for every user.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", try_from = "RawAccessItem")]
pub enum AccessItem {
    /// `incoming-payment`.
    #[serde(rename = "incoming-payment")]
    IncomingPayment(IncomingPaymentAccess),
    /// `outgoing-payment`.
    #[serde(rename = "outgoing-payment")]
    OutgoingPayment(OutgoingPaymentAccess),
    /// `quote`.
    #[serde(rename = "quote")]
    Quote(QuoteAccess),
}

#[allow(clippy::large_enum_variant)]
#[derive(Deserialize)]
#[serde(tag = "type")]
enum RawAccessItem {
    #[serde(rename = "incoming-payment")]
    IncomingPayment(IncomingPaymentAccess),
    #[serde(rename = "outgoing-payment")]
    OutgoingPayment(OutgoingPaymentAccess),
    #[serde(rename = "quote")]
    Quote(QuoteAccess),
}

/// An action not allowed for an access type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("action `{action}` is not allowed for access type `{access_type}` (allowed: {allowed})")]
pub struct DisallowedAction {
    /// The access type.
    pub access_type: &'static str,
    /// The offending action.
    pub action: AccessAction,
    /// The allowed actions, space-separated.
    pub allowed: String,
}

impl TryFrom<RawAccessItem> for AccessItem {
    type Error = DisallowedAction;
    fn try_from(raw: RawAccessItem) -> Result<Self, Self::Error> {
        let item = match raw {
            RawAccessItem::IncomingPayment(a) => AccessItem::IncomingPayment(a),
            RawAccessItem::OutgoingPayment(a) => AccessItem::OutgoingPayment(a),
            RawAccessItem::Quote(a) => AccessItem::Quote(a),
        };
        item.check_actions()?;
        Ok(item)
    }
}

impl AccessItem {
    /// The `type` string on the wire.
    pub fn type_str(&self) -> &'static str {
        match self {
            AccessItem::IncomingPayment(_) => "incoming-payment",
            AccessItem::OutgoingPayment(_) => "outgoing-payment",
            AccessItem::Quote(_) => "quote",
        }
    }

    /// The requested actions.
    pub fn actions(&self) -> &[AccessAction] {
        match self {
            AccessItem::IncomingPayment(a) => &a.actions,
            AccessItem::OutgoingPayment(a) => &a.actions,
            AccessItem::Quote(a) => &a.actions,
        }
    }

    /// The actions the Open Payments spec allows for this access type.
    pub fn allowed_actions(&self) -> &'static [AccessAction] {
        use AccessAction::*;
        match self {
            AccessItem::IncomingPayment(_) => &[Create, Complete, Read, ReadAll, List, ListAll],
            AccessItem::OutgoingPayment(_) => &[Create, Read, ReadAll, List, ListAll],
            AccessItem::Quote(_) => &[Create, Read, ReadAll],
        }
    }

    /// Checks that every action is allowed for the type.
    pub fn check_actions(&self) -> Result<(), DisallowedAction> {
        let allowed = self.allowed_actions();
        match self.actions().iter().find(|a| !allowed.contains(a)) {
            None => Ok(()),
            Some(action) => Err(DisallowedAction {
                access_type: self.type_str(),
                action: *action,
                allowed: allowed
                    .iter()
                    .map(|a| a.as_str())
                    .collect::<Vec<_>>()
                    .join(" "),
            }),
        }
    }
}

/// An action in an access item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AccessAction {
    /// `create`.
    Create,
    /// `complete` (incoming payments only).
    Complete,
    /// `read`: the client's own resources.
    Read,
    /// `read-all`: every resource of the wallet address.
    ReadAll,
    /// `list`: the client's own resources.
    List,
    /// `list-all`: every resource of the wallet address.
    ListAll,
}

impl AccessAction {
    /// The action as on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            AccessAction::Create => "create",
            AccessAction::Complete => "complete",
            AccessAction::Read => "read",
            AccessAction::ReadAll => "read-all",
            AccessAction::List => "list",
            AccessAction::ListAll => "list-all",
        }
    }
}

impl fmt::Display for AccessAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Access to incoming payments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncomingPaymentAccess {
    /// Allowed: `create complete read read-all list list-all`.
    pub actions: Vec<AccessAction>,
    /// The wallet address the access is for, if restricted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identifier: Option<String>,
}

/// Access to outgoing payments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutgoingPaymentAccess {
    /// Allowed: `create read read-all list list-all`.
    pub actions: Vec<AccessAction>,
    /// The wallet address the payments are sent from (required).
    pub identifier: String,
    /// Spending limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<OutgoingPaymentLimits>,
}

/// Access to quotes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuoteAccess {
    /// Allowed: `create read read-all`.
    pub actions: Vec<AccessAction>,
}

/// Limits of an outgoing-payment grant.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutgoingPaymentLimits {
    /// The only incoming payment the grant may pay (`…/incoming-payments/…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receiver: Option<String>,
    /// The most that may be debited (per interval when `interval` is set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub debit_amount: Option<Amount>,
    /// The most that may be received (per interval when `interval` is set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receive_amount: Option<Amount>,
    /// ISO 8601 repeating interval over which the amounts reset (`R/2016-08-24T08:00:00Z/P1D`),
    /// parsed strictly; an invalid interval is a malformed body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<RepeatingInterval>,
}

/// The `client` of a grant request: a wallet address string, `{walletAddress}` or `{jwk}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Client {
    /// The spec's string form: the client's wallet address URL.
    WalletAddress(String),
    /// `{"walletAddress": "…"}` (SDK form).
    WalletAddressObject {
        /// The wallet address URL.
        wallet_address: String,
    },
    /// `{"jwk": {…}}`: a client identified only by its key (non-interactive grants).
    Jwk {
        /// The key.
        jwk: Jwk,
    },
}

impl Client {
    /// The wallet address, when the client is identified by one.
    pub fn wallet_address(&self) -> Option<&str> {
        match self {
            Client::WalletAddress(w) => Some(w),
            Client::WalletAddressObject { wallet_address } => Some(wallet_address),
            Client::Jwk { .. } => None,
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum RawClient {
    String(String),
    WalletAddress {
        #[serde(rename = "walletAddress")]
        wallet_address: String,
    },
    Jwk {
        jwk: Jwk,
    },
}

impl Serialize for Client {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let raw = match self {
            Client::WalletAddress(w) => RawClient::String(w.clone()),
            Client::WalletAddressObject { wallet_address } => RawClient::WalletAddress {
                wallet_address: wallet_address.clone(),
            },
            Client::Jwk { jwk } => RawClient::Jwk { jwk: jwk.clone() },
        };
        raw.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Client {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let v = serde_json::Value::deserialize(deserializer)?;
        let obj = match &v {
            serde_json::Value::String(s) => return Ok(Client::WalletAddress(s.clone())),
            serde_json::Value::Object(o) => o,
            _ => {
                return Err(de::Error::custom(
                    "`client` must be a wallet address string, {\"walletAddress\"} or {\"jwk\"}",
                ));
            }
        };
        match (obj.get("walletAddress"), obj.get("jwk")) {
            (Some(w), None) => match w {
                serde_json::Value::String(s) => Ok(Client::WalletAddressObject {
                    wallet_address: s.clone(),
                }),
                _ => Err(de::Error::custom("`client.walletAddress` must be a string")),
            },
            (None, Some(j)) => serde_json::from_value(j.clone())
                .map(|jwk| Client::Jwk { jwk })
                .map_err(|e| de::Error::custom(format!("`client.jwk`: {e}"))),
            (Some(_), Some(_)) => Err(de::Error::custom(
                "`client` has both `walletAddress` and `jwk`; give one",
            )),
            (None, None) => Err(de::Error::custom(
                "`client` object has neither `walletAddress` nor `jwk`",
            )),
        }
    }
}

/// How an interaction may start. Open Payments allows only `redirect`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InteractStart {
    /// Redirect the resource owner's browser to `interact.redirect`.
    Redirect,
}

/// How the client learns that the interaction finished. Open Payments allows only `redirect`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FinishMethod {
    /// The AS redirects the browser to `uri` with `hash` and `interact_ref`.
    Redirect,
}

/// The `interact` member of a grant request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InteractRequest {
    /// Start modes; `["redirect"]`.
    pub start: Vec<InteractStart>,
    /// How to finish; absent means the client polls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finish: Option<InteractFinish>,
}

/// `interact.finish` of a grant request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InteractFinish {
    /// `redirect`.
    pub method: FinishMethod,
    /// Where the AS sends the browser when the interaction is over.
    pub uri: String,
    /// The client nonce; the first line of the finish hash base.
    pub nonce: Secret,
}

/// `subject` of a grant request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubjectRequest {
    /// Exactly one subject identifier in Open Payments.
    pub sub_ids: Vec<SubjectId>,
}

/// A subject identifier (`{"id": "…", "format": "uri"}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubjectId {
    /// The identifier (a wallet address URL).
    pub id: String,
    /// Its format; `uri` in Open Payments.
    pub format: String,
}

/// `subject` of a grant response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    /// The identifiers the AS vouches for.
    pub sub_ids: Vec<SubjectId>,
}

/// The answer to a grant request or a continuation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrantResponse {
    /// Interaction is required (`interact` present).
    Pending(PendingGrant),
    /// The grant was issued (`access_token` present).
    Issued(IssuedGrant),
    /// Still pending, polled (`continue` only).
    Continuation(GrantContinuation),
}

/// A grant waiting for the resource owner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingGrant {
    /// Where to send the resource owner, and the AS nonce.
    pub interact: InteractResponse,
    /// How to continue the grant.
    #[serde(rename = "continue")]
    pub continue_: Continuation,
}

/// `interact` of a pending grant response.
///
/// `Debug` shows only the origin of `redirect`: at the reference server its path carries the AS
/// finish nonce (`/interact/<id>/<nonce>`), which is a secret.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InteractResponse {
    /// The URL to send the resource owner's browser to.
    pub redirect: String,
    /// The AS nonce; the second line of the finish hash base.
    pub finish: Secret,
}

impl fmt::Debug for InteractResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InteractResponse")
            .field("redirect", &RedactedUrl(&self.redirect))
            .field("finish", &self.finish)
            .finish()
    }
}

/// Shows a URL's origin and hides its path and query (`https://as.example/***`).
struct RedactedUrl<'a>(&'a str);

impl fmt::Debug for RedactedUrl<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let origin_end = self
            .0
            .find("://")
            .map(|scheme_end| {
                let after = scheme_end + 3;
                self.0[after..]
                    .find(['/', '?', '#'])
                    .map_or(self.0.len(), |i| after + i)
            })
            .unwrap_or(0);
        write!(f, "\"{}/***\"", &self.0[..origin_end])
    }
}

/// `continue`: how to continue (or cancel) a grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Continuation {
    /// The continuation token, sent as `Authorization: GNAP <value>`.
    pub access_token: ContinuationToken,
    /// The continuation URI (POST to continue, DELETE to cancel).
    pub uri: String,
    /// Seconds to wait before continuing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait: Option<u64>,
}

/// `continue.access_token`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContinuationToken {
    /// The token.
    pub value: Secret,
}

/// An issued grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedGrant {
    /// The access token.
    pub access_token: AccessToken,
    /// How to continue (or cancel) the grant; Open Payments always sends it.
    #[serde(rename = "continue")]
    pub continue_: Continuation,
    /// Subject information, when requested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Subject>,
}

/// A grant still pending after a poll: only `continue`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantContinuation {
    /// How to continue the grant.
    #[serde(rename = "continue")]
    pub continue_: Continuation,
}

/// An access token as Open Payments issues it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessToken {
    /// The token, sent as `Authorization: GNAP <value>`.
    pub value: Secret,
    /// The management URL (POST rotates, DELETE revokes). A plain URL string in Open Payments,
    /// not RFC 9635's `{uri, access_token}` object.
    pub manage: String,
    /// Seconds until the token expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<u64>,
    /// The access the token carries.
    pub access: Vec<AccessItem>,
}

/// The body of a continuation after the interaction finished.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContinueRequest {
    /// The interaction reference from the finish redirect.
    pub interact_ref: Secret,
}

/// The answer to a token rotation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RotatedToken {
    /// The new token (with a new `manage` URL).
    pub access_token: AccessToken,
}

#[derive(Deserialize)]
struct RawGrantResponse {
    #[serde(default)]
    interact: Option<InteractResponse>,
    #[serde(default, rename = "continue")]
    continue_: Option<Continuation>,
    #[serde(default)]
    access_token: Option<AccessToken>,
    #[serde(default)]
    subject: Option<Subject>,
}

impl<'de> Deserialize<'de> for GrantResponse {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = RawGrantResponse::deserialize(deserializer)?;
        match raw {
            RawGrantResponse {
                interact: Some(_),
                access_token: Some(_),
                ..
            } => Err(de::Error::custom(
                "grant response has both `interact` and `access_token`: neither pending nor issued",
            )),
            RawGrantResponse {
                interact: Some(interact),
                continue_: Some(continue_),
                subject: None,
                ..
            } => Ok(GrantResponse::Pending(PendingGrant {
                interact,
                continue_,
            })),
            RawGrantResponse {
                interact: Some(_),
                subject: Some(_),
                ..
            } => Err(de::Error::custom(
                "pending grant response carries `subject`, which only an issued grant may",
            )),
            RawGrantResponse {
                interact: Some(_),
                continue_: None,
                ..
            } => Err(de::Error::custom(
                "pending grant response (`interact` present) lacks `continue`",
            )),
            RawGrantResponse {
                access_token: Some(access_token),
                continue_: Some(continue_),
                subject,
                ..
            } => Ok(GrantResponse::Issued(IssuedGrant {
                access_token,
                continue_,
                subject,
            })),
            RawGrantResponse {
                access_token: Some(_),
                continue_: None,
                ..
            } => Err(de::Error::custom(
                "issued grant response (`access_token` present) lacks `continue`",
            )),
            RawGrantResponse {
                continue_: Some(_),
                subject: Some(_),
                ..
            } => Err(de::Error::custom(
                "grant response with `subject` but no `access_token`: subject-only grants are not supported",
            )),
            RawGrantResponse {
                continue_: Some(continue_),
                ..
            } => Ok(GrantResponse::Continuation(GrantContinuation { continue_ })),
            RawGrantResponse { .. } => Err(de::Error::custom(
                "grant response has none of `interact`, `access_token` or `continue`",
            )),
        }
    }
}

impl Serialize for GrantResponse {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            GrantResponse::Pending(p) => p.serialize(serializer),
            GrantResponse::Issued(i) => i.serialize(serializer),
            GrantResponse::Continuation(c) => c.serialize(serializer),
        }
    }
}

impl GrantResponse {
    /// The continuation of the grant, whatever the variant.
    pub fn continuation(&self) -> &Continuation {
        match self {
            GrantResponse::Pending(p) => &p.continue_,
            GrantResponse::Issued(i) => &i.continue_,
            GrantResponse::Continuation(c) => &c.continue_,
        }
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn interact_response_debug_hides_the_nonce_in_the_redirect_url() {
        let interact = InteractResponse {
            redirect: "https://auth.example/interact/5e2c/4F1B2C3D4E5F6071?clientName=Shop".into(),
            finish: Secret::from("4F1B2C3D4E5F6071"),
        };
        let shown = format!("{interact:?}");
        assert!(!shown.contains("4F1B2C3D4E5F6071"), "{shown}");
        assert!(!shown.contains("5e2c"), "{shown}");
        assert!(shown.contains("https://auth.example/***"), "{shown}");
        let odd = InteractResponse {
            redirect: "not a url with secret".into(),
            finish: Secret::from("x"),
        };
        assert!(!format!("{odd:?}").contains("secret"));
    }
    use super::*;
    use crate::error::{ProtocolError, parse_json};

    const OUTGOING_REQUEST: &str = r#"{"access_token":{"access":[{"type":"outgoing-payment","actions":["create","read"],"identifier":"https://ilp.example/alice","limits":{"receiver":"https://ilp.example/incoming-payments/123","debitAmount":{"value":"500","assetCode":"USD","assetScale":2},"interval":"R12/2019-08-24T14:15:22Z/P1M"}}]},"client":"https://wallet.example/client","interact":{"start":["redirect"],"finish":{"method":"redirect","uri":"https://client.example/return/abc","nonce":"4edb2194-dbdf-46bb-9397-d5fd57b7c8a7"}}}"#;

    #[test]
    fn outgoing_payment_request_round_trips_byte_for_byte() {
        let req: GrantRequest = serde_json::from_str(OUTGOING_REQUEST).unwrap();
        let AccessItem::OutgoingPayment(op) = &req.access_token.as_ref().unwrap().access[0] else {
            panic!("wrong variant")
        };
        let limits = op.limits.as_ref().unwrap();
        assert_eq!(limits.debit_amount.as_ref().unwrap().value, 500);
        assert_eq!(
            limits.interval.map(|i| i.to_string()).as_deref(),
            Some("R12/2019-08-24T14:15:22Z/P1M")
        );
        assert_eq!(
            req.interact
                .as_ref()
                .unwrap()
                .finish
                .as_ref()
                .unwrap()
                .nonce
                .expose(),
            "4edb2194-dbdf-46bb-9397-d5fd57b7c8a7"
        );
        assert_eq!(serde_json::to_string(&req).unwrap(), OUTGOING_REQUEST);
        assert!(!format!("{req:?}").contains("4edb2194"));
    }

    #[test]
    fn invalid_interval_is_a_malformed_body() {
        let bad = OUTGOING_REQUEST.replace(
            "R12/2019-08-24T14:15:22Z/P1M",
            "R12/2019-08-24T14:15:22/P1M",
        );
        let err = parse_json::<GrantRequest>(bad.as_bytes()).unwrap_err();
        assert!(
            matches!(
                err,
                ProtocolError::MalformedBody {
                    what: "GrantRequest",
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn client_shapes() {
        let c: Client = serde_json::from_str(r#""https://w.example/a""#).unwrap();
        assert_eq!(c.wallet_address(), Some("https://w.example/a"));
        let c: Client = serde_json::from_str(r#"{"walletAddress":"https://w.example/a"}"#).unwrap();
        assert_eq!(
            c,
            Client::WalletAddressObject {
                wallet_address: "https://w.example/a".into()
            }
        );
        assert_eq!(
            serde_json::to_string(&c).unwrap(),
            r#"{"walletAddress":"https://w.example/a"}"#
        );
        let jwk = r#"{"jwk":{"alg":"EdDSA","kid":"k","kty":"OKP","crv":"Ed25519","x":"0rDE1Vl8kF_JHTKZrCSTY9yk7MgvA2ltJJQ6D6tBjmY"}}"#;
        let c: Client = serde_json::from_str(jwk).unwrap();
        assert!(matches!(c, Client::Jwk { .. }));
        assert_eq!(serde_json::to_string(&c).unwrap(), jwk);
        for bad in [
            "1",
            "{}",
            r#"{"walletAddress":1}"#,
            r#"{"jwk":{"kid":"k"}}"#,
            "null",
        ] {
            assert!(serde_json::from_str::<Client>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn disallowed_and_unknown_actions_are_errors() {
        for bad in [
            r#"{"type":"quote","actions":["complete"]}"#,
            r#"{"type":"outgoing-payment","actions":["complete"],"identifier":"https://w.example/a"}"#,
            r#"{"type":"incoming-payment","actions":["destroy"]}"#,
            r#"{"type":"outgoing-payment","actions":["create"]}"#,
            r#"{"type":"payment","actions":["create"]}"#,
            r#"{"actions":["create"]}"#,
        ] {
            let err = parse_json::<AccessItem>(bad.as_bytes()).unwrap_err();
            assert!(matches!(err, ProtocolError::MalformedBody { .. }), "{bad}");
        }
        let err = serde_json::from_str::<AccessItem>(r#"{"type":"quote","actions":["complete"]}"#)
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("not allowed for access type `quote`"),
            "{err}"
        );
    }

    #[test]
    fn interact_rejects_unknown_modes() {
        for bad in [
            r#"{"start":["app"]}"#,
            r#"{"start":["redirect"],"finish":{"method":"push","uri":"u","nonce":"n"}}"#,
            r#"{"start":["redirect"],"finish":{"method":"redirect","uri":"u"}}"#,
        ] {
            assert!(
                serde_json::from_str::<InteractRequest>(bad).is_err(),
                "{bad}"
            );
        }
    }

    const CONTINUE: &str = r#"{"access_token":{"value":"33OMUKMKSKU80UPRY5NM"},"uri":"https://auth.example/continue/4CF492MLVMSW9MKMXKHQ","wait":5}"#;

    #[test]
    fn pending_response() {
        let body = format!(
            r#"{{"interact":{{"redirect":"https://auth.example/interact/1/2?clientName=x","finish":"4105340a05a65c4b"}},"continue":{CONTINUE}}}"#
        );
        let r: GrantResponse = serde_json::from_str(&body).unwrap();
        let GrantResponse::Pending(p) = &r else {
            panic!("{r:?}")
        };
        assert_eq!(p.interact.finish.expose(), "4105340a05a65c4b");
        assert_eq!(p.continue_.wait, Some(5));
        assert_eq!(
            r.continuation().access_token.value.expose(),
            "33OMUKMKSKU80UPRY5NM"
        );
        assert_eq!(serde_json::to_string(&r).unwrap(), body);
    }

    #[test]
    fn issued_response() {
        let body = format!(
            r#"{{"access_token":{{"value":"OS9M2PMHKUR64TB8N6BW7OZB8CDFONP219RP1LT0","manage":"https://auth.example/token/PRY5NM33OM4TB8N6BW7OZB8CDFONP219RP1L","expires_in":600,"access":[{{"type":"incoming-payment","actions":["create","read"],"identifier":"https://w.example/a"}}]}},"continue":{CONTINUE}}}"#
        );
        let r: GrantResponse = serde_json::from_str(&body).unwrap();
        let GrantResponse::Issued(i) = &r else {
            panic!("{r:?}")
        };
        assert_eq!(i.access_token.expires_in, Some(600));
        assert_eq!(serde_json::to_string(&r).unwrap(), body);
    }

    #[test]
    fn continuation_only_response() {
        let body = format!(r#"{{"continue":{CONTINUE}}}"#);
        let r: GrantResponse = serde_json::from_str(&body).unwrap();
        assert!(matches!(r, GrantResponse::Continuation(_)));
        assert_eq!(serde_json::to_string(&r).unwrap(), body);
    }

    #[test]
    fn ambiguous_or_incomplete_responses_are_errors() {
        let token = r#"{"value":"v","manage":"m","access":[]}"#;
        let interact = r#"{"redirect":"r","finish":"f"}"#;
        for bad in [
            "{}".to_string(),
            format!(r#"{{"interact":{interact},"access_token":{token},"continue":{CONTINUE}}}"#),
            format!(r#"{{"interact":{interact}}}"#),
            format!(r#"{{"access_token":{token}}}"#),
            format!(r#"{{"subject":{{"sub_ids":[]}},"continue":{CONTINUE}}}"#),
            r#"{"continue":{"uri":"u"}}"#.to_string(),
            r#"{"continue":{"access_token":{"value":"v"},"uri":"u","wait":-1}}"#.to_string(),
            "[]".to_string(),
        ] {
            let err = parse_json::<GrantResponse>(bad.as_bytes()).unwrap_err();
            assert!(
                matches!(
                    err,
                    ProtocolError::MalformedBody {
                        what: "GrantResponse",
                        ..
                    }
                ),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn continue_request_and_rotation() {
        let c = ContinueRequest {
            interact_ref: Secret::new("ad82597c-bbfa-4eb0-b6e2-3d1eb3b19a6f"),
        };
        assert_eq!(
            serde_json::to_string(&c).unwrap(),
            r#"{"interact_ref":"ad82597c-bbfa-4eb0-b6e2-3d1eb3b19a6f"}"#
        );
        let r: RotatedToken = serde_json::from_str(
            r#"{"access_token":{"value":"v2","manage":"https://auth.example/token/2","expires_in":600,"access":[]}}"#,
        )
        .unwrap();
        assert_eq!(r.access_token.manage, "https://auth.example/token/2");
    }
}
