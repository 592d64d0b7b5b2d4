//! What `grantflow worker` adds for operators beside the engine: the Prometheus recorder whose
//! text it serves at `/metrics` (with `/healthz` and `/readyz`, on the finish callback's
//! listener). The names and meanings of the metrics are the driver's
//! (`grantflow_driver::metrics`); the list is in `docs/operations.md`.

use std::time::Duration;

use anyhow::Context;
use grantflow_driver::MetricsText;
use grantflow_driver::metrics::{RATIO_BUCKETS, RECOVERY_BUDGET_USED, SECONDS_BUCKETS};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
use tokio_util::sync::CancellationToken;

/// How often the recorder's histograms are compacted when nobody scrapes.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// Installs the process's Prometheus recorder (histogram buckets for the `_seconds` families and
/// the recovery budget ratio), describes every family, and keeps the recorder compact until
/// `stop`. Returns what renders the exposition text.
pub fn install_metrics(stop: CancellationToken) -> anyhow::Result<MetricsText> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), SECONDS_BUCKETS)
        .and_then(|b| {
            b.set_buckets_for_metric(
                Matcher::Full(RECOVERY_BUDGET_USED.to_owned()),
                RATIO_BUCKETS,
            )
        })
        .context("cannot configure the metrics' histogram buckets")?
        .install_recorder()
        .context("cannot install the metrics recorder (is another one installed?)")?;
    grantflow_driver::metrics::describe();
    let upkeep = handle.clone();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = tokio::time::sleep(UPKEEP_EVERY) => upkeep.run_upkeep(),
                () = stop.cancelled() => break,
            }
        }
    });
    Ok(std::sync::Arc::new(move || handle.render()))
}
