//! Step 3: the user approves on the consent page, over HTTP as a browser would (or, with
//! `--interactive`, a person in a browser). The finish redirect lands on the first worker, which
//! records the callback and dies before sending the continue.

use anyhow::{Context, bail, ensure};
use tokio::sync::oneshot;
use url::Url;

use super::timeline::Timeline;
use super::{DemoArgs, with_timeout};
use crate::cli::browser::{Browser, display_url};

/// Approves the grant at `redirect` and waits until the first worker stopped before the continue.
pub(super) async fn approve(
    args: &DemoArgs,
    timeline: &std::sync::Arc<Timeline>,
    finish_base: &Url,
    redirect: &str,
    crash: oneshot::Receiver<()>,
) -> anyhow::Result<()> {
    let crashed = if args.interactive {
        println!();
        println!("    Open this URL in a browser and click Approve (ctrl-c to stop):");
        println!("    {redirect}");
        println!();
        crash
            .await
            .context("worker-1 stopped before the continue")?;
        None
    } else {
        let log = timeline.clone();
        let mut browser =
            Browser::new()?.with_log(Box::new(move |line| log.line(format_args!("   {line}"))));
        let page = with_timeout("the consent page", browser.open(redirect)).await??;
        ensure!(
            page.status.is_success(),
            "the consent page answered {}",
            page.status
        );
        let finished = with_timeout("approving", browser.press(&page, "accept")).await??;
        ensure!(
            finished.status.is_success() && finished.url.as_str().starts_with(finish_base.as_str()),
            "the browser ended at {} with {}, not on the finish callback",
            display_url(finished.url.as_str()),
            finished.status
        );
        Some(with_timeout("the continue", crash).await?)
    };
    if let Some(Err(_)) = crashed {
        bail!("worker-1 stopped before the continue");
    }
    Ok(())
}
