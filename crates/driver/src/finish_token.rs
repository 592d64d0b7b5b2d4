//! Finish URI path tokens: how a grant's finish URI is built, what of it is stored, and how a
//! callback's token is checked.
//!
//! With the storage keys ([`EngineConfig::finish_token_keys`](crate::EngineConfig)) a grant's
//! token is [`KeyRing::finish_token`] of its id. The stored request keeps the finish URI without
//! its token segment (`<base>/finish/<grant id>`); the token is put in when the request is sent
//! ([`sendable`], so a re-sent request carries it too) and recomputed to check a callback
//! ([`token_matches`]): no copy of it is stored, sealed or not, and a reader of the database
//! cannot make one.
//!
//! Without the keys the token is random and is the stored URI's last segment
//! (`<base>/finish/<grant id>/<token>`), compared in constant time. Grants requested before the
//! keys were used have that form and still finish. The two forms are told apart by the stored
//! URI's last segment: the grant id itself (keyed) or anything else (a stored token).

use std::borrow::Cow;
use std::sync::Arc;

use base64::Engine as _;
use grantflow_machine::{Effect, GrantIntent};
use grantflow_seal::KeyRing;
use grantflow_store::GrantId;
use subtle::ConstantTimeEq;
use url::Url;

use crate::error::EngineError;

/// `base` with `segments` appended to its path (a trailing slash of the base is not doubled; its
/// query and fragment dropped).
fn with_segments(base: &Url, segments: &[&str]) -> Result<Url, EngineError> {
    let mut uri = base.clone();
    uri.set_query(None);
    uri.set_fragment(None);
    uri.path_segments_mut()
        .map_err(|()| EngineError::BadFinishUrl(base.to_string()))?
        .pop_if_empty()
        .extend(segments);
    Ok(uri)
}

/// The finish URI a new grant's stored request holds: `<base>/finish/<grant id>` with `keys`
/// (the token is added when sent), `<base>/finish/<grant id>/<random token>` without.
pub(crate) fn stored_finish_uri(
    base: &Url,
    id: GrantId,
    keys: Option<&KeyRing>,
) -> Result<Url, EngineError> {
    let id = id.to_string();
    match keys {
        Some(_) => with_segments(base, &["finish", &id]),
        None => {
            let token =
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
            with_segments(base, &["finish", &id, &token])
        }
    }
}

/// Whether a stored finish URI leaves its token to the keys: its last segment is the grant id.
fn is_keyed(uri: &Url, id: GrantId) -> Option<bool> {
    let last = uri.path_segments()?.next_back()?;
    Some(last == id.to_string())
}

/// The stored finish URI of `intent`, if it asks for a redirect finish.
fn stored_uri(intent: &GrantIntent) -> Option<Url> {
    let finish = intent.request.interact.as_ref()?.finish.as_ref()?;
    Url::parse(&finish.uri).ok()
}

/// The effect as it is sent: a grant request whose stored finish URI is keyed gets its token
/// (under the ring's sealing key); every other effect is sent as it is. `Err` (nothing can be
/// sent) when the URI is keyed but this engine has no keys.
pub(crate) fn sendable<'a>(
    effect: &'a Effect,
    id: GrantId,
    keys: Option<&KeyRing>,
) -> Result<Cow<'a, Effect>, String> {
    let Effect::SendGrantRequest { intent } = effect else {
        return Ok(Cow::Borrowed(effect));
    };
    let Some(uri) = stored_uri(intent).filter(|u| is_keyed(u, id) == Some(true)) else {
        return Ok(Cow::Borrowed(effect));
    };
    let keys = keys.ok_or_else(|| {
        "the grant's finish URI token is made with the storage keys, and this engine has none \
         (EngineConfig::finish_token_keys)"
            .to_owned()
    })?;
    let token = keys.finish_token(id);
    let mut sent = (**intent).clone();
    if let Some(finish) = sent
        .request
        .interact
        .as_mut()
        .and_then(|i| i.finish.as_mut())
    {
        let with_token = with_segments(&uri, &[token.as_str()]).map_err(|e| e.to_string())?;
        finish.uri = with_token.into();
    }
    Ok(Cow::Owned(Effect::SendGrantRequest {
        intent: Arc::new(sent),
    }))
}

/// Whether `token` (the last path segment of a callback) is the token of the grant `id` whose
/// request was `intent`: recomputed with `keys` for a keyed URI (any key of the ring), compared in
/// constant time with the stored one otherwise. A grant without a finish URI has no token.
pub(crate) fn token_matches(
    intent: &GrantIntent,
    id: GrantId,
    token: &str,
    keys: Option<&KeyRing>,
) -> bool {
    let Some(uri) = stored_uri(intent) else {
        return false;
    };
    match is_keyed(&uri, id) {
        Some(true) => keys.is_some_and(|k| k.finish_token_matches(id, token)),
        Some(false) => {
            let expected = uri
                .path_segments()
                .and_then(|mut s| s.next_back())
                .unwrap_or_default();
            expected.len() == token.len() && bool::from(expected.as_bytes().ct_eq(token.as_bytes()))
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use grantflow_protocol::Secret;
    use grantflow_protocol::grant::{
        Client, FinishMethod, GrantRequest, InteractFinish, InteractRequest, InteractStart,
    };
    use grantflow_seal::{KeyId, StorageKey};

    use super::*;

    fn ring(id: &str) -> KeyRing {
        KeyRing::new(vec![StorageKey::generate(KeyId::new(id).unwrap())]).unwrap()
    }

    fn intent(uri: &Url) -> GrantIntent {
        GrantIntent::new(
            "https://auth.example/",
            GrantRequest {
                access_token: None,
                client: Client::WalletAddress("https://wallet.example/shop".into()),
                interact: Some(InteractRequest {
                    start: vec![InteractStart::Redirect],
                    finish: Some(InteractFinish {
                        method: FinishMethod::Redirect,
                        uri: uri.to_string(),
                        nonce: Secret::new("n"),
                    }),
                }),
                subject: None,
            },
        )
    }

    fn sent_uri(effect: &Effect) -> String {
        let Effect::SendGrantRequest { intent } = effect else {
            panic!("not a grant request")
        };
        intent
            .request
            .interact
            .as_ref()
            .unwrap()
            .finish
            .as_ref()
            .unwrap()
            .uri
            .clone()
    }

    #[test]
    fn finish_uris_are_built_from_segments() {
        let id = GrantId::new_random();
        let keys = ring("k");
        for base in ["https://shop.example/gf", "https://shop.example/gf/?q=1#f"] {
            let uri = stored_finish_uri(&base.parse().unwrap(), id, Some(&keys)).unwrap();
            assert_eq!(uri.as_str(), format!("https://shop.example/gf/finish/{id}"));
        }
        let root = stored_finish_uri(&"https://shop.example".parse().unwrap(), id, None).unwrap();
        let prefix = format!("https://shop.example/finish/{id}/");
        assert!(root.as_str().starts_with(&prefix), "{root}");
        assert_eq!(root.as_str().len(), prefix.len() + 43);
        assert!(matches!(
            stored_finish_uri(&"mailto:a@b.example".parse().unwrap(), id, None),
            Err(EngineError::BadFinishUrl(_))
        ));
    }

    #[test]
    fn a_keyed_token_is_added_when_sent_and_recomputed_to_check() {
        let id = GrantId::new_random();
        let keys = ring("k1");
        let stored =
            stored_finish_uri(&"https://shop.example/gf".parse().unwrap(), id, Some(&keys))
                .unwrap();
        let intent = Arc::new(intent(&stored));
        let effect = Effect::SendGrantRequest {
            intent: intent.clone(),
        };
        let sent = sendable(&effect, id, Some(&keys)).unwrap();
        let uri = sent_uri(&sent);
        let token = uri.rsplit_once('/').unwrap().1;
        assert_eq!(uri, format!("{stored}/{token}"));
        assert_eq!(token, keys.finish_token(id).as_str());
        assert!(token_matches(&intent, id, token, Some(&keys)));
        // Not for another grant, not without the keys, not a changed token, not under
        // another ring.
        assert!(!token_matches(
            &intent,
            GrantId::new_random(),
            token,
            Some(&keys)
        ));
        assert!(!token_matches(&intent, id, token, None));
        assert!(!token_matches(&intent, id, &token[1..], Some(&keys)));
        assert!(!token_matches(&intent, id, token, Some(&ring("k1"))));
        // An engine without keys cannot send it.
        assert!(sendable(&effect, id, None).is_err());
    }

    #[test]
    fn a_stored_token_is_sent_as_it_is_and_compared() {
        let id = GrantId::new_random();
        let keys = ring("k1");
        let stored =
            stored_finish_uri(&"https://shop.example/gf".parse().unwrap(), id, None).unwrap();
        let token = stored
            .path_segments()
            .unwrap()
            .next_back()
            .unwrap()
            .to_owned();
        let intent = Arc::new(intent(&stored));
        let effect = Effect::SendGrantRequest {
            intent: intent.clone(),
        };
        // Sent unchanged, with or without keys: a grant requested before the keys were used.
        for k in [None, Some(&keys)] {
            assert!(matches!(sendable(&effect, id, k), Ok(Cow::Borrowed(_))));
            assert!(token_matches(&intent, id, &token, k));
            assert!(!token_matches(&intent, id, &keys.finish_token(id), k));
        }
        assert!(!token_matches(&intent, id, "", None));
    }
}
