//! The bridge to `grantflow_protocol::signature`: the signature headers of one attempt.
//!
//! Which requests are signed is decided in `transport` (every POST, and every request carrying a
//! token). Here the exact bytes of the body, the exact serialised URL and the exact
//! `Authorization` value go to [`sign_request`], and every header it returns is set on the
//! request: `Signature`, `Signature-Input`, and with a body `Content-Digest`, `Content-Length`
//! and the one `Content-Type`.

use std::time::{SystemTime, UNIX_EPOCH};

use grantflow_protocol::signature::{SignableRequest, sign_request};
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue};

use crate::client::Client;
use crate::error::ErrorKind;
use crate::transport::Call;

impl Client {
    /// Adds the signature headers for `call` to `headers`, with `created` taken from `now`.
    pub(crate) fn sign(
        &self,
        call: &Call<'_>,
        headers: &mut HeaderMap,
        now: SystemTime,
    ) -> Result<(), ErrorKind> {
        let created = now
            .duration_since(UNIX_EPOCH)
            .ok()
            .and_then(|d| i64::try_from(d.as_secs()).ok())
            .ok_or_else(|| ErrorKind::Signing {
                reason: "the system clock is before 1970".to_owned(),
            })?;
        let authorization = match headers.get(AUTHORIZATION) {
            Some(value) => Some(value.to_str().map_err(|_| ErrorKind::Signing {
                reason: "the Authorization header is not visible ASCII".to_owned(),
            })?),
            None => None,
        };
        let request = SignableRequest {
            method: call.method.as_str(),
            target_uri: call.url.as_str(),
            authorization,
            body: call.body.as_deref(),
        };
        // The key active now signs this attempt; a switch meanwhile applies to the next one.
        let signed = self
            .inner
            .keys
            .with_active(|key_id, key| sign_request(&request, key, key_id, created))
            .map_err(|e| ErrorKind::Signing {
                reason: e.to_string(),
            })?;
        for (name, value) in signed.iter() {
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(|e| ErrorKind::Signing {
                reason: format!("header name {name}: {e}"),
            })?;
            let mut value = HeaderValue::from_str(value).map_err(|e| ErrorKind::Signing {
                reason: format!("header {name}: {e}"),
            })?;
            value.set_sensitive(true);
            // `insert`, not `append`: exactly one of each, Content-Type included.
            headers.insert(name, value);
        }
        Ok(())
    }
}
