//! Two-way interop with the reference `@interledger/http-signature-utils` 2.0.3 under Node:
//! requests we sign pass its `validateSignatureHeaders` and `validateSignature`, and requests
//! its `createHeaders` signs pass our strict verifier. A tampered request is rejected by both,
//! so neither direction is a no-op.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use grantflow_protocol::keys::PrivateKey;
use grantflow_protocol::signature::{
    Freshness, SignableRequest, VerifiableRequest, VerifyError, VerifyOptions, sign_request,
    verify_request,
};
use serde_json::{Value, json};

struct Req {
    name: &'static str,
    method: &'static str,
    url: String,
    authorization: Option<&'static str>,
    body: Option<String>,
}

fn requests() -> Vec<Req> {
    let grant = serde_json::to_string(&common::fixtures::outgoing_grant_request()).unwrap();
    let r = |name, method, url: &str, authorization, body: Option<String>| Req {
        name,
        method,
        url: url.to_owned(),
        authorization,
        body,
    };
    vec![
        r("grant request", "POST", "https://auth.wallet.example/", None, Some(grant)),
        r(
            "continue with interact_ref",
            "POST",
            "https://auth.wallet.example/continue/4f2c9d1e",
            Some("GNAP 33OMUKMKSKU80UPRY5NM"),
            Some(r#"{"interact_ref":"ad82597c-bbfa-4eb0-b72e-328e005b8689"}"#.into()),
        ),
        r("continue poll", "POST", "https://auth.wallet.example/continue/4f2c9d1e", Some("GNAP 33OMUKMKSKU80UPRY5NM"), None),
        r("cancel", "DELETE", "https://auth.wallet.example/continue/4f2c9d1e", Some("GNAP 33OMUKMKSKU80UPRY5NM"), None),
        r("rotate", "POST", "https://auth.wallet.example/token/8f69de01", Some("GNAP OS9M2PMHKUR64TB8N6BW7OZB8CDFONP219RP1LT0"), None),
        r(
            "list with query",
            "GET",
            "https://ilp.wallet.example/outgoing-payments?first=10&wallet-address=https%3A%2F%2Filp.wallet.example%2Falice",
            Some("GNAP OS9M2PMHKUR64TB8N6BW7OZB8CDFONP219RP1LT0"),
            None,
        ),
        r(
            "incoming payment with UTF-8 metadata",
            "POST",
            "https://ilp.wallet.example/incoming-payments",
            Some("GNAP OS9M2PMHKUR64TB8N6BW7OZB8CDFONP219RP1LT0"),
            Some(r#"{"walletAddress":"https://ilp.wallet.example/alice","metadata":{"description":"café ☕ – 支払い"}}"#.into()),
        ),
    ]
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[test]
fn reference_validator_accepts_our_signatures() {
    let Some(node) = common::node("reference_validator_accepts_our_signatures") else {
        return;
    };
    let key = PrivateKey::generate();
    let kid = "grantflow-interop-key";
    let created = now();
    let mut cases = Vec::new();
    for r in requests() {
        let h = sign_request(
            &SignableRequest {
                method: r.method,
                target_uri: &r.url,
                authorization: r.authorization,
                body: r.body.as_deref().map(str::as_bytes),
            },
            &key,
            kid,
            created,
        )
        .unwrap();
        let mut headers = serde_json::Map::new();
        headers.insert("accept".into(), json!("application/json"));
        if let Some(a) = r.authorization {
            headers.insert("authorization".into(), json!(a));
        }
        for (name, value) in h.iter() {
            headers.insert(name.to_ascii_lowercase(), json!(value));
        }
        cases.push(json!({"name": r.name, "method": r.method, "url": r.url, "headers": headers.clone(), "body": r.body}));
        if let Some(body) = &r.body {
            // Control: the same headers over a different body must fail there too.
            let tampered = body.replacen("\"", "\" ", 1);
            cases.push(json!({"name": format!("TAMPERED {}", r.name), "method": r.method, "url": r.url, "headers": headers, "body": tampered}));
        }
    }
    let input = json!({"jwk": key.public_jwk(kid), "requests": cases});
    let results = node.run("interop.mjs", &["verify"], &input);
    let results = results.as_array().expect("array");
    assert_eq!(results.len(), cases.len());
    for result in results {
        let name = result["name"].as_str().unwrap();
        let accepted = result["headersValid"] == Value::Bool(true)
            && result["signatureValid"] == Value::Bool(true);
        if name.starts_with("TAMPERED") {
            assert!(!accepted, "reference accepted a tampered request: {result}");
        } else {
            assert!(accepted, "reference rejected our signature: {result}");
        }
    }
    eprintln!(
        "interop: reference validateSignature accepted {} requests we signed",
        requests().len()
    );
}

#[test]
fn our_verifier_accepts_reference_signatures() {
    let Some(node) = common::node("our_verifier_accepts_reference_signatures") else {
        return;
    };
    let key = PrivateKey::generate();
    let kid = "node-signer-key";
    let reqs = requests();
    let cases: Vec<Value> = reqs
        .iter()
        .map(|r| {
            let mut headers = serde_json::Map::new();
            headers.insert("accept".into(), json!("application/json"));
            headers.insert("content-type".into(), json!("application/json"));
            if let Some(a) = r.authorization {
                headers.insert("authorization".into(), json!(a));
            }
            json!({"name": r.name, "method": r.method, "url": r.url, "headers": headers, "body": r.body})
        })
        .collect();
    let input =
        json!({"privateKeyPem": key.to_pkcs8_pem().as_str(), "keyId": kid, "requests": cases});
    let results = node.run("interop.mjs", &["sign"], &input);
    let results = results.as_array().expect("array");
    assert_eq!(results.len(), reqs.len());

    let public = key.public_key();
    let options = VerifyOptions {
        freshness: Some(Freshness {
            now: now(),
            max_age_secs: 600,
            max_future_skew_secs: 60,
        }),
    };
    for (r, result) in reqs.iter().zip(results) {
        assert_eq!(result["name"], r.name);
        let mut headers: Vec<(String, String)> = vec![("accept".into(), "application/json".into())];
        if let Some(a) = r.authorization {
            headers.push(("authorization".into(), a.into()));
        }
        for (k, v) in result["headers"].as_object().expect("headers") {
            headers.push((k.clone(), v.as_str().expect("header string").to_owned()));
        }
        let pairs: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let request = VerifiableRequest {
            method: r.method,
            target_uri: &r.url,
            headers: &pairs,
            body: r.body.as_deref().map(str::as_bytes),
        };
        let verified = verify_request(&request, |k| (k == kid).then_some(public), &options)
            .unwrap_or_else(|e| panic!("{}: reference signature rejected: {e}", r.name));
        assert_eq!(verified.key_id, kid);

        // Control: change the URL; our verifier must reject it.
        let moved = format!("{}x", r.url);
        let tampered = VerifiableRequest {
            target_uri: &moved,
            ..request
        };
        assert!(
            matches!(
                verify_request(&tampered, |_| Some(public), &options),
                Err(VerifyError::SignatureMismatch { .. })
            ),
            "{}: tampered request accepted",
            r.name
        );
    }
    eprintln!(
        "interop: our verifier accepted {} requests signed by the reference",
        reqs.len()
    );
}
