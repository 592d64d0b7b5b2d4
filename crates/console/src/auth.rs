//! Who may act: the operator token, the session cookie it opens, the CSRF token tied to the
//! session, and the origin check. Stateless, so every worker behind a load balancer that was
//! given the same token accepts the same session.
//!
//! - **Session**: after the operator enters the token once, the cookie `grantflow_console`
//!   holds `nonce.expires.mac`: a random nonce, the expiry (Unix seconds), and
//!   HMAC-SHA256 over both keyed with the operator token. `HttpOnly` (no script reads it),
//!   `SameSite=Strict` (no other site's request carries it), `Path` the console's, `Secure` when
//!   the console is reached over HTTPS. Changing the token ends every session.
//! - **CSRF**: every form that POSTs carries `csrf`, HMAC-SHA256 of the session's nonce keyed
//!   with the token: it is tied to the session, and no page without the cookie can know it.
//!   Compared in constant time.
//! - **Origin**: a POST must come from a page of the console's own origin: its `Origin` header
//!   (or, when a browser sends none, its `Referer`) must name the host the request was sent to
//!   (`Host`). A POST without either is refused.

use axum::http::{HeaderMap, header};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::config::OperatorToken;

/// The session cookie's name.
pub(crate) const COOKIE: &str = "grantflow_console";

/// A session whose cookie verified.
pub(crate) struct Session {
    nonce: String,
}

/// HMAC-SHA256 keyed with the token over `parts`, each followed by a zero byte.
fn mac(token: &OperatorToken, parts: &[&str]) -> Hmac<Sha256> {
    let mut mac = token.keyed().clone();
    for part in parts {
        mac.update(part.as_bytes());
        mac.update(&[0]);
    }
    mac
}

/// The cookie value of a new session lasting until `expires`.
pub(crate) fn new_session(token: &OperatorToken, expires: DateTime<Utc>) -> String {
    let nonce = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 18]>());
    let expires = expires.timestamp().to_string();
    let tag = URL_SAFE_NO_PAD.encode(
        mac(token, &["session", &nonce, &expires])
            .finalize()
            .into_bytes(),
    );
    format!("{nonce}.{expires}.{tag}")
}

/// The session of the request's cookie, if it verifies and has not expired at `now`.
pub(crate) fn session(
    token: &OperatorToken,
    headers: &HeaderMap,
    now: DateTime<Utc>,
) -> Option<Session> {
    let value = cookie(headers, COOKIE)?;
    let mut parts = value.split('.');
    let (nonce, expires, tag) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
    mac(token, &["session", nonce, expires])
        .verify_slice(&tag)
        .ok()?;
    let expires = DateTime::from_timestamp(expires.parse().ok()?, 0)?;
    (now < expires).then(|| Session {
        nonce: nonce.to_owned(),
    })
}

/// The CSRF token of `session` (what its forms carry).
pub(crate) fn csrf(token: &OperatorToken, session: &Session) -> String {
    URL_SAFE_NO_PAD.encode(
        mac(token, &["csrf", &session.nonce])
            .finalize()
            .into_bytes(),
    )
}

/// Whether `given` is the CSRF token of `session` (constant time).
pub(crate) fn csrf_matches(token: &OperatorToken, session: &Session, given: &str) -> bool {
    URL_SAFE_NO_PAD.decode(given).is_ok_and(|tag| {
        mac(token, &["csrf", &session.nonce])
            .verify_slice(&tag)
            .is_ok()
    })
}

/// Whether `given` is the operator token (constant time: both sides are hashed first, so
/// neither length nor content leaks through timing).
pub(crate) fn token_matches(token: &OperatorToken, given: &str) -> bool {
    use sha2::Digest;
    use subtle::ConstantTimeEq;
    let want = Sha256::digest(token.expose());
    let got = Sha256::digest(given.trim().as_bytes());
    bool::from(want.ct_eq(&got))
}

/// Whether the request comes from a page of the origin it was sent to (see the module docs).
pub(crate) fn same_origin(headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    let source = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER))
        .and_then(|v| v.to_str().ok());
    match source.and_then(|s| url_host(s)) {
        Some(from) => from.eq_ignore_ascii_case(host),
        None => false,
    }
}

/// Whether the page was reached over HTTPS (as its `Origin` or `Referer` says, or a proxy's
/// `X-Forwarded-Proto`): the session cookie is then `Secure`.
pub(crate) fn over_https(headers: &HeaderMap) -> bool {
    let proto = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok());
    let source = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER))
        .and_then(|v| v.to_str().ok());
    proto == Some("https") || source.is_some_and(|s| s.starts_with("https://"))
}

/// `host[:port]` of an absolute `http(s)` URL (`Origin` has no path; `Referer` has one).
fn url_host(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    Some(&rest[..end]).filter(|h| !h.is_empty() && !h.contains('@'))
}

/// The value of cookie `name` in the request.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find_map(|(k, v)| (k == name).then_some(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(text: &str) -> OperatorToken {
        OperatorToken::new(text).unwrap()
    }

    fn with(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (k, v) in pairs {
            headers.append(k.clone(), v.parse().unwrap());
        }
        headers
    }

    #[test]
    fn a_session_verifies_until_it_expires_and_only_under_its_token() {
        let t = token("operator-token-0123456789");
        let now: DateTime<Utc> = "2026-12-03T22:00:00Z".parse().unwrap();
        let value = new_session(&t, now + chrono::TimeDelta::hours(1));
        let headers = with(&[(header::COOKIE, &format!("a=b; {COOKIE}={value}"))]);
        let s = session(&t, &headers, now).unwrap();
        assert!(csrf_matches(&t, &s, &csrf(&t, &s)));
        assert!(!csrf_matches(&t, &s, "not-it"));
        assert!(session(&t, &headers, now + chrono::TimeDelta::hours(2)).is_none());
        assert!(session(&token("another-token-0123456789"), &headers, now).is_none());
        let forged = value.replacen('.', ".9", 1);
        let headers = with(&[(header::COOKIE, &format!("{COOKIE}={forged}"))]);
        assert!(session(&t, &headers, now).is_none());
    }

    #[test]
    fn origins_must_name_the_host() {
        let host = (header::HOST, "127.0.0.1:3344");
        assert!(same_origin(&with(&[
            host.clone(),
            (header::ORIGIN, "http://127.0.0.1:3344")
        ])));
        assert!(same_origin(&with(&[
            host.clone(),
            (
                header::REFERER,
                "http://127.0.0.1:3344/console/grants/x/cancel"
            )
        ])));
        assert!(!same_origin(&with(&[
            host.clone(),
            (header::ORIGIN, "http://evil.example")
        ])));
        assert!(!same_origin(&with(&[
            host.clone(),
            (header::ORIGIN, "null")
        ])));
        assert!(!same_origin(&with(&[
            host.clone(),
            (header::ORIGIN, "http://127.0.0.1:3344@evil.example")
        ])));
        assert!(!same_origin(&with(&[host])));
        assert!(token_matches(
            &token("operator-token-0123456789"),
            "operator-token-0123456789\n"
        ));
        assert!(!token_matches(
            &token("operator-token-0123456789"),
            "operator-token-012345678"
        ));
    }
}
