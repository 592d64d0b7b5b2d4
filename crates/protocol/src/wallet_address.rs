//! The wallet address document (`GET <wallet address>`), the entry point of every Open Payments
//! flow: it names the authorization server to request grants from and the resource server.

use serde::{Deserialize, Serialize};

/// A wallet address as its server describes it.
///
/// ```
/// use grantflow_protocol::wallet_address::WalletAddress;
///
/// let w: WalletAddress = serde_json::from_str(r#"{"id":"https://ilp.example/alice","publicName":"Alice",
///     "assetCode":"USD","assetScale":2,"authServer":"https://auth.example/","resourceServer":"https://ilp.example/op"}"#).unwrap();
/// assert_eq!(w.auth_server, "https://auth.example/");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WalletAddress {
    /// The wallet address URL itself.
    pub id: String,
    /// A name to show people (the reference server requires it of interactive-grant clients).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_name: Option<String>,
    /// The asset of the account.
    pub asset_code: String,
    /// The scale of the asset.
    pub asset_scale: u8,
    /// The grant endpoint: grant requests are POSTed to this exact string, which is also the
    /// last line of the finish hash base.
    pub auth_server: String,
    /// The resource server base URL.
    pub resource_server: String,
}

impl WalletAddress {
    /// The URL of this wallet address's key set (`<id>/jwks.json`).
    pub fn jwks_url(&self) -> String {
        format!("{}/jwks.json", self.id.trim_end_matches('/'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jwks_url_does_not_double_the_slash() {
        let mut w: WalletAddress = serde_json::from_str(
            r#"{"id":"https://ilp.example/alice/","assetCode":"USD","assetScale":2,"authServer":"a","resourceServer":"r","extra":1}"#,
        )
        .unwrap();
        assert_eq!(w.jwks_url(), "https://ilp.example/alice/jwks.json");
        w.id = "https://ilp.example/alice".into();
        assert_eq!(w.jwks_url(), "https://ilp.example/alice/jwks.json");
        assert!(!serde_json::to_string(&w).unwrap().contains("publicName"));
    }

    #[test]
    fn missing_fields_are_errors() {
        assert!(
            serde_json::from_str::<WalletAddress>(r#"{"id":"x","assetCode":"USD","assetScale":2}"#)
                .is_err()
        );
        assert!(serde_json::from_str::<WalletAddress>(
            r#"{"id":"x","assetCode":"USD","assetScale":300,"authServer":"a","resourceServer":"r"}"#
        )
        .is_err());
    }
}
