//! Where the secrets sit in the stored JSON of a state and of an event: the one list a storage
//! layer seals (`grantflow-seal`) and the tests that keep it complete.
//!
//! A field is found by its JSON key and, where the key alone is ambiguous, the key of the object
//! that holds it (`value` is an amount's number under `debitAmount` but a token under
//! `access_token`). Only string values are secrets: `finish` is the AS's nonce when it is a string
//! and the finish method object in a request. The same rules hold for states
//! ([`GrantState::to_json`](crate::GrantState::to_json)) and events (`serde_json` of
//! [`Event`](crate::Event)), whose wire payloads share the protocol's field names.

use serde_json::Value;

/// One kind of secret in the stored JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecretField {
    /// The field's name as bound into a sealed value (stable: changing it makes sealed values
    /// unreadable).
    pub name: &'static str,
    /// The JSON key holding it.
    pub key: &'static str,
    /// The key of the object that holds it, when the key alone is ambiguous.
    pub parent: Option<&'static str>,
}

/// Every secret a stored state or event holds.
pub const SECRET_FIELDS: &[SecretField] = &[
    // The client's finish nonce: `interact.finish.nonce` of the grant request.
    SecretField {
        name: "client_nonce",
        key: "nonce",
        parent: Some("finish"),
    },
    // The finish URI carries the path token that authenticates the callback.
    SecretField {
        name: "finish_uri",
        key: "uri",
        parent: Some("finish"),
    },
    // The AS's finish nonce: `interact.finish` of a pending answer, `interaction.finish` held.
    SecretField {
        name: "as_nonce",
        key: "finish",
        parent: None,
    },
    // The interaction URL: the reference server puts the AS nonce in its path.
    SecretField {
        name: "redirect",
        key: "redirect",
        parent: None,
    },
    SecretField {
        name: "interact_ref",
        key: "interact_ref",
        parent: None,
    },
    // Continuation tokens (`continue.access_token.value`, `continuation.access_token.value`) and
    // access tokens (`access_token.value` of an answer, `token.value` held).
    SecretField {
        name: "token",
        key: "value",
        parent: Some("access_token"),
    },
    SecretField {
        name: "token",
        key: "value",
        parent: Some("token"),
    },
];

/// The secret field a JSON key names inside an object held under `parent`, if any.
pub fn secret_field(parent: Option<&str>, key: &str) -> Option<&'static SecretField> {
    SECRET_FIELDS
        .iter()
        .find(|f| f.key == key && (f.parent.is_none() || f.parent == parent))
}

/// Calls `visit` with every secret field's value in `json` (a stored state or event), depth
/// first, stopping at the first error. Values that are neither strings nor objects (`null`) are
/// skipped; a string is the plain secret, an object is left to `visit` (a sealed form).
pub fn visit_secrets<E>(
    json: &mut Value,
    visit: &mut dyn FnMut(&'static SecretField, &mut Value) -> Result<(), E>,
) -> Result<(), E> {
    fn walk<E>(
        parent: Option<&str>,
        json: &mut Value,
        visit: &mut dyn FnMut(&'static SecretField, &mut Value) -> Result<(), E>,
    ) -> Result<(), E> {
        match json {
            Value::Object(map) => {
                for (key, value) in map.iter_mut() {
                    match secret_field(parent, key) {
                        // A sealed value is an object under a secret key; a finish *method*
                        // object (`{"method":..,"uri":..,"nonce":..}`) is not, and is walked.
                        Some(field)
                            if value.is_string()
                                || (value.is_object() && !is_finish_method(value)) =>
                        {
                            visit(field, value)?
                        }
                        _ => walk(Some(key), value, visit)?,
                    }
                }
                Ok(())
            }
            Value::Array(items) => items.iter_mut().try_for_each(|v| walk(parent, v, visit)),
            _ => Ok(()),
        }
    }
    walk(None, json, visit)
}

fn is_finish_method(value: &Value) -> bool {
    value.get("method").is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The snapshot fixture marks every secret with `SECRET`: blanking the listed fields must
    /// leave none.
    #[test]
    fn the_list_covers_every_secret_of_the_state_fixture() {
        let fixture = include_str!("../tests/fixtures/state-v1.jsonl");
        let mut seen = std::collections::BTreeSet::new();
        for line in fixture.lines().filter(|l| !l.trim().is_empty()) {
            let mut json: Value = serde_json::from_str(line).unwrap();
            visit_secrets::<()>(&mut json, &mut |field, value| {
                seen.insert(field.name);
                *value = Value::String("<blank>".into());
                Ok(())
            })
            .unwrap();
            let text = json.to_string();
            assert!(!text.contains("SECRET"), "unlisted secret in {text}");
            // Amounts are not secrets.
            if line.contains("debitAmount") {
                assert!(text.contains(r#""value":"500""#), "{text}");
            }
        }
        for name in [
            "client_nonce",
            "finish_uri",
            "as_nonce",
            "interact_ref",
            "token",
        ] {
            assert!(seen.contains(name), "{name} not exercised by the fixture");
        }
    }
}
