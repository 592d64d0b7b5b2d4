//! The resource-server side of the demo: wallet addresses, quotes, refusals, and amounts as a
//! person reads them.

use anyhow::Context;
use grantflow_client::Client;
use grantflow_protocol::amount::Amount;
use grantflow_protocol::quote::{CreateQuote, Quote, QuoteAmount, QuoteMethod};
use grantflow_protocol::wallet_address::WalletAddress;
use url::Url;

use super::timeline::Timeline;
use crate::cli::browser::display_url;

pub(super) async fn fetch_wallet_address(
    t: &Timeline,
    client: &Client,
    url: &str,
) -> anyhow::Result<WalletAddress> {
    let parsed = parse_url("wallet address", url)?;
    let w = client
        .get_wallet_address(&parsed)
        .await
        .with_context(|| format!("cannot fetch the wallet address {url}"))?;
    t.line(format_args!(
        "   GET {} → {} ({} scale {}), authServer {}, resourceServer {}",
        display_url(url),
        w.public_name.as_deref().unwrap_or("?"),
        w.asset_code,
        w.asset_scale,
        display_url(&w.auth_server),
        display_url(&w.resource_server)
    ));
    Ok(w)
}

pub(super) async fn create_quote(
    t: &Timeline,
    client: &Client,
    resource_server: &Url,
    token: &grantflow_protocol::Secret,
    sender: &WalletAddress,
    receiver: &str,
    debit: Amount,
) -> anyhow::Result<Quote> {
    let quote = client
        .create_quote(
            resource_server,
            token,
            &CreateQuote {
                wallet_address: sender.id.clone(),
                receiver: receiver.to_owned(),
                method: QuoteMethod::Ilp,
                amount: QuoteAmount::Debit(debit.clone()),
            },
        )
        .await
        .with_context(|| format!("cannot create a quote for {}", money(&debit)))?;
    t.line(format_args!(
        "   POST {}/quotes → quote {}: debit {}, receive {}",
        display_url(resource_server.as_str().trim_end_matches('/')),
        display_url(&quote.id),
        money(&quote.debit_amount),
        money(&quote.receive_amount)
    ));
    Ok(quote)
}

/// `403 Forbidden (Insufficient grant)`: the status and the server's description.
pub(super) fn refusal(error: &grantflow_client::ClientError) -> String {
    match error.kind() {
        grantflow_client::ErrorKind::Status(s) => {
            let mut text = format!(
                "{} {}",
                s.status.as_u16(),
                s.status.canonical_reason().unwrap_or("")
            );
            if let Some(description) = s.description() {
                text.push_str(&format!(" ({description})"));
            }
            text
        }
        _ => error.to_string(),
    }
}

pub(super) fn parse_url(what: &str, url: &str) -> anyhow::Result<Url> {
    url.parse()
        .with_context(|| format!("{what} is not a URL: {}", display_url(url)))
}

/// `12.34 USD`.
pub(super) fn money(amount: &Amount) -> String {
    let scale = usize::from(amount.asset_scale);
    let digits = amount.value.to_string();
    let number = if scale == 0 {
        digits
    } else if digits.len() > scale {
        format!(
            "{}.{}",
            &digits[..digits.len() - scale],
            &digits[digits.len() - scale..]
        )
    } else {
        format!("0.{}{digits}", "0".repeat(scale - digits.len()))
    };
    format!("{number} {}", amount.asset_code)
}

/// The same amount in the interval crate's type.
pub(super) fn interval_amount(amount: &Amount) -> grantflow_interval::Amount {
    grantflow_interval::Amount::new(amount.value, amount.asset_code.clone(), amount.asset_scale)
}

/// The same asset with another value.
pub(super) trait WithValue {
    fn with(self, value: u64) -> Self;
}

impl WithValue for Amount {
    fn with(mut self, value: u64) -> Self {
        self.value = value;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_formats_minor_units() {
        assert_eq!(money(&Amount::new(1234, "USD", 2)), "12.34 USD");
        assert_eq!(money(&Amount::new(5, "USD", 2)), "0.05 USD");
        assert_eq!(money(&Amount::new(7, "JPY", 0)), "7 JPY");
    }
}
