//! Every vector of `shared/vectors/http-signatures.json` (copied to `tests/fixtures/`), produced
//! by the reference TypeScript packages: our signer must be byte-equal, our verifier must accept
//! every positive vector and the real SDK's wire captures, and reject every negative one with
//! the expected reason.

// Test helpers: a panic with a message is exactly the failure report we want.
#![allow(clippy::expect_used, clippy::unwrap_used)]
use grantflow_protocol::keys::{PrivateKey, PublicKey};
use grantflow_protocol::signature::{
    SignableRequest, VerifiableRequest, VerifyError, VerifyOptions, sign_request, verify_request,
};
use serde_json::Value;

fn vectors() -> Value {
    let text = include_str!("fixtures/http-signatures.json");
    serde_json::from_str(text).expect("fixture is JSON")
}

fn key(v: &Value) -> (PrivateKey, String) {
    let pem = v["key"]["private_key_pem_pkcs8"].as_str().expect("pem");
    let kid = v["key"]["key_id"].as_str().expect("kid").to_owned();
    (PrivateKey::from_pkcs8_pem(pem).expect("key loads"), kid)
}

fn public(v: &Value) -> PublicKey {
    let jwk = serde_json::from_value(v["key"]["public_jwk"].clone()).expect("jwk");
    PublicKey::from_jwk(&jwk).expect("public key")
}

fn str_map(v: &Value) -> Vec<(String, String)> {
    v.as_object()
        .expect("object")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().expect("string header").to_owned()))
        .collect()
}

fn verify(
    v: &Value,
    method: &str,
    url: &str,
    headers: &[(String, String)],
    body: Option<&str>,
) -> Result<(), VerifyError> {
    let pairs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let request = VerifiableRequest {
        method,
        target_uri: url,
        headers: &pairs,
        body: body.map(str::as_bytes),
    };
    let kid = v["key"]["key_id"].as_str().expect("kid").to_owned();
    let key = public(v);
    verify_request(
        &request,
        |k| (k == kid).then_some(key),
        &VerifyOptions::default(),
    )
    .map(|_| ())
}

#[test]
fn signer_is_byte_equal_to_the_reference_for_every_vector() {
    let v = vectors();
    let (key, kid) = key(&v);
    let vectors = v["vectors"].as_array().expect("vectors");
    assert_eq!(vectors.len(), 9);
    for vector in vectors {
        let id = vector["id"].as_str().expect("id");
        let req = &vector["request"];
        let body = req["body"].as_str();
        let headers_in = str_map(&req["headers_in"]);
        let authorization = headers_in
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("authorization"))
            .map(|(_, v)| v.as_str());
        let created = vector["created"].as_i64().expect("created");
        let out = sign_request(
            &SignableRequest {
                method: req["method"].as_str().expect("method"),
                target_uri: req["url"].as_str().expect("url"),
                authorization,
                body: body.map(str::as_bytes),
            },
            &key,
            &kid,
            created,
        )
        .expect("signs");
        let expected = &vector["output_headers"];
        let got: Vec<(&str, &str)> = out.iter().collect();
        let want: Vec<(&str, &str)> = expected
            .as_object()
            .expect("headers")
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str().expect("str")))
            .collect();
        assert_eq!(got, want, "vector {id}");
        assert_eq!(
            out.signature,
            format!("sig1=:{}:", vector["signature_b64"].as_str().expect("b64")),
            "vector {id}"
        );
    }
}

#[test]
fn verifier_accepts_every_positive_vector() {
    let v = vectors();
    for vector in v["vectors"].as_array().expect("vectors") {
        let id = vector["id"].as_str().expect("id");
        let req = &vector["request"];
        let mut headers = str_map(&req["headers_in"]);
        for (k, val) in str_map(&vector["output_headers"]) {
            headers.retain(|(h, _)| !h.eq_ignore_ascii_case(&k));
            headers.push((k, val));
        }
        verify(
            &v,
            req["method"].as_str().expect("method"),
            req["url"].as_str().expect("url"),
            &headers,
            req["body"].as_str(),
        )
        .unwrap_or_else(|e| panic!("vector {id} rejected: {e}"));
    }
}

#[test]
fn verifier_accepts_the_reference_client_wire_captures() {
    let v = vectors();
    let mut signed = 0;
    for capture in v["sdk_wire_capture"]["requests"]
        .as_array()
        .expect("captures")
    {
        let call = capture["call"].as_str().expect("call");
        let headers = str_map(&capture["wire_headers"]);
        let result = verify(
            &v,
            capture["method"].as_str().expect("method"),
            capture["url"].as_str().expect("url"),
            &headers,
            capture["body"].as_str(),
        );
        if capture["signed"].as_bool().expect("signed") {
            signed += 1;
            result.unwrap_or_else(|e| panic!("capture {call} rejected: {e}"));
        } else {
            assert_eq!(
                result,
                Err(VerifyError::MissingHeader {
                    header: "Signature-Input"
                }),
                "{call}"
            );
        }
    }
    assert_eq!(signed, 7);
}

#[test]
fn verifier_rejects_every_negative_vector_with_its_reason() {
    let v = vectors();
    let negatives = v["negative"].as_array().expect("negative");
    assert_eq!(negatives.len(), 4);
    for neg in negatives {
        let id = neg["id"].as_str().expect("id");
        assert_eq!(neg["expected"], "reject");
        let req = &neg["request"];
        let err = verify(
            &v,
            req["method"].as_str().expect("method"),
            req["url"].as_str().expect("url"),
            &str_map(&req["headers"]),
            req["body"].as_str(),
        )
        .expect_err(id);
        let ok = match id {
            "neg-body-tampered" => matches!(
                err,
                VerifyError::DigestMismatch {
                    algorithm: "sha-512"
                }
            ),
            "neg-authorization-changed" | "neg-url-changed" => {
                matches!(err, VerifyError::SignatureMismatch { .. })
            }
            "neg-authorization-not-covered" => matches!(
                err,
                VerifyError::RequiredComponentNotCovered {
                    component: "authorization",
                    ..
                }
            ),
            other => panic!("unexpected negative vector {other}"),
        };
        assert!(ok, "{id}: wrong reason {err:?}");
    }
}

#[test]
fn pretty_printed_body_quirk() {
    let v = vectors();
    let (key, kid) = key(&v);
    for quirk in v["quirks"].as_array().expect("quirks") {
        let req = &quirk["request"];
        let method = req["method"].as_str().expect("method");
        let url = req["url"].as_str().expect("url");
        let body = req["body"].as_str().expect("body");
        // The reference output (digest of the compact form, length of the raw one) is rejected.
        let mut headers = str_map(&req["headers_in"]);
        for (k, val) in str_map(&quirk["output_headers"]) {
            headers.retain(|(h, _)| !h.eq_ignore_ascii_case(&k));
            headers.push((k, val));
        }
        assert_eq!(
            verify(&v, method, url, &headers, Some(body)),
            Err(VerifyError::DigestMismatch {
                algorithm: "sha-512"
            })
        );
        // We digest the exact bytes, so our own signature of the same body verifies, and its
        // digest is the one of the raw body.
        let auth = headers
            .iter()
            .find(|(k, _)| k == "authorization")
            .map(|(_, v)| v.clone());
        let ours = sign_request(
            &SignableRequest {
                method,
                target_uri: url,
                authorization: auth.as_deref(),
                body: Some(body.as_bytes()),
            },
            &key,
            &kid,
            1767225600,
        )
        .expect("signs");
        assert_eq!(
            ours.content_digest.as_deref(),
            quirk["digest_of_raw_body"].as_str()
        );
        let mut headers = vec![("authorization".to_owned(), auth.expect("auth"))];
        headers.extend(ours.iter().map(|(k, v)| (k.to_owned(), v.to_owned())));
        verify(&v, method, url, &headers, Some(body)).expect("our signature verifies");
    }
}

#[test]
fn fixture_is_the_shared_vectors_file() {
    let shared = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/vectors/http-signatures.json");
    let Ok(original) = std::fs::read(&shared) else {
        eprintln!(
            "SKIPPED: fixture_is_the_shared_vectors_file: {} is not there to compare with",
            shared.display()
        );
        return;
    };
    assert!(
        original == include_bytes!("fixtures/http-signatures.json"),
        "tests/fixtures/http-signatures.json differs from {}: copy it again",
        shared.display()
    );
}
