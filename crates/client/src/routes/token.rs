//! Access tokens at the authorization server: rotate, revoke.

use grantflow_protocol::grant::RotatedToken;
use grantflow_protocol::secret::Secret;
use reqwest::Method;
use url::Url;

use crate::client::Client;
use crate::error::ClientError;
use crate::transport::Call;

impl Client {
    /// Rotates an access token: `POST <manage>` without a body, `Authorization: GNAP <token>`.
    ///
    /// The answer carries a new value **and a new manage URL**; the old token is revoked by
    /// then. Never retried: a lost answer leaves the grant without a usable token (the reference
    /// server answers a second rotation of the old token with `invalid_client`). Check
    /// [`ClientError::delivery`] on failure.
    pub async fn rotate_token(
        &self,
        manage: &Url,
        token: &Secret,
    ) -> Result<RotatedToken, ClientError> {
        let call = Call::new("token.rotate", Method::POST, manage.clone()).token(token);
        self.execute_json(call).await
    }

    /// Revokes an access token: `DELETE <manage>`, `Authorization: GNAP <token>`. Retried on
    /// transient failures that are known not to have taken effect.
    pub async fn revoke_token(&self, manage: &Url, token: &Secret) -> Result<(), ClientError> {
        let call = Call::new("token.revoke", Method::DELETE, manage.clone()).token(token);
        self.execute_empty(call).await
    }
}
