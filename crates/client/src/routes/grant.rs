//! Grants at the authorization server: request, continue (or poll), cancel.

use grantflow_protocol::grant::{AccessItem, ContinueRequest, GrantRequest, GrantResponse};
use grantflow_protocol::secret::Secret;
use reqwest::Method;
use url::Url;

use crate::client::Client;
use crate::error::{ClientError, ErrorKind};
use crate::transport::Call;

impl Client {
    /// Requests a grant: `POST <auth_server>` with `request`, signed, without `Authorization`.
    ///
    /// `auth_server` is the wallet address's `authServer`. The request goes to
    /// `auth_server.as_str()` exactly (note that `url::Url` adds a `/` to a bare origin); that
    /// same string is the grant endpoint in the finish hash base, so store it. Use
    /// [`Client::grant_client`] for `request.client` unless the grant needs another identity. Before sending, the request is checked as the
    /// reference client checks it: it asks for `access_token` or `subject`, every access item's
    /// actions are allowed for its type, and no outgoing-payment limit has both `debitAmount`
    /// and `receiveAmount`. A failed check is [`ErrorKind::InvalidRequest`], nothing sent.
    ///
    /// Never retried: a second grant request would create a second grant.
    pub async fn request_grant(
        &self,
        auth_server: &Url,
        request: &GrantRequest,
    ) -> Result<GrantResponse, ClientError> {
        if let Err(reason) = check_grant_request(request) {
            return Err(ClientError::new(
                Method::POST,
                auth_server,
                0,
                ErrorKind::InvalidRequest { reason },
            ));
        }
        let call = Call::new("grant.request", Method::POST, auth_server.clone()).json(request)?;
        self.execute_json(call).await
    }

    /// Continues a grant: `POST <continue_uri>` with `Authorization: GNAP <continue_token>`.
    ///
    /// With `Some(interact_ref)` the body is `{"interact_ref":"…"}` (after the finish redirect,
    /// whose hash must have been verified first); with `None` there is no body at all, which
    /// polls a grant requested without a finish URI.
    ///
    /// Never retried: the reference server answers a second continue with `request_denied`, so a
    /// lost answer cannot be fetched again. Check [`ClientError::delivery`] on failure.
    pub async fn continue_grant(
        &self,
        continue_uri: &Url,
        continue_token: &Secret,
        interact_ref: Option<&Secret>,
    ) -> Result<GrantResponse, ClientError> {
        let mut call =
            Call::new("grant.continue", Method::POST, continue_uri.clone()).token(continue_token);
        if let Some(interact_ref) = interact_ref {
            call = call.json(&ContinueRequest {
                interact_ref: interact_ref.clone(),
            })?;
        }
        self.execute_json(call).await
    }

    /// Cancels a grant (pending or issued): `DELETE <continue_uri>` with the continuation
    /// token. Retried on transient failures that are known not to have taken effect.
    pub async fn cancel_grant(
        &self,
        continue_uri: &Url,
        continue_token: &Secret,
    ) -> Result<(), ClientError> {
        let call =
            Call::new("grant.cancel", Method::DELETE, continue_uri.clone()).token(continue_token);
        self.execute_empty(call).await
    }
}

/// The checks the reference client makes before sending a grant request.
fn check_grant_request(request: &GrantRequest) -> Result<(), String> {
    if request.access_token.is_none() && request.subject.is_none() {
        return Err("a grant request needs `access_token` or `subject`".to_owned());
    }
    for item in request.access_token.iter().flat_map(|t| &t.access) {
        item.check_actions().map_err(|e| e.to_string())?;
        if let AccessItem::OutgoingPayment(op) = item {
            if let Some(limits) = &op.limits {
                if limits.debit_amount.is_some() && limits.receive_amount.is_some() {
                    return Err(
                        "an outgoing-payment limit may have `debitAmount` or `receiveAmount`, not both"
                            .to_owned(),
                    );
                }
            }
        }
    }
    Ok(())
}
