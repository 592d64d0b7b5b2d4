//! Our serialised fixtures (tests/common/fixtures.rs) validate against the OpenAPI 3.1 specs of
//! `@interledger/open-payments` 7.4.0, with the package's own validators under Node; bodies
//! that break the spec are reported invalid, so the check is not a no-op.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use common::fixtures::{cases, invalid_cases};
use serde_json::{Value, json};

fn to_input(cases: &[(&str, &str, &str, &str, &str, u16, Value)]) -> Value {
    Value::Array(
        cases
            .iter()
            .map(|(name, spec, path, method, kind, status, body)| {
                json!({"name": name, "spec": spec, "path": path, "method": method, "kind": kind, "status": status, "body": body})
            })
            .collect(),
    )
}

#[test]
fn every_fixture_validates_against_the_reference_openapi_specs() {
    let Some(node) = common::node("every_fixture_validates_against_the_reference_openapi_specs")
    else {
        return;
    };
    let valid = cases();
    let invalid = invalid_cases();
    let mut all = valid.clone();
    all.extend(invalid.clone());
    let results = node.run("openapi-validate.mjs", &[], &to_input(&all));
    let results = results.as_array().expect("array");
    assert_eq!(results.len(), all.len());

    let mut failures = Vec::new();
    for (case, result) in all.iter().zip(results) {
        assert_eq!(result["name"], case.0);
        let expect_valid = !case.0.starts_with("INVALID");
        if result["valid"].as_bool() != Some(expect_valid) {
            failures.push(format!(
                "{}: expected {}, validator said {}",
                case.0,
                if expect_valid { "valid" } else { "invalid" },
                result
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    eprintln!(
        "OpenAPI: {} fixtures valid, {} broken bodies rejected",
        valid.len(),
        invalid.len()
    );
}

#[test]
fn fixtures_parse_back_into_the_same_values() {
    use grantflow_protocol::error::parse_json;
    use grantflow_protocol::grant::{GrantRequest, GrantResponse};

    for req in [
        common::fixtures::outgoing_grant_request(),
        common::fixtures::incoming_grant_request(),
        common::fixtures::jwk_client_grant_request(),
    ] {
        let bytes = serde_json::to_vec(&req).unwrap();
        assert_eq!(parse_json::<GrantRequest>(&bytes).unwrap(), req);
    }
    for resp in [
        common::fixtures::pending(),
        common::fixtures::issued(),
        common::fixtures::polled(),
    ] {
        let bytes = serde_json::to_vec(&resp).unwrap();
        assert_eq!(parse_json::<GrantResponse>(&bytes).unwrap(), resp);
    }
}
