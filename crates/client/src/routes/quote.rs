//! Quotes at the resource server: create, get.

use grantflow_protocol::quote::{CreateQuote, Quote};
use grantflow_protocol::secret::Secret;
use reqwest::Method;
use url::Url;

use crate::client::Client;
use crate::error::ClientError;
use crate::routes::common::endpoint;
use crate::transport::Call;

impl Client {
    /// Creates a quote: `POST {resource_server}/quotes`. Never retried.
    pub async fn create_quote(
        &self,
        resource_server: &Url,
        token: &Secret,
        quote: &CreateQuote,
    ) -> Result<Quote, ClientError> {
        let url = endpoint(Method::POST, resource_server, &["quotes"])?;
        let call = Call::new("quote.create", Method::POST, url)
            .token(token)
            .json(quote)?;
        self.execute_json(call).await
    }

    /// Gets a quote: `GET <url>` with the token, signed. Retried on transient failures.
    pub async fn get_quote(&self, url: &Url, token: &Secret) -> Result<Quote, ClientError> {
        let call = Call::new("quote.get", Method::GET, url.clone()).token(token);
        self.execute_json(call).await
    }
}
