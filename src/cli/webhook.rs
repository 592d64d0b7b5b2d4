//! `grantflow worker`'s webhook flags: where every change of the change feed is POSTed, the file
//! holding the secret it is signed with, and the consumer name its position is kept under
//! (`docs/operations.md`, "Webhooks").
//!
//! The secret is read from a file (never from the command line, where `ps` shows it) and is
//! never printed: `WebhookSecret`'s `Debug` redacts it.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use grantflow_driver::{WebhookConfig, WebhookSecret};
use url::Url;

/// The webhook flags of `grantflow worker`.
#[derive(Debug, Clone, Args)]
pub struct WebhookArgs {
    /// POST every change of the change feed to this `http(s)` URL, signed with the secret of
    /// --webhook-secret-file, retried until the receiver answers 2xx (docs/operations.md).
    #[arg(
        long,
        env = "GRANTFLOW_WEBHOOK_URL",
        value_name = "URL",
        value_parser = webhook_url,
        requires = "webhook_secret_file"
    )]
    webhook_url: Option<Url>,
    /// The file holding the webhook's shared secret (HMAC-SHA256 key; surrounding white space
    /// is not part of it). Keep it readable by the worker only.
    #[arg(
        long,
        env = "GRANTFLOW_WEBHOOK_SECRET_FILE",
        value_name = "PATH",
        requires = "webhook_url"
    )]
    webhook_secret_file: Option<PathBuf>,
    /// The change-feed consumer the deliveries are recorded under (position and lease in the
    /// database): workers with the same name share one delivery (one sends at a time); a
    /// second receiver needs a second name.
    #[arg(
        long,
        env = "GRANTFLOW_WEBHOOK_CONSUMER",
        default_value = "webhook",
        value_name = "NAME",
        value_parser = consumer_name
    )]
    webhook_consumer: String,
}

impl WebhookArgs {
    /// The delivery configured, if any (`None` without --webhook-url), with the secret read
    /// from its file; `lease` is the consumer's lease (the worker's `--lease-seconds`).
    pub fn config(&self, lease: std::time::Duration) -> anyhow::Result<Option<WebhookConfig>> {
        let (Some(url), Some(path)) = (&self.webhook_url, &self.webhook_secret_file) else {
            return Ok(None);
        };
        let text = std::fs::read_to_string(path).with_context(|| {
            format!(
                "cannot read the webhook secret file {} (--webhook-secret-file, \
                 GRANTFLOW_WEBHOOK_SECRET_FILE): does it exist, and may this user read it?",
                path.display()
            )
        })?;
        let secret = WebhookSecret::from_text(&text).with_context(|| {
            format!(
                "the webhook secret file {} is empty: put the secret shared with the receiver \
                 in it (e.g. `openssl rand -hex 32 > {}`)",
                path.display(),
                path.display()
            )
        })?;
        let mut config = WebhookConfig::new(url.clone(), secret);
        config.consumer.clone_from(&self.webhook_consumer);
        config.lease = lease;
        Ok(Some(config))
    }
}

/// Parses `--webhook-url`: an absolute `http` or `https` URL.
fn webhook_url(text: &str) -> Result<Url, String> {
    let url = Url::parse(text).map_err(|e| {
        format!("not a URL ({e}): expected an absolute http(s) URL such as https://app.example/hooks/grantflow")
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(
            "expected an http(s) URL with a host, such as https://app.example/hooks/grantflow"
                .to_owned(),
        );
    }
    Ok(url)
}

/// Parses `--webhook-consumer`: 1 to 64 letters, digits, `-`, `_` or `.`.
fn consumer_name(text: &str) -> Result<String, String> {
    let ok = (1..=64).contains(&text.len())
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(text.to_owned())
    } else {
        Err("expected 1 to 64 letters, digits, '-', '_' or '.'".to_owned())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // tests: a panic is the test failing

    use super::*;
    use std::time::Duration;

    fn args(url: &str, secret: Option<&str>) -> (WebhookArgs, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("webhook.secret");
        if let Some(secret) = secret {
            std::fs::write(&path, secret).unwrap();
        }
        let args = WebhookArgs {
            webhook_url: Some(webhook_url(url).unwrap()),
            webhook_secret_file: Some(path),
            webhook_consumer: "webhook".into(),
        };
        (args, dir)
    }

    #[test]
    fn urls_must_be_absolute_http() {
        assert!(webhook_url("https://app.example/hooks").is_ok());
        assert!(webhook_url("http://127.0.0.1:9000/").is_ok());
        for bad in [
            "app.example/hooks",
            "ftp://app.example/",
            "mailto:a@b.example",
            "",
        ] {
            let error = webhook_url(bad).unwrap_err();
            assert!(error.contains("http(s) URL"), "{bad:?}: {error}");
        }
    }

    #[test]
    fn a_missing_or_empty_secret_file_says_what_to_do() {
        let (missing, _dir) = args("https://app.example/hooks", None);
        let error = format!("{:#}", missing.config(Duration::from_secs(30)).unwrap_err());
        assert!(
            error.contains("cannot read the webhook secret file"),
            "{error}"
        );
        let (empty, _dir) = args("https://app.example/hooks", Some(" \n"));
        let error = format!("{:#}", empty.config(Duration::from_secs(30)).unwrap_err());
        assert!(error.contains("is empty"), "{error}");
    }

    #[test]
    fn the_secret_is_read_and_never_shown() {
        let (given, _dir) = args("https://app.example/hooks", Some("s3cret-value\n"));
        let config = given.config(Duration::from_secs(12)).unwrap().unwrap();
        assert_eq!(config.consumer, "webhook");
        assert_eq!(config.lease, Duration::from_secs(12));
        let shown = format!("{config:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
    }

    #[test]
    fn consumer_names_are_short_and_plain() {
        assert!(consumer_name("webhook-billing_2").is_ok());
        for bad in ["", "a b", "x/y", &"n".repeat(65)] {
            assert!(consumer_name(bad).is_err(), "{bad:?}");
        }
    }
}
