//! Typed fixtures of every body we send or parse, built from our own types and serialised by
//! them: the OpenAPI test validates exactly these bytes.

use grantflow_protocol::amount::Amount;
use grantflow_protocol::error::{GnapError, GnapErrorCode};
use grantflow_protocol::grant::*;
use grantflow_protocol::incoming_payment::{
    CreateIncomingPayment, IncomingPayment, IncomingPaymentView, PaymentMethod,
    PublicIncomingPayment,
};
use grantflow_protocol::jwk::Jwks;
use grantflow_protocol::keys::PrivateKey;
use grantflow_protocol::outgoing_payment::{
    CreateOutgoingPayment, OutgoingPayment, OutgoingPaymentGrantSpentAmounts,
};
use grantflow_protocol::pagination::{Page, PageInfo};
use grantflow_protocol::quote::{CreateQuote, Quote, QuoteAmount, QuoteMethod};
use grantflow_protocol::secret::Secret;
use grantflow_protocol::wallet_address::WalletAddress;
use serde_json::Value;

pub const ALICE: &str = "https://ilp.wallet.example/alice";
pub const AS: &str = "https://auth.wallet.example/";
pub const RS: &str = "https://ilp.wallet.example";

fn usd(v: u64) -> Amount {
    Amount::new(v, "USD", 2)
}

fn t(s: &str) -> chrono::DateTime<chrono::Utc> {
    s.parse().unwrap()
}

pub fn outgoing_grant_request() -> GrantRequest {
    GrantRequest {
        access_token: Some(AccessTokenRequest {
            access: vec![AccessItem::OutgoingPayment(OutgoingPaymentAccess {
                actions: vec![AccessAction::Create, AccessAction::Read],
                identifier: ALICE.into(),
                limits: Some(OutgoingPaymentLimits {
                    receiver: None,
                    debit_amount: Some(usd(500)),
                    receive_amount: None,
                    interval: Some("R/2016-08-24T08:00:00Z/P1D".parse().unwrap()),
                }),
            })],
        }),
        client: Client::WalletAddress("https://client.example/shop".into()),
        interact: Some(InteractRequest {
            start: vec![InteractStart::Redirect],
            finish: Some(InteractFinish {
                method: FinishMethod::Redirect,
                uri: "https://client.example/return/abc".into(),
                nonce: Secret::new("4edb2194-dbdf-46bb-9397-d5fd57b7c8a7"),
            }),
        }),
        subject: None,
    }
}

pub fn incoming_grant_request() -> GrantRequest {
    GrantRequest {
        access_token: Some(AccessTokenRequest {
            access: vec![
                AccessItem::IncomingPayment(IncomingPaymentAccess {
                    actions: vec![
                        AccessAction::Create,
                        AccessAction::Read,
                        AccessAction::Complete,
                        AccessAction::ListAll,
                    ],
                    identifier: Some(ALICE.into()),
                }),
                AccessItem::Quote(QuoteAccess {
                    actions: vec![AccessAction::Create, AccessAction::Read],
                }),
            ],
        }),
        client: Client::WalletAddressObject {
            wallet_address: "https://client.example/shop".into(),
        },
        interact: None,
        subject: None,
    }
}

pub fn jwk_client_grant_request() -> GrantRequest {
    let key = PrivateKey::from_seed(&[9; 32]);
    GrantRequest {
        access_token: Some(AccessTokenRequest {
            access: vec![AccessItem::OutgoingPayment(OutgoingPaymentAccess {
                actions: vec![AccessAction::Create],
                identifier: ALICE.into(),
                limits: Some(OutgoingPaymentLimits {
                    receiver: Some(format!("{RS}/incoming-payments/45a0d0ee")),
                    debit_amount: None,
                    receive_amount: Some(usd(7)),
                    interval: None,
                }),
            })],
        }),
        client: Client::Jwk {
            jwk: key.public_jwk("client-key-1"),
        },
        interact: None,
        subject: None,
    }
}

fn continuation(wait: Option<u64>) -> Continuation {
    Continuation {
        access_token: ContinuationToken {
            value: Secret::new("33OMUKMKSKU80UPRY5NM"),
        },
        uri: format!("{AS}continue/4CF492MLVMSW9MKMXKHQ"),
        wait,
    }
}

pub fn access_token() -> AccessToken {
    match outgoing_grant_request().access_token {
        Some(AccessTokenRequest { access }) => AccessToken {
            value: Secret::new("OS9M2PMHKUR64TB8N6BW7OZB8CDFONP219RP1LT0"),
            manage: format!("{AS}token/dd17a202-9982-4ed9-ae31-564947fb6379"),
            expires_in: Some(600),
            access,
        },
        None => unreachable!(),
    }
}

pub fn pending() -> GrantResponse {
    GrantResponse::Pending(PendingGrant {
        interact: InteractResponse {
            redirect: format!(
                "{AS}interact/4CF492ML/4105340a05eb4290?clientName=Shop&clientUri=https%3A%2F%2Fclient.example"
            ),
            finish: Secret::new("4105340a05eb4290"),
        },
        continue_: continuation(Some(5)),
    })
}

pub fn issued() -> GrantResponse {
    GrantResponse::Issued(IssuedGrant {
        access_token: access_token(),
        continue_: continuation(None),
        subject: None,
    })
}

pub fn polled() -> GrantResponse {
    GrantResponse::Continuation(GrantContinuation {
        continue_: continuation(Some(5)),
    })
}

pub fn gnap_error(code: GnapErrorCode, description: &str) -> GnapError {
    GnapError {
        code: Some(code),
        description: Some(description.into()),
    }
}

pub fn incoming_payment(with_methods: bool) -> IncomingPayment {
    IncomingPayment {
        id: format!("{RS}/incoming-payments/016da9d5-c9a4-4c80-a354-86b915a04ff8"),
        wallet_address: ALICE.into(),
        completed: false,
        incoming_amount: Some(usd(2500)),
        received_amount: usd(0),
        expires_at: Some(t("2026-02-03T23:20:50.52Z")),
        metadata: Some(serde_json::from_str(r#"{"externalRef":"INV2022-02-0137"}"#).unwrap()),
        created_at: t("2026-01-01T00:00:00Z"),
        methods: with_methods.then(|| {
            vec![PaymentMethod::Ilp {
                ilp_address: "g.ilp.iwuyge987y.98y08y".into(),
                shared_secret: Secret::new("1c7eaXa4rd2fFOBl1iydvCT1tV5TbM3RW1WLCafu_JA"),
            }]
        }),
    }
}

pub fn quote() -> Quote {
    Quote {
        id: format!("{RS}/quotes/ab03296b-0c8b-4776-b94e-7ee27d868d4d"),
        wallet_address: ALICE.into(),
        receiver: format!("{RS}/incoming-payments/2fe92c6f"),
        receive_amount: usd(2500),
        debit_amount: usd(2600),
        method: QuoteMethod::Ilp,
        expires_at: Some(t("2026-01-01T00:05:00Z")),
        created_at: t("2026-01-01T00:00:00Z"),
    }
}

pub fn outgoing_payment(spent: bool) -> OutgoingPayment {
    OutgoingPayment {
        id: format!("{RS}/outgoing-payments/8c68d3cc"),
        wallet_address: ALICE.into(),
        quote_id: Some(quote().id),
        failed: false,
        receiver: quote().receiver,
        receive_amount: usd(2500),
        debit_amount: usd(2600),
        sent_amount: usd(0),
        grant_spent_debit_amount: spent.then(|| usd(2600)),
        grant_spent_receive_amount: spent.then(|| usd(2500)),
        metadata: None,
        created_at: t("2026-01-01T00:00:00Z"),
    }
}

pub fn page_info() -> PageInfo {
    PageInfo {
        start_cursor: Some("241de237".into()),
        end_cursor: Some("315581f8".into()),
        has_next_page: true,
        has_previous_page: false,
    }
}

/// `(name, spec, path, method, kind, status, body)` for every fixture.
pub fn cases() -> Vec<(
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    u16,
    Value,
)> {
    let j = |v: &dyn erased::Ser| v.to_value();
    let key = PrivateKey::from_seed(&[9; 32]);
    vec![
        (
            "grant request: outgoing payment, interactive",
            "auth",
            "/",
            "post",
            "request",
            0,
            j(&outgoing_grant_request()),
        ),
        (
            "grant request: incoming payment + quote",
            "auth",
            "/",
            "post",
            "request",
            0,
            j(&incoming_grant_request()),
        ),
        (
            "grant request: JWK client, receiveAmount + receiver",
            "auth",
            "/",
            "post",
            "request",
            0,
            j(&jwk_client_grant_request()),
        ),
        (
            "grant response: pending",
            "auth",
            "/",
            "post",
            "response",
            200,
            j(&pending()),
        ),
        (
            "grant response: issued",
            "auth",
            "/",
            "post",
            "response",
            200,
            j(&issued()),
        ),
        (
            "grant error: invalid_client",
            "auth",
            "/",
            "post",
            "response",
            401,
            j(&gnap_error(
                GnapErrorCode::InvalidClient,
                "invalid signature headers",
            )),
        ),
        (
            "grant error: invalid_request",
            "auth",
            "/",
            "post",
            "response",
            400,
            j(&gnap_error(
                GnapErrorCode::InvalidRequest,
                "missing required request field 'interact'",
            )),
        ),
        (
            "continue request: interact_ref",
            "auth",
            "/continue/{id}",
            "post",
            "request",
            0,
            j(&ContinueRequest {
                interact_ref: Secret::new("ad82597c-bbfa-4eb0-b72e-328e005b8689"),
            }),
        ),
        (
            "continue response: issued",
            "auth",
            "/continue/{id}",
            "post",
            "response",
            200,
            j(&issued()),
        ),
        (
            "continue response: still pending",
            "auth",
            "/continue/{id}",
            "post",
            "response",
            200,
            j(&polled()),
        ),
        (
            "continue error: too_fast",
            "auth",
            "/continue/{id}",
            "post",
            "response",
            400,
            j(&gnap_error(
                GnapErrorCode::TooFast,
                "continued grant faster than \"wait\" period",
            )),
        ),
        (
            "continue error: invalid_continuation",
            "auth",
            "/continue/{id}",
            "post",
            "response",
            401,
            j(&gnap_error(
                GnapErrorCode::InvalidContinuation,
                "invalid grant",
            )),
        ),
        (
            "continue error: request_denied",
            "auth",
            "/continue/{id}",
            "post",
            "response",
            401,
            j(&gnap_error(
                GnapErrorCode::RequestDenied,
                "grant interaction not approved",
            )),
        ),
        (
            "continue error: not found",
            "auth",
            "/continue/{id}",
            "post",
            "response",
            404,
            j(&gnap_error(
                GnapErrorCode::InvalidContinuation,
                "grant not found",
            )),
        ),
        (
            "cancel error: invalid_continuation",
            "auth",
            "/continue/{id}",
            "delete",
            "response",
            401,
            j(&gnap_error(
                GnapErrorCode::InvalidContinuation,
                "invalid grant",
            )),
        ),
        (
            "rotate response",
            "auth",
            "/token/{id}",
            "post",
            "response",
            200,
            j(&RotatedToken {
                access_token: access_token(),
            }),
        ),
        (
            "wallet address",
            "wallet",
            "/",
            "get",
            "response",
            200,
            j(&WalletAddress {
                id: ALICE.into(),
                public_name: Some("Alice".into()),
                asset_code: "USD".into(),
                asset_scale: 2,
                auth_server: AS.into(),
                resource_server: RS.into(),
            }),
        ),
        (
            "wallet address keys",
            "wallet",
            "/jwks.json",
            "get",
            "response",
            200,
            j(&key.public_jwks("client-key-1")),
        ),
        (
            "wallet address keys: empty",
            "wallet",
            "/jwks.json",
            "get",
            "response",
            200,
            j(&Jwks::default()),
        ),
        (
            "create incoming payment request",
            "resource",
            "/incoming-payments",
            "post",
            "request",
            0,
            j(&CreateIncomingPayment {
                wallet_address: ALICE.into(),
                incoming_amount: Some(usd(2500)),
                expires_at: Some(t("2026-02-03T23:20:50Z")),
                metadata: Some(serde_json::from_str(r#"{"externalRef":"INV-1"}"#).unwrap()),
            }),
        ),
        (
            "create incoming payment response",
            "resource",
            "/incoming-payments",
            "post",
            "response",
            201,
            j(&incoming_payment(true)),
        ),
        (
            "list incoming payments",
            "resource",
            "/incoming-payments",
            "get",
            "response",
            200,
            j(&Page {
                pagination: page_info(),
                result: vec![incoming_payment(false)],
            }),
        ),
        (
            "get incoming payment: full",
            "resource",
            "/incoming-payments/{id}",
            "get",
            "response",
            200,
            j(&IncomingPaymentView::Full(Box::new(incoming_payment(true)))),
        ),
        (
            "get incoming payment: public",
            "resource",
            "/incoming-payments/{id}",
            "get",
            "response",
            200,
            j(&IncomingPaymentView::Public(PublicIncomingPayment {
                received_amount: Some(usd(0)),
                auth_server: AS.into(),
            })),
        ),
        (
            "complete incoming payment",
            "resource",
            "/incoming-payments/{id}/complete",
            "post",
            "response",
            200,
            j(&IncomingPayment {
                completed: true,
                ..incoming_payment(false)
            }),
        ),
        (
            "create quote request: fixed send",
            "resource",
            "/quotes",
            "post",
            "request",
            0,
            j(&CreateQuote {
                wallet_address: ALICE.into(),
                receiver: quote().receiver,
                method: QuoteMethod::Ilp,
                amount: QuoteAmount::Debit(usd(2600)),
            }),
        ),
        (
            "create quote request: fixed receive",
            "resource",
            "/quotes",
            "post",
            "request",
            0,
            j(&CreateQuote {
                wallet_address: ALICE.into(),
                receiver: quote().receiver,
                method: QuoteMethod::Ilp,
                amount: QuoteAmount::Receive(usd(2500)),
            }),
        ),
        (
            "create quote request: from receiver",
            "resource",
            "/quotes",
            "post",
            "request",
            0,
            j(&CreateQuote {
                wallet_address: ALICE.into(),
                receiver: quote().receiver,
                method: QuoteMethod::Ilp,
                amount: QuoteAmount::FromReceiver,
            }),
        ),
        (
            "create quote response",
            "resource",
            "/quotes",
            "post",
            "response",
            201,
            j(&quote()),
        ),
        (
            "get quote",
            "resource",
            "/quotes/{id}",
            "get",
            "response",
            200,
            j(&quote()),
        ),
        (
            "create outgoing payment request: quote",
            "resource",
            "/outgoing-payments",
            "post",
            "request",
            0,
            j(&CreateOutgoingPayment::FromQuote {
                wallet_address: ALICE.into(),
                quote_id: quote().id,
                metadata: None,
            }),
        ),
        (
            "create outgoing payment request: incoming payment",
            "resource",
            "/outgoing-payments",
            "post",
            "request",
            0,
            j(&CreateOutgoingPayment::FromIncomingPayment {
                wallet_address: ALICE.into(),
                incoming_payment: quote().receiver,
                debit_amount: usd(100),
                metadata: Some(serde_json::from_str(r#"{"externalRef":"x"}"#).unwrap()),
            }),
        ),
        (
            "create outgoing payment response",
            "resource",
            "/outgoing-payments",
            "post",
            "response",
            201,
            j(&outgoing_payment(true)),
        ),
        (
            "list outgoing payments",
            "resource",
            "/outgoing-payments",
            "get",
            "response",
            200,
            j(&Page {
                pagination: page_info(),
                result: vec![outgoing_payment(false)],
            }),
        ),
        (
            "get outgoing payment",
            "resource",
            "/outgoing-payments/{id}",
            "get",
            "response",
            200,
            j(&outgoing_payment(false)),
        ),
        (
            "outgoing payment grant: spent",
            "resource",
            "/outgoing-payment-grant",
            "get",
            "response",
            200,
            j(&OutgoingPaymentGrantSpentAmounts {
                spent_receive_amount: Some(usd(2500)),
                spent_debit_amount: Some(usd(2600)),
            }),
        ),
        (
            "outgoing payment grant: nothing spent",
            "resource",
            "/outgoing-payment-grant",
            "get",
            "response",
            200,
            j(&OutgoingPaymentGrantSpentAmounts {
                spent_receive_amount: None,
                spent_debit_amount: None,
            }),
        ),
    ]
}

/// Hand-written bodies that break the spec, to prove the validator is not a no-op.
pub fn invalid_cases() -> Vec<(
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    u16,
    Value,
)> {
    // (Not in a grant's limits: `limits-outgoing` is an anyOf whose first branch accepts any
    // object, so the reference validator accepts anything there.)
    let mut amount_as_number = serde_json::to_value(incoming_payment(false)).unwrap();
    amount_as_number["incomingAmount"]["value"] = Value::from(2500);
    let mut manage_object = serde_json::to_value(issued()).unwrap();
    manage_object["access_token"]["manage"] =
        serde_json::json!({"uri": "https://x.example/", "access_token": {"value": "v"}});
    let mut quote_complete = serde_json::to_value(incoming_grant_request()).unwrap();
    quote_complete["access_token"]["access"][1]["actions"] = serde_json::json!(["complete"]);
    let mut no_sent_amount = serde_json::to_value(outgoing_payment(false)).unwrap();
    no_sent_amount.as_object_mut().unwrap().remove("sentAmount");
    vec![
        (
            "INVALID amount value as a JSON number",
            "resource",
            "/incoming-payments/{id}/complete",
            "post",
            "response",
            200,
            amount_as_number,
        ),
        (
            "INVALID manage as RFC 9635 object",
            "auth",
            "/",
            "post",
            "response",
            200,
            manage_object,
        ),
        (
            "INVALID quote access with complete",
            "auth",
            "/",
            "post",
            "request",
            0,
            quote_complete,
        ),
        (
            "INVALID outgoing payment without sentAmount",
            "resource",
            "/outgoing-payments/{id}",
            "get",
            "response",
            200,
            no_sent_amount,
        ),
    ]
}

/// Object-safe "serialise to a JSON value".
pub mod erased {
    pub trait Ser {
        fn to_value(&self) -> serde_json::Value;
    }
    impl<T: serde::Serialize> Ser for T {
        fn to_value(&self) -> serde_json::Value {
            serde_json::to_value(self).expect("serialises")
        }
    }
}
