//! Wallet addresses: the public keys at `<wallet address>/jwks.json`.

use grantflow_protocol::jwk::Jwks;
use reqwest::Method;
use url::Url;

use crate::client::Client;
use crate::error::{ClientError, ErrorKind};
use crate::transport::{Call, join};

impl Client {
    /// Fetches the keys of a wallet address: `GET <wallet_address>/jwks.json`, unsigned.
    /// Retried on transient failures.
    pub async fn get_wallet_address_keys(&self, wallet_address: &Url) -> Result<Jwks, ClientError> {
        let url =
            join(wallet_address, &["jwks.json"]).map_err(|kind| invalid(wallet_address, kind))?;
        self.execute_json(Call::new("wallet_address.keys", Method::GET, url))
            .await
    }
}

pub(crate) fn invalid(url: &Url, kind: ErrorKind) -> ClientError {
    ClientError::new(Method::GET, url, 0, kind)
}
