//! Step 6 and the summary: the issued grant's token rotated, then revoked (and refused by the
//! resource server afterwards), the other grants canceled; then each grant's final state.

use anyhow::{bail, ensure};
use grantflow_client::Client;
use grantflow_driver::Engine;
use grantflow_machine::StateKind;
use grantflow_seal::SealingStore;
use grantflow_store::AnyStore;

use super::grants::{FirstGrants, OutgoingGrant};
use super::payments::Payments;
use super::resources::{money, refusal};
use super::timeline::{Timeline, short};

/// Step 6.
pub(super) async fn rotate_revoke_cancel(
    t: &Timeline,
    engine: &Engine<SealingStore<AnyStore>>,
    client: &Client,
    first: &FirstGrants,
    outgoing: &OutgoingGrant,
) -> anyhow::Result<()> {
    let grant = outgoing.grant;
    let before = engine.access_token(grant).await?;
    let rotated = engine.rotate(grant).await?;
    t.caught_up(grant, rotated.version).await;
    let after = engine.access_token(grant).await?;
    ensure!(
        after.manage != before.manage && after.value != before.value,
        "the rotation gave the same token"
    );
    t.line("   rotated: a new token and a new manage URL (the old token is revoked by the AS)");
    let revoked = engine.revoke(grant).await?;
    t.caught_up(grant, revoked.version).await;
    ensure!(
        revoked.kind() == StateKind::Revoked,
        "after revoke the grant is {}",
        revoked.kind()
    );
    match client
        .get_outgoing_payment_grant_spent_amounts(&first.alice_rs, &after.value)
        .await
    {
        Ok(_) => bail!("the revoked token still works at the resource server"),
        Err(e) => t.line(format_args!(
            "   the revoked token is refused by the resource server: {}",
            refusal(&e)
        )),
    }
    for id in [first.quote_grant, first.incoming_grant] {
        let view = engine.cancel(id).await?;
        t.caught_up(id, view.version).await;
        ensure!(
            view.kind() == StateKind::Canceled,
            "{} is {} after cancel",
            t.name(id),
            view.kind()
        );
    }
    Ok(())
}

/// The summary: every grant's final state and event count, the crash, the payments.
pub(super) async fn summary(
    t: &Timeline,
    engine: &Engine<SealingStore<AnyStore>>,
    first: &FirstGrants,
    outgoing: &OutgoingGrant,
    payments: &Payments,
) -> anyhow::Result<()> {
    println!();
    t.line("── summary");
    for id in [first.incoming_grant, first.quote_grant, outgoing.grant] {
        let view = engine.get(id).await?;
        let events = engine.history(id).await?.len();
        t.line(format_args!(
            "   {:<44} {:<10} {events} events",
            t.name(id),
            view.kind().to_string()
        ));
    }
    t.line(format_args!(
        "   crash: worker-1 died before sending the continue; worker-2 resumed {} from the database and finalized it",
        short(outgoing.grant)
    ));
    t.line(format_args!(
        "   payments: {} paid within the {} limit; {} refused over it",
        money(&payments.paid),
        money(&outgoing.limit),
        money(&payments.over)
    ));
    t.line(format_args!(
        "   done in {:.1}s; no token, nonce or interact_ref was printed",
        t.elapsed()
    ));
    Ok(())
}
