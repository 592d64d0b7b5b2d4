//! Steps 1 and 2: the grants the seeds request. An incoming-payment grant and an incoming payment
//! at bob, a quote grant and a quote at alice (step 1), then the interactive outgoing-payment
//! grant, limited by the quote's debit amount per day (step 2). All on the first worker.

use anyhow::{Context, anyhow, ensure};
use chrono::{SecondsFormat, Utc};
use grantflow_driver::{GrantOrder, Interaction};
use grantflow_interval::RepeatingInterval;
use grantflow_machine::StateKind;
use grantflow_protocol::amount::Amount;
use grantflow_protocol::grant::{
    AccessAction, AccessItem, IncomingPaymentAccess, OutgoingPaymentAccess, OutgoingPaymentLimits,
    QuoteAccess,
};
use grantflow_protocol::incoming_payment::CreateIncomingPayment;
use grantflow_protocol::quote::Quote;
use grantflow_protocol::wallet_address::WalletAddress;
use grantflow_store::GrantId;
use url::Url;

use super::resources::{create_quote, fetch_wallet_address, money, parse_url};
use super::setup::Setup;
use super::timeline::Timeline;
use super::{Demo, STEP_TIMEOUT};
use crate::cli::browser::display_url;

/// What step 1 made.
pub(super) struct FirstGrants {
    pub alice: WalletAddress,
    /// Alice's resource server.
    pub alice_rs: Url,
    pub incoming_grant: GrantId,
    pub quote_grant: GrantId,
    /// The incoming payment at bob, the receiver of every quote.
    pub receiver: String,
    /// The first quote, whose debit amount limits the outgoing-payment grant.
    pub quote: Quote,
}

/// What step 2 made.
pub(super) struct OutgoingGrant {
    pub grant: GrantId,
    /// Where the user is sent to approve.
    pub redirect: String,
    /// The debit limit per window.
    pub limit: Amount,
    pub interval: RepeatingInterval,
}

impl Demo {
    /// Step 1.
    pub(super) async fn first_grants(
        &self,
        t: &Timeline,
        setup: &Setup,
    ) -> anyhow::Result<FirstGrants> {
        let client = &setup.client;
        let alice = fetch_wallet_address(t, client, &setup.alice_url).await?;
        let bob = fetch_wallet_address(t, client, &setup.bob_url).await?;

        let incoming_grant = self
            .request(
                t,
                setup,
                "incoming-payment @bob",
                GrantOrder {
                    idempotency_key: format!("demo-{}-incoming", Utc::now().timestamp_micros()),
                    grant_endpoint: bob.auth_server.clone(),
                    access: vec![AccessItem::IncomingPayment(IncomingPaymentAccess {
                        actions: vec![
                            AccessAction::Create,
                            AccessAction::Read,
                            AccessAction::List,
                            AccessAction::Complete,
                        ],
                        identifier: Some(bob.id.clone()),
                    })],
                    interaction: Interaction::None,
                },
            )
            .await?;
        let token = self
            .on_first_worker({
                let e = setup.engine1.clone();
                async move { e.access_token(incoming_grant).await }
            })
            .await??;
        let bob_rs = parse_url("bob's resource server", &bob.resource_server)?;
        let mut metadata = serde_json::Map::new();
        metadata.insert("description".into(), "grantflow demo".into());
        let incoming = client
            .create_incoming_payment(
                &bob_rs,
                &token.value,
                &CreateIncomingPayment {
                    wallet_address: bob.id.clone(),
                    incoming_amount: None,
                    expires_at: None,
                    metadata: Some(metadata),
                },
            )
            .await
            .context("cannot create the incoming payment at bob")?;
        t.line(format_args!(
            "   POST {}/incoming-payments → incoming payment {}",
            display_url(&bob.resource_server),
            display_url(&incoming.id)
        ));

        let quote_grant = self
            .request(
                t,
                setup,
                "quote @alice",
                GrantOrder {
                    idempotency_key: format!("demo-{}-quote", Utc::now().timestamp_micros()),
                    grant_endpoint: alice.auth_server.clone(),
                    access: vec![AccessItem::Quote(QuoteAccess {
                        actions: vec![AccessAction::Create, AccessAction::Read],
                    })],
                    interaction: Interaction::None,
                },
            )
            .await?;
        let quote_token = self
            .on_first_worker({
                let e = setup.engine1.clone();
                async move { e.access_token(quote_grant).await }
            })
            .await??;
        let alice_rs = parse_url("alice's resource server", &alice.resource_server)?;
        let budget = Amount::new(1000, alice.asset_code.clone(), alice.asset_scale);
        let quote = create_quote(
            t,
            client,
            &alice_rs,
            &quote_token.value,
            &alice,
            &incoming.id,
            budget,
        )
        .await?;
        Ok(FirstGrants {
            alice,
            alice_rs,
            incoming_grant,
            quote_grant,
            receiver: incoming.id,
            quote,
        })
    }

    /// Step 2.
    pub(super) async fn outgoing_grant(
        &self,
        t: &Timeline,
        setup: &Setup,
        first: &FirstGrants,
    ) -> anyhow::Result<OutgoingGrant> {
        let alice = &first.alice;
        let interval: RepeatingInterval = format!(
            "R/{}/P1D",
            Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true)
        )
        .parse()
        .map_err(|e| anyhow!("the demo's interval does not parse: {e}"))?;
        let limit = first.quote.debit_amount.clone();
        t.line(format_args!(
            "   access: outgoing-payment on {} (list, list-all, read, read-all, create); limits: debitAmount {} (from the quote), interval {interval}; finish: redirect with a nonce",
            display_url(&alice.id),
            money(&limit)
        ));
        let grant = self
            .request(
                t,
                setup,
                "outgoing-payment @alice",
                GrantOrder {
                    idempotency_key: format!("demo-{}-outgoing", Utc::now().timestamp_micros()),
                    grant_endpoint: alice.auth_server.clone(),
                    access: vec![AccessItem::OutgoingPayment(OutgoingPaymentAccess {
                        identifier: alice.id.clone(),
                        actions: vec![
                            AccessAction::List,
                            AccessAction::ListAll,
                            AccessAction::Read,
                            AccessAction::ReadAll,
                            AccessAction::Create,
                        ],
                        limits: Some(OutgoingPaymentLimits {
                            receiver: None,
                            debit_amount: Some(limit.clone()),
                            receive_amount: None,
                            interval: Some(interval),
                        }),
                    })],
                    interaction: Interaction::Redirect,
                },
            )
            .await?;
        let view = self
            .on_first_worker({
                let e = setup.engine1.clone();
                async move { e.get(grant).await }
            })
            .await??;
        ensure!(
            view.kind() == StateKind::AwaitingInteraction,
            "expected the grant to await interaction, it is {}",
            view.kind()
        );
        let redirect = view
            .redirect()
            .context("the pending grant has no redirect URL")?
            .to_owned();
        t.line(format_args!(
            "   redirect the user to: {}",
            display_url(&redirect)
        ));
        Ok(OutgoingGrant {
            grant,
            redirect,
            limit,
            interval,
        })
    }

    /// Requests a grant on the first worker and waits until the AS answered.
    async fn request(
        &self,
        t: &Timeline,
        setup: &Setup,
        label: &str,
        order: GrantOrder,
    ) -> anyhow::Result<GrantId> {
        t.expect(label);
        let requested = self
            .on_first_worker({
                let e = setup.engine1.clone();
                async move { e.request(order).await }
            })
            .await??;
        t.label(requested.id, label, requested.kind);
        let wanted = |k: StateKind| {
            matches!(k, StateKind::Issued | StateKind::AwaitingInteraction) || k.is_finalized()
        };
        let view = self
            .on_first_worker({
                let e = setup.engine1.clone();
                async move {
                    e.wait_for(requested.id, STEP_TIMEOUT, move |v| {
                        wanted(v.kind()) || v.is_final()
                    })
                    .await
                }
            })
            .await??;
        t.caught_up(requested.id, view.version).await;
        ensure!(
            matches!(
                view.kind(),
                StateKind::Issued | StateKind::AwaitingInteraction
            ),
            "{} ended {}",
            t.name(requested.id),
            view.kind()
        );
        Ok(requested.id)
    }
}
