//! Wallet addresses: the document itself and its public keys at `<wallet address>/jwks.json`.

use grantflow_protocol::jwk::Jwks;
use grantflow_protocol::wallet_address::WalletAddress;
use reqwest::Method;
use url::Url;

use crate::client::Client;
use crate::error::ClientError;
use crate::routes::common::endpoint;
use crate::transport::Call;

impl Client {
    /// Fetches a wallet address: `GET <wallet_address>`, unsigned. Its `authServer` is where
    /// grants are requested, its `resourceServer` where payments are made. Retried on transient
    /// failures.
    pub async fn get_wallet_address(
        &self,
        wallet_address: &Url,
    ) -> Result<WalletAddress, ClientError> {
        self.execute_json(Call::new(
            "wallet_address.get",
            Method::GET,
            wallet_address.clone(),
        ))
        .await
    }

    /// Fetches the keys of a wallet address: `GET <wallet_address>/jwks.json`, unsigned.
    /// Retried on transient failures.
    pub async fn get_wallet_address_keys(&self, wallet_address: &Url) -> Result<Jwks, ClientError> {
        let url = endpoint(Method::GET, wallet_address, &["jwks.json"])?;
        self.execute_json(Call::new("wallet_address.keys", Method::GET, url))
            .await
    }
}
