//! Step 5: an outgoing payment within the grant's limit, the window it counts in (computed with
//! `grantflow-interval`, checked against the sandbox's spent amounts), and one over the limit,
//! which the sandbox refuses.

use anyhow::{Context, anyhow, bail, ensure};
use chrono::Utc;
use grantflow_client::Client;
use grantflow_driver::Engine;
use grantflow_interval::{Allowance, Debit, Fit, Reading};
use grantflow_protocol::amount::Amount;
use grantflow_protocol::outgoing_payment::CreateOutgoingPayment;
use grantflow_seal::SealingStore;
use grantflow_store::AnyStore;

use super::grants::{FirstGrants, OutgoingGrant};
use super::resources::{WithValue, create_quote, interval_amount, money, refusal};
use super::timeline::Timeline;
use crate::cli::browser::display_url;
use crate::cli::output::time;

/// What step 5 paid and had refused, for the summary.
pub(super) struct Payments {
    /// The debit of the payment within the limit.
    pub paid: Amount,
    /// The amount refused over the limit.
    pub over: Amount,
}

/// Step 5.
pub(super) async fn within_and_over(
    t: &Timeline,
    engine: &Engine<SealingStore<AnyStore>>,
    client: &Client,
    first: &FirstGrants,
    outgoing: &OutgoingGrant,
) -> anyhow::Result<Payments> {
    let (alice, alice_rs, limit, interval) = (
        &first.alice,
        &first.alice_rs,
        &outgoing.limit,
        &outgoing.interval,
    );
    let quote_token = engine.access_token(first.quote_grant).await?;
    let token = engine.access_token(outgoing.grant).await?;
    let first_amount = Amount::new(400, limit.asset_code.clone(), limit.asset_scale);
    let quote_b = create_quote(
        t,
        client,
        alice_rs,
        &quote_token.value,
        alice,
        &first.receiver,
        first_amount.clone(),
    )
    .await?;
    let payment = client
        .create_outgoing_payment(
            alice_rs,
            &token.value,
            &CreateOutgoingPayment::FromQuote {
                wallet_address: alice.id.clone(),
                quote_id: quote_b.id.clone(),
                metadata: None,
            },
        )
        .await
        .context("the outgoing payment within the limit was refused")?;
    let paid_at = Utc::now();
    t.line(format_args!(
        "   POST {}/outgoing-payments → paid {} to bob ({})",
        display_url(&alice.resource_server),
        money(&payment.debit_amount),
        display_url(&payment.id)
    ));
    let spent = client
        .get_outgoing_payment_grant_spent_amounts(alice_rs, &token.value)
        .await
        .context("cannot read what the grant has spent")?;
    let spent_value = spent.spent_debit_amount.as_ref().map_or(0, |a| a.value);
    let allowance_limit = interval_amount(limit);
    let allowance = Allowance::new(interval, Reading::RafikiCompatible, allowance_limit);
    let debits = [Debit {
        amount: interval_amount(&payment.debit_amount),
        at: paid_at,
    }];
    let remaining = allowance
        .remaining(&debits, Utc::now())
        .map_err(|e| anyhow!("allowance: {e}"))?;
    let window = remaining
        .window
        .context("no window of the interval contains now")?;
    ensure!(
        remaining.spent.value == spent_value,
        "the sandbox says the grant spent {spent_value}, the allowance computes {}",
        remaining.spent.value
    );
    t.line(format_args!(
        "   window {} → {}: spent {} of {}, {} left (the sandbox agrees: spent {})",
        time(window.start),
        time(window.end),
        money(&limit.clone().with(remaining.spent.value)),
        money(limit),
        money(&limit.clone().with(remaining.left.value)),
        money(&limit.clone().with(spent_value)),
    ));
    let next = interval
        .next_window_start(Reading::RafikiCompatible, Utc::now())
        .context("the interval has no next window")?;
    t.line(format_args!(
        "   the next window starts {}, with the full {} again",
        time(next),
        money(limit)
    ));

    let over = Amount::new(
        remaining.left.value + 300,
        limit.asset_code.clone(),
        limit.asset_scale,
    );
    let fit = allowance
        .check(
            &debits,
            &Debit {
                amount: interval_amount(&over),
                at: Utc::now(),
            },
        )
        .map_err(|e| anyhow!("allowance: {e}"))?;
    ensure!(
        matches!(fit, Fit::ExceedsLimit { .. }),
        "the allowance says {} fits",
        money(&over)
    );
    let quote_c = create_quote(
        t,
        client,
        alice_rs,
        &quote_token.value,
        alice,
        &first.receiver,
        over.clone(),
    )
    .await?;
    match client
        .create_outgoing_payment(
            alice_rs,
            &token.value,
            &CreateOutgoingPayment::FromQuote {
                wallet_address: alice.id.clone(),
                quote_id: quote_c.id.clone(),
                metadata: None,
            },
        )
        .await
    {
        Ok(p) => bail!(
            "the sandbox accepted a payment of {} over the limit ({})",
            money(&p.debit_amount),
            display_url(&p.id)
        ),
        Err(e) => t.line(format_args!(
            "   POST {}/outgoing-payments of {} → refused as expected: {}",
            display_url(&alice.resource_server),
            money(&over),
            refusal(&e)
        )),
    }
    Ok(Payments {
        paid: payment.debit_amount,
        over,
    })
}
