//! Incoming payments at the resource server: create, get (owner and public view), complete,
//! list.

use grantflow_protocol::incoming_payment::{
    CreateIncomingPayment, IncomingPayment, PublicIncomingPayment,
};
use grantflow_protocol::pagination::{Page, PageRequest};
use grantflow_protocol::secret::Secret;
use reqwest::Method;
use url::Url;

use crate::client::Client;
use crate::error::ClientError;
use crate::routes::common::{endpoint, list_url, same_asset};
use crate::transport::Call;

impl Client {
    /// Creates an incoming payment: `POST {resource_server}/incoming-payments`.
    ///
    /// Like the reference client, rejects an answer that is already completed or has received
    /// something ([`ErrorKind::InvalidResponse`](crate::ErrorKind::InvalidResponse)). Never
    /// retried.
    pub async fn create_incoming_payment(
        &self,
        resource_server: &Url,
        token: &Secret,
        payment: &CreateIncomingPayment,
    ) -> Result<IncomingPayment, ClientError> {
        let url = endpoint(Method::POST, resource_server, &["incoming-payments"])?;
        let call = Call::new("incoming_payment.create", Method::POST, url)
            .token(token)
            .json(payment)?;
        self.execute_checked(call, |p: &IncomingPayment| {
            if p.completed {
                return Err("a new incoming payment is already completed".to_owned());
            }
            if p.received_amount.value != 0 {
                return Err("a new incoming payment has already received an amount".to_owned());
            }
            check_incoming(p)
        })
        .await
    }

    /// Gets an incoming payment as its owner: `GET <url>` with the token, signed. Retried on
    /// transient failures.
    pub async fn get_incoming_payment(
        &self,
        url: &Url,
        token: &Secret,
    ) -> Result<IncomingPayment, ClientError> {
        let call = Call::new("incoming_payment.get", Method::GET, url.clone()).token(token);
        self.execute_checked(call, check_incoming).await
    }

    /// Gets the public view of an incoming payment: `GET <url>`, unsigned, no token. Retried on
    /// transient failures.
    pub async fn get_public_incoming_payment(
        &self,
        url: &Url,
    ) -> Result<PublicIncomingPayment, ClientError> {
        let call = Call::new("incoming_payment.get_public", Method::GET, url.clone());
        self.execute_json(call).await
    }

    /// Completes an incoming payment: `POST <url>/complete` without a body. Rejects an answer
    /// that is not completed. Never retried.
    pub async fn complete_incoming_payment(
        &self,
        url: &Url,
        token: &Secret,
    ) -> Result<IncomingPayment, ClientError> {
        let url = endpoint(Method::POST, url, &["complete"])?;
        let call = Call::new("incoming_payment.complete", Method::POST, url).token(token);
        self.execute_checked(call, |p: &IncomingPayment| {
            if !p.completed {
                return Err("the completed incoming payment is not marked completed".to_owned());
            }
            check_incoming(p)
        })
        .await
    }

    /// Lists a wallet address's incoming payments: `GET {resource_server}/incoming-payments
    /// ?wallet-address=…&first=…|last=…&cursor=…`. Retried on transient failures.
    pub async fn list_incoming_payments(
        &self,
        resource_server: &Url,
        token: &Secret,
        wallet_address: &str,
        page: &PageRequest,
    ) -> Result<Page<IncomingPayment>, ClientError> {
        let url = list_url(resource_server, "incoming-payments", wallet_address, page)?;
        let call = Call::new("incoming_payment.list", Method::GET, url).token(token);
        self.execute_checked(call, |page: &Page<IncomingPayment>| {
            page.result.iter().try_for_each(check_incoming)
        })
        .await
    }
}

/// `incomingAmount` and `receivedAmount` are of one asset (the reference client's check).
fn check_incoming(p: &IncomingPayment) -> Result<(), String> {
    match &p.incoming_amount {
        Some(incoming) => same_asset(
            "incomingAmount and receivedAmount",
            incoming,
            &p.received_amount,
        ),
        None => Ok(()),
    }
}
