//! Helpers shared by the resource-server routes.

use grantflow_protocol::amount::Amount;
use grantflow_protocol::pagination::PageRequest;
use reqwest::Method;
use url::Url;

use crate::error::ClientError;
use crate::transport::join;

/// `base` + path segments, as a [`ClientError`] naming `method` when `base` cannot be a base.
pub(crate) fn endpoint(method: Method, base: &Url, segments: &[&str]) -> Result<Url, ClientError> {
    join(base, segments).map_err(|kind| ClientError::new(method, base, 0, kind))
}

/// `{resource_server}/<collection>?wallet-address=…&first=…&cursor=…`.
pub(crate) fn list_url(
    resource_server: &Url,
    collection: &str,
    wallet_address: &str,
    page: &PageRequest,
) -> Result<Url, ClientError> {
    let mut url = endpoint(Method::GET, resource_server, &[collection])?;
    {
        let mut query = url.query_pairs_mut();
        query.append_pair("wallet-address", wallet_address);
        for (name, value) in page.query_pairs() {
            query.append_pair(name, &value);
        }
    }
    Ok(url)
}

/// The two amounts are of one asset, or a message saying which differ.
pub(crate) fn same_asset(what: &str, a: &Amount, b: &Amount) -> Result<(), String> {
    if a.same_asset(b) {
        Ok(())
    } else {
        Err(format!("{what} are of different assets ({a} vs {b})"))
    }
}
