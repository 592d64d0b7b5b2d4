//! Signing and verifying round trips, and one rejection per rule of the verifier.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

use super::*;
use crate::keys::PrivateKey;

const URL: &str = "https://auth.example/continue/1";
const BODY: &[u8] = br#"{"interact_ref":"r"}"#;
const CREATED: i64 = 1_767_225_600;

fn key() -> PrivateKey {
    PrivateKey::from_seed(&[7; 32])
}

/// Signed POST with Authorization and body, as owned header pairs.
fn signed() -> Vec<(String, String)> {
    let h = sign_request(
        &SignableRequest {
            method: "POST",
            target_uri: URL,
            authorization: Some("GNAP tok"),
            body: Some(BODY),
        },
        &key(),
        "k1",
        CREATED,
    )
    .unwrap();
    let mut headers = vec![("Authorization".to_owned(), "GNAP tok".to_owned())];
    headers.extend(h.iter().map(|(k, v)| (k.to_owned(), v.to_owned())));
    headers
}

fn set(headers: &mut Vec<(String, String)>, name: &str, value: &str) {
    headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
    headers.push((name.to_owned(), value.to_owned()));
}

fn check_with(
    headers: &[(String, String)],
    body: Option<&[u8]>,
    options: &VerifyOptions,
) -> Result<VerifiedSignature, VerifyError> {
    let pairs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let req = VerifiableRequest {
        method: "POST",
        target_uri: URL,
        headers: &pairs,
        body,
    };
    verify_request(
        &req,
        |kid| (kid == "k1").then(|| key().public_key()),
        options,
    )
}

fn check(headers: &[(String, String)]) -> Result<VerifiedSignature, VerifyError> {
    check_with(headers, Some(BODY), &VerifyOptions::default())
}

/// Re-signs an arbitrary Signature-Input (raw member value after `sig1=`) over the request,
/// so that only the rule under test can fail.
fn resign(headers: &mut Vec<(String, String)>, input_value: &str) {
    set(headers, "Signature-Input", &format!("sig1={input_value}"));
    let pairs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let req = VerifiableRequest {
        method: "POST",
        target_uri: URL,
        headers: &pairs,
        body: Some(BODY),
    };
    let parsed = ParsedSignature::parse(&req).unwrap();
    let base = parsed.signature_base(&req).unwrap();
    let sig = key().sign(base.as_bytes());
    set(
        headers,
        "Signature",
        &format!("sig1=:{}:", STANDARD.encode(sig)),
    );
}

#[test]
fn happy_path_reports_what_was_verified() {
    let v = check(&signed()).unwrap();
    assert_eq!(v.key_id, "k1");
    assert_eq!(v.created, CREATED);
    assert_eq!(
        v.components,
        [
            "@method",
            "@target-uri",
            "authorization",
            "content-digest",
            "content-length",
            "content-type"
        ]
    );
}

#[test]
fn repeated_headers_are_combined() {
    // An unrelated repeated header does not disturb anything; a split Signature-Input
    // dictionary is combined before parsing.
    let mut h = signed();
    let input = h
        .iter()
        .find(|(k, _)| k == "Signature-Input")
        .unwrap()
        .1
        .clone();
    set(&mut h, "Signature-Input", "other=(\"@method\");created=1");
    h.push(("signature-input".into(), input));
    h.push(("Accept".into(), "a".into()));
    h.push(("accept".into(), "b".into()));
    assert!(check(&h).is_ok());
}

#[test]
fn missing_and_malformed_headers() {
    let mut h = signed();
    h.retain(|(k, _)| k != "Signature");
    assert_eq!(
        check(&h),
        Err(VerifyError::MissingHeader {
            header: "Signature"
        })
    );

    let mut h = signed();
    set(&mut h, "Signature-Input", "sig1=(\"@method\"");
    assert!(matches!(
        check(&h),
        Err(VerifyError::MalformedHeader {
            header: "Signature-Input",
            ..
        })
    ));

    let mut h = signed();
    set(&mut h, "Signature", "sig2=:AAAA:");
    assert_eq!(
        check(&h),
        Err(VerifyError::LabelMissing {
            header: "Signature"
        })
    );

    let mut h = signed();
    set(&mut h, "Signature-Input", "sig1=\"@method\"");
    assert!(matches!(
        check(&h),
        Err(VerifyError::WrongMemberType {
            header: "Signature-Input",
            ..
        })
    ));

    // The Rust SDK's bare base64 signature is not RFC 9421.
    let mut h = signed();
    let sig = h.iter().find(|(k, _)| k == "Signature").unwrap().1.clone();
    set(
        &mut h,
        "Signature",
        sig.trim_start_matches("sig1=:").trim_end_matches(':'),
    );
    assert!(check(&h).is_err());

    let mut h = signed();
    set(&mut h, "Signature", "sig1=:AAAA:");
    assert!(matches!(
        check(&h),
        Err(VerifyError::WrongMemberType {
            header: "Signature",
            ..
        })
    ));
}

#[test]
fn component_rules() {
    let all = r#""@target-uri" "authorization" "content-digest" "content-length" "content-type""#;
    let mut h = signed();
    resign(&mut h, &format!(r#"({all});keyid="k1";created={CREATED}"#));
    assert!(matches!(
        check(&h),
        Err(VerifyError::RequiredComponentNotCovered {
            component: "@method",
            ..
        })
    ));

    let mut h = signed();
    resign(
        &mut h,
        &format!(r#"("@method" "@target-uri" "authorization");keyid="k1";created={CREATED}"#),
    );
    assert!(matches!(
        check(&h),
        Err(VerifyError::RequiredComponentNotCovered {
            component: "content-digest",
            ..
        })
    ));

    // Unquoted components (the Rust SDK's output) are tokens, not strings.
    let mut h = signed();
    set(
        &mut h,
        "Signature-Input",
        &format!(r#"sig1=(@method @target-uri);keyid="k1";created={CREATED}"#),
    );
    assert!(check(&h).is_err());

    let mut h = signed();
    set(
        &mut h,
        "Signature-Input",
        &format!(r#"sig1=("@method" "@Target-URI");keyid="k1";created={CREATED}"#),
    );
    assert!(matches!(
        check(&h),
        Err(VerifyError::InvalidComponent { .. })
    ));

    let mut h = signed();
    set(
        &mut h,
        "Signature-Input",
        &format!(r#"sig1=("@method" "@method");keyid="k1";created={CREATED}"#),
    );
    assert!(matches!(
        check(&h),
        Err(VerifyError::InvalidComponent {
            reason: "listed twice",
            ..
        })
    ));

    let mut h = signed();
    set(
        &mut h,
        "Signature-Input",
        &format!(r#"sig1=("@method" "@query-param";name="a");keyid="k1";created={CREATED}"#),
    );
    assert!(matches!(
        check(&h),
        Err(VerifyError::InvalidComponent { .. })
    ));

    let mut h = signed();
    set(
        &mut h,
        "Signature-Input",
        &format!(r#"sig1=("@method" "@request-target");keyid="k1";created={CREATED}"#),
    );
    assert!(matches!(
        check(&h),
        Err(VerifyError::UnsupportedComponent { .. })
    ));

    // A covered header that is not there.
    let mut h = signed();
    set(
        &mut h,
        "Signature-Input",
        &format!(
            r#"sig1=("@method" "@target-uri" "authorization" "content-digest" "content-length" "content-type" "accept");keyid="k1";created={CREATED}"#
        ),
    );
    assert!(matches!(
        check(&h),
        Err(VerifyError::ComponentMissing { .. })
    ));
}

#[test]
fn derived_components_and_extra_params_verify() {
    let mut h = signed();
    resign(
        &mut h,
        &format!(
            r#"("@method" "@target-uri" "@authority" "@scheme" "@path" "@query" "authorization" "content-digest" "content-length" "content-type");created={CREATED};keyid="k1";alg="ed25519";nonce="n""#
        ),
    );
    assert!(check(&h).is_ok());
}

#[test]
fn parameter_rules() {
    let comps = r#"("@method" "@target-uri" "authorization" "content-digest" "content-length" "content-type")"#;
    for (input, param) in [
        (format!("{comps};created={CREATED}"), "keyid"),
        (format!(r#"{comps};keyid=k1;created={CREATED}"#), "keyid"),
        (format!(r#"{comps};keyid="k1""#), "created"),
        (
            format!(r#"{comps};keyid="k1";created="{CREATED}""#),
            "created",
        ),
        (
            format!(r#"{comps};keyid="k1";created={CREATED};expires=?1"#),
            "expires",
        ),
    ] {
        let mut h = signed();
        set(&mut h, "Signature-Input", &format!("sig1={input}"));
        assert!(
            matches!(check(&h), Err(VerifyError::InvalidParameter { param: p, .. }) if p == param),
            "{input}"
        );
    }
    let mut h = signed();
    set(
        &mut h,
        "Signature-Input",
        &format!(r#"sig1={comps};keyid="k1";created={CREATED};alg="rsa-pss-sha512""#),
    );
    assert!(matches!(
        check(&h),
        Err(VerifyError::UnsupportedAlgorithm { .. })
    ));
}

#[test]
fn content_rules() {
    let mut h = signed();
    h.retain(|(k, _)| k != "Content-Length");
    assert!(
        matches!(check(&h), Err(VerifyError::ComponentMissing { component }) if component == "content-length")
    );

    let mut h = signed();
    set(&mut h, "Content-Length", "999");
    assert!(matches!(
        check(&h),
        Err(VerifyError::ContentLengthMismatch { actual: 20, .. })
    ));

    assert_eq!(
        check_with(&signed(), None, &VerifyOptions::default()),
        Err(VerifyError::DigestWithoutBody)
    );

    let mut h = signed();
    set(&mut h, "Content-Digest", "sha-512=abc");
    assert!(matches!(
        check(&h),
        Err(VerifyError::MalformedContentDigest { .. })
    ));

    let mut h = signed();
    set(&mut h, "Content-Digest", "md5=:AAAA:");
    assert_eq!(check(&h), Err(VerifyError::UnsupportedDigestAlgorithm));

    // A second, correct sha-256 digest is checked too; a wrong one is rejected.
    let sha256 = format!("sha-256=:{}:", STANDARD.encode(Sha256::digest(BODY)));
    let sha512 = content_digest(BODY);
    let mut h = signed();
    set(&mut h, "Content-Digest", &format!("{sha256}, {}", &sha512));
    resign(
        &mut h,
        &format!(
            r#"("@method" "@target-uri" "authorization" "content-digest" "content-length" "content-type");keyid="k1";created={CREATED}"#
        ),
    );
    assert!(check(&h).is_ok());
    let mut h = signed();
    set(
        &mut h,
        "Content-Digest",
        &format!("sha-256=:{}:, {sha512}", STANDARD.encode([0u8; 32])),
    );
    resign(
        &mut h,
        &format!(
            r#"("@method" "@target-uri" "authorization" "content-digest" "content-length" "content-type");keyid="k1";created={CREATED}"#
        ),
    );
    assert_eq!(
        check(&h),
        Err(VerifyError::DigestMismatch {
            algorithm: "sha-256"
        })
    );
}

#[test]
fn freshness() {
    let opts = |now, max_age_secs| VerifyOptions {
        freshness: Some(Freshness {
            now,
            max_age_secs,
            max_future_skew_secs: 5,
        }),
    };
    assert!(check_with(&signed(), Some(BODY), &opts(CREATED + 300, 300)).is_ok());
    assert!(matches!(
        check_with(&signed(), Some(BODY), &opts(CREATED + 301, 300)),
        Err(VerifyError::TooOld { .. })
    ));
    assert!(check_with(&signed(), Some(BODY), &opts(CREATED - 5, 300)).is_ok());
    assert!(matches!(
        check_with(&signed(), Some(BODY), &opts(CREATED - 6, 300)),
        Err(VerifyError::CreatedInFuture { .. })
    ));
    let mut h = signed();
    resign(
        &mut h,
        &format!(
            r#"("@method" "@target-uri" "authorization" "content-digest" "content-length" "content-type");keyid="k1";created={CREATED};expires={}"#,
            CREATED + 10
        ),
    );
    assert!(check_with(&h, Some(BODY), &opts(CREATED + 10, 300)).is_ok());
    assert!(matches!(
        check_with(&h, Some(BODY), &opts(CREATED + 11, 300)),
        Err(VerifyError::Expired { .. })
    ));
}

#[test]
fn check_request_needs_no_key() {
    let h = signed();
    let pairs: Vec<(&str, &str)> = h.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let req = VerifiableRequest {
        method: "POST",
        target_uri: URL,
        headers: &pairs,
        body: Some(BODY),
    };
    let parsed = ParsedSignature::parse(&req).unwrap();
    assert_eq!(parsed.check_request(&req), Ok(()));
    let tampered = VerifiableRequest {
        body: Some(br#"{"interact_ref":"x"}"#),
        ..req
    };
    assert_eq!(
        parsed.check_request(&tampered),
        Err(VerifyError::DigestMismatch {
            algorithm: "sha-512"
        })
    );
}

#[test]
fn key_and_signature_rules() {
    let h = signed();
    let pairs: Vec<(&str, &str)> = h.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let req = VerifiableRequest {
        method: "POST",
        target_uri: URL,
        headers: &pairs,
        body: Some(BODY),
    };
    assert_eq!(
        verify_request(&req, |_| None, &VerifyOptions::default()),
        Err(VerifyError::UnknownKey {
            key_id: "k1".into()
        })
    );
    let other = PrivateKey::from_seed(&[8; 32]).public_key();
    assert_eq!(
        verify_request(&req, |_| Some(other), &VerifyOptions::default()),
        Err(VerifyError::SignatureMismatch {
            key_id: "k1".into()
        })
    );
    let lower = VerifiableRequest {
        method: "post",
        ..req
    };
    assert!(matches!(
        verify_request(
            &lower,
            |_| Some(key().public_key()),
            &VerifyOptions::default()
        ),
        Err(VerifyError::SignatureMismatch { .. })
    ));
}

#[test]
fn sign_rejects_unserialisable_inputs() {
    let req = SignableRequest {
        method: "GET",
        target_uri: URL,
        authorization: None,
        body: None,
    };
    assert!(matches!(
        sign_request(&req, &key(), "kéy", CREATED),
        Err(SignError::InvalidKeyId { .. })
    ));
    assert!(matches!(
        sign_request(&req, &key(), "k", 1_000_000_000_000_000),
        Err(SignError::InvalidCreated { .. })
    ));
    let h = sign_request(&req, &key(), "k", CREATED).unwrap();
    assert_eq!(h.iter().count(), 2);
    assert_eq!(
        h.signature_input,
        format!(r#"sig1=("@method" "@target-uri");keyid="k";created={CREATED}"#)
    );
    // An empty body is no body.
    let empty = SignableRequest {
        body: Some(b""),
        ..req
    };
    assert_eq!(sign_request(&empty, &key(), "k", CREATED).unwrap(), h);
}
