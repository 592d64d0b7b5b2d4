//! Properties over arbitrary input: parsing never panics, amounts round-trip, and anything we
//! sign verifies (and stops verifying when any covered part changes).

#![allow(clippy::expect_used, clippy::unwrap_used)]

use grantflow_protocol::amount::Amount;
use grantflow_protocol::error::{GnapError, parse_json};
use grantflow_protocol::finish_hash::{FinishHashEncoding, finish_hash, verify_finish_hash};
use grantflow_protocol::grant::{GrantRequest, GrantResponse};
use grantflow_protocol::keys::PrivateKey;
use grantflow_protocol::signature::{
    SignableRequest, VerifiableRequest, VerifyError, VerifyOptions, sign_request, verify_request,
};
use proptest::prelude::*;

proptest! {
    #[test]
    fn parsing_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = parse_json::<GrantResponse>(&bytes);
        let _ = parse_json::<GrantRequest>(&bytes);
        let _ = parse_json::<GnapError>(&bytes);
        let _ = parse_json::<Amount>(&bytes);
    }

    #[test]
    fn amounts_round_trip(value in any::<u64>(), code in "[A-Z]{3}", scale in any::<u8>()) {
        let a = Amount::new(value, code, scale);
        let json = serde_json::to_string(&a).unwrap();
        let expected = format!("\"value\":\"{value}\"");
        prop_assert!(json.contains(&expected));
        prop_assert_eq!(serde_json::from_str::<Amount>(&json).unwrap(), a);
    }

    #[test]
    fn finish_hash_verifies_in_both_encodings(
        client in "[A-Za-z0-9-]{1,40}",
        server in "[A-Za-z0-9-]{1,40}",
        interact_ref in "[A-Za-z0-9-]{1,40}",
        endpoint in "https://[a-z]{1,10}\\.example/[a-z/]{0,10}",
    ) {
        for enc in [FinishHashEncoding::Rfc9635, FinishHashEncoding::PaddedBase64] {
            let h = finish_hash(&client, &server, &interact_ref, &endpoint, enc);
            prop_assert!(verify_finish_hash(&h, &client, &server, &interact_ref, &endpoint).is_ok());
            let other = format!("{endpoint}x");
            prop_assert!(verify_finish_hash(&h, &client, &server, &interact_ref, &other).is_err());
        }
    }

    #[test]
    fn what_we_sign_verifies_and_tampering_is_caught(
        seed in any::<[u8; 32]>(),
        method in prop::sample::select(vec!["GET", "POST", "DELETE", "PUT"]),
        path in "[a-z0-9/]{0,20}",
        auth in proptest::option::of("GNAP [A-Z0-9]{1,40}"),
        body in proptest::option::of(proptest::collection::vec(any::<u8>(), 1..300)),
        created in 0i64..4_000_000_000,
    ) {
        let key = PrivateKey::from_seed(&seed);
        let url = format!("https://rs.example/{path}");
        let h = sign_request(
            &SignableRequest { method, target_uri: &url, authorization: auth.as_deref(), body: body.as_deref() },
            &key, "k", created,
        ).unwrap();
        let mut headers: Vec<(&str, &str)> = h.iter().collect();
        if let Some(a) = &auth {
            headers.push(("Authorization", a));
        }
        let req = VerifiableRequest { method, target_uri: &url, headers: &headers, body: body.as_deref() };
        let ok = verify_request(&req, |_| Some(key.public_key()), &VerifyOptions::default()).unwrap();
        prop_assert_eq!(ok.created, created);

        let moved = format!("{url}?x");
        let tampered = VerifiableRequest { target_uri: &moved, ..req };
        let moved_ok = matches!(
            verify_request(&tampered, |_| Some(key.public_key()), &VerifyOptions::default()),
            Err(VerifyError::SignatureMismatch { .. })
        );
        prop_assert!(moved_ok);
        if let Some(b) = &body {
            let mut other = b.clone();
            other[0] ^= 1;
            let tampered = VerifiableRequest { body: Some(&other), ..req };
            let body_ok = matches!(
                verify_request(&tampered, |_| Some(key.public_key()), &VerifyOptions::default()),
                Err(VerifyError::DigestMismatch { .. })
            );
            prop_assert!(body_ok);
        }
    }
}
