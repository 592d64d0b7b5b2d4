//! Outgoing payments at the resource server: create, get, list, and what the grant has spent.

use grantflow_protocol::outgoing_payment::{
    CreateOutgoingPayment, OutgoingPayment, OutgoingPaymentGrantSpentAmounts,
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
    /// Creates an outgoing payment: `POST {resource_server}/outgoing-payments`, from a quote or
    /// straight to an incoming payment. Never retried: a second create pays twice.
    pub async fn create_outgoing_payment(
        &self,
        resource_server: &Url,
        token: &Secret,
        payment: &CreateOutgoingPayment,
    ) -> Result<OutgoingPayment, ClientError> {
        let url = endpoint(Method::POST, resource_server, &["outgoing-payments"])?;
        let call = Call::new("outgoing_payment.create", Method::POST, url)
            .token(token)
            .json(payment)?;
        self.execute_checked(call, check_outgoing).await
    }

    /// Gets an outgoing payment: `GET <url>` with the token, signed. Retried on transient
    /// failures.
    pub async fn get_outgoing_payment(
        &self,
        url: &Url,
        token: &Secret,
    ) -> Result<OutgoingPayment, ClientError> {
        let call = Call::new("outgoing_payment.get", Method::GET, url.clone()).token(token);
        self.execute_checked(call, check_outgoing).await
    }

    /// Lists a wallet address's outgoing payments: `GET {resource_server}/outgoing-payments
    /// ?wallet-address=…&first=…|last=…&cursor=…`. Retried on transient failures.
    pub async fn list_outgoing_payments(
        &self,
        resource_server: &Url,
        token: &Secret,
        wallet_address: &str,
        page: &PageRequest,
    ) -> Result<Page<OutgoingPayment>, ClientError> {
        let url = list_url(resource_server, "outgoing-payments", wallet_address, page)?;
        let call = Call::new("outgoing_payment.list", Method::GET, url).token(token);
        self.execute_checked(call, |page: &Page<OutgoingPayment>| {
            page.result.iter().try_for_each(check_outgoing)
        })
        .await
    }

    /// What the token's outgoing-payment grant has spent (in its current interval, when it has
    /// one): `GET {resource_server}/outgoing-payment-grant`. Retried on transient failures.
    pub async fn get_outgoing_payment_grant_spent_amounts(
        &self,
        resource_server: &Url,
        token: &Secret,
    ) -> Result<OutgoingPaymentGrantSpentAmounts, ClientError> {
        let url = endpoint(Method::GET, resource_server, &["outgoing-payment-grant"])?;
        let call = Call::new("outgoing_payment.grant_spent_amounts", Method::GET, url).token(token);
        self.execute_json(call).await
    }
}

/// The reference client's checks: debit and sent amounts are of one asset, nothing more was sent
/// than debited, and a payment that sent its whole debit is not `failed`.
fn check_outgoing(p: &OutgoingPayment) -> Result<(), String> {
    same_asset(
        "debitAmount and sentAmount",
        &p.debit_amount,
        &p.sent_amount,
    )?;
    if p.sent_amount.value > p.debit_amount.value {
        return Err(format!(
            "sentAmount {} exceeds debitAmount {}",
            p.sent_amount.value, p.debit_amount.value
        ));
    }
    if p.failed && p.sent_amount.value == p.debit_amount.value {
        return Err("a payment that sent its whole debitAmount is marked failed".to_owned());
    }
    Ok(())
}
