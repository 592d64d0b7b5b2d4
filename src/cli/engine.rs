//! What `grantflow worker` and `grantflow grant ...` share: where the grants are stored, who the
//! client is, and how to build an [`Engine`] from that. Every flag has a `GRANTFLOW_*`
//! environment variable, so a deployment sets them once for both.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use chrono::TimeDelta;
use clap::{Args, ValueEnum};
use grantflow_client::{Client, ClientKeys};
use grantflow_driver::{CallFuture, CallOutcome, Calls, ClientCalls, Engine, EngineConfig};
use grantflow_machine::{Effect, Event, Rotation};
use grantflow_seal::SealingStore;
use grantflow_store::AnyStore;
use url::Url;

use crate::cli::keys::{KeySetDir, load_key};
use crate::cli::seconds::{DAY, seconds};
use crate::cli::storage_keys::StorageKeyArgs;

/// The store the CLI's engines use: the database, its secrets sealed under the storage keys.
pub type Store = SealingStore<AnyStore>;

/// The database.
#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// Where grants are stored: `postgres://user:pass@host/db` (many workers share it) or
    /// `sqlite:grants.db` (one process).
    #[arg(long, env = "GRANTFLOW_DATABASE_URL", value_name = "URL")]
    pub database_url: Option<String>,
    /// Most database connections this process opens (PostgreSQL).
    #[arg(
        long,
        env = "GRANTFLOW_MAX_CONNECTIONS",
        default_value_t = 8,
        value_name = "N"
    )]
    pub max_connections: u32,
    /// The storage keys that seal the secrets in the database.
    #[command(flatten)]
    pub storage: StorageKeyArgs,
}

impl DatabaseArgs {
    /// Opens the store (applying migrations), with errors that say what to do.
    pub async fn connect(&self) -> anyhow::Result<AnyStore> {
        let url = self.database_url.as_deref().with_context(|| {
            "no database: pass --database-url or set GRANTFLOW_DATABASE_URL \
             (postgres://user:pass@host/db for many workers, sqlite:grants.db for one process)"
                .to_owned()
        })?;
        AnyStore::connect(url, self.max_connections)
            .await
            .with_context(|| {
                format!(
                    "cannot open the database {} (is it running and reachable? is the URL right?)",
                    redact(url)
                )
            })
    }

    /// Opens the store with its secrets sealed (see [`StorageKeyArgs::seal`]): refused on
    /// PostgreSQL without a storage key.
    pub async fn connect_sealed(&self) -> anyhow::Result<Store> {
        // Check the keys before connecting: a bad key file is the likelier mistake.
        self.storage.key_ring()?;
        self.storage.seal(self.connect().await?)
    }
}

/// Who the client is: its wallet address and the key it signs with.
#[derive(Debug, Clone, Args)]
pub struct ClientArgs {
    /// The client's wallet address (the `client` of grant requests); its `jwks.json` must
    /// publish the key.
    #[arg(long, env = "GRANTFLOW_WALLET_ADDRESS", value_name = "URL")]
    pub wallet_address: Option<Url>,
    /// The client's Ed25519 private key, PKCS#8 PEM (`grantflow keys generate`).
    #[arg(long, env = "GRANTFLOW_KEY_FILE", value_name = "PATH")]
    pub key_file: Option<PathBuf>,
    /// The key's id in the wallet address's `jwks.json`.
    #[arg(long, env = "GRANTFLOW_KEY_ID", value_name = "KID")]
    pub key_id: Option<String>,
    /// A key set folder (`grantflow keys add`) instead of --key-file/--key-id: its active key
    /// signs, and a worker follows `keys activate`/`retire` without a restart.
    #[arg(long, env = "GRANTFLOW_KEY_SET", value_name = "DIR")]
    pub key_set: Option<PathBuf>,
    /// Keys already loaded (a worker's, shared with its key set watcher); used before the rest.
    #[arg(skip)]
    pub keys: Option<ClientKeys>,
    /// The public base URL of the finish callback (where a worker serves `/finish/...`, as the
    /// user's browser reaches it).
    #[arg(long, env = "GRANTFLOW_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<Url>,
}

impl ClientArgs {
    /// The signed client, or an error naming the missing setting.
    pub fn client(&self) -> anyhow::Result<Client> {
        let wallet_address = self.wallet_address.clone().with_context(|| {
            "no client wallet address: pass --wallet-address or set GRANTFLOW_WALLET_ADDRESS"
                .to_owned()
        })?;
        let keys = match (&self.keys, &self.key_set) {
            (Some(keys), _) => keys.clone(),
            (None, Some(dir)) => KeySetDir::new(dir.clone()).load()?,
            (None, None) => self.single_key()?,
        };
        Client::builder_with_keys(wallet_address, keys)
            .build()
            .context("cannot build the Open Payments client")
    }

    /// The key set of one key: --key-file and --key-id.
    fn single_key(&self) -> anyhow::Result<ClientKeys> {
        let key_file = self.key_file.as_deref().with_context(|| {
            "no client key: pass --key-file or set GRANTFLOW_KEY_FILE (make one with \
             `grantflow keys generate --out client.pem`), or a key set with --key-set"
                .to_owned()
        })?;
        let key_id = self.key_id.clone().with_context(|| {
            "no key id: pass --key-id or set GRANTFLOW_KEY_ID (the `kid` of the key in the wallet \
             address's jwks.json)"
                .to_owned()
        })?;
        let key = load_key(key_file)?;
        ClientKeys::new(key_id, key).context("cannot use the client key")
    }

    /// The client wallet address as given, or `""` when the command makes no calls.
    fn wallet_address_str(&self) -> String {
        self.wallet_address
            .as_ref()
            .map(|u| u.as_str().to_owned())
            .unwrap_or_default()
    }
}

/// How issued grants' tokens are kept and how long failing calls are retried: the machine's
/// lifecycle settings. Every process on one database must use the same ones (the history is
/// replayed with them), so a worker and the `grant` commands take the same flags and
/// `GRANTFLOW_*` variables.
#[derive(Debug, Clone, Args)]
pub struct LifecycleArgs {
    /// When access tokens are rotated: `on-demand` (when a token is asked for and has expired,
    /// plus one keep-alive rotation of idle grants) or `keep-warm` (before every expiry: a token
    /// is always at hand, at one AS call per token lifetime per grant).
    #[arg(
        long,
        env = "GRANTFLOW_ROTATION",
        value_enum,
        default_value = "on-demand",
        global = true
    )]
    pub rotation: RotationMode,
    /// With on-demand rotation: seconds after an idle token expired before it is rotated, so
    /// the AS never forgets it (the reference deletes expired tokens after 30 days).
    #[arg(
        long,
        env = "GRANTFLOW_KEEP_ALIVE_SECONDS",
        default_value_t = 7 * DAY,
        value_parser = seconds(1, KEEP_ALIVE_MAX),
        global = true
    )]
    pub keep_alive_seconds: u64,
    /// Seconds a failing call (no answer, 5xx, 429) is retried with back-off before the grant
    /// gives up (`Failed`, or `Lost` if an attempt may have acted).
    #[arg(
        long,
        env = "GRANTFLOW_RECOVERY_BUDGET_SECONDS",
        default_value_t = 15 * 60,
        value_parser = seconds(1, DAY),
        global = true
    )]
    pub recovery_budget_seconds: u64,
}

/// The longest `--keep-alive-seconds`: 29 days, under the 30 days after which the reference
/// deletes an expired token.
const KEEP_ALIVE_MAX: u64 = 29 * DAY;

/// `--rotation`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RotationMode {
    /// Rotate when a token is asked for and has expired (or is about to), and keep idle grants
    /// alive with one rotation per `--keep-alive-seconds`.
    OnDemand,
    /// Rotate before each expiry.
    KeepWarm,
}

impl LifecycleArgs {
    /// Sets these on the machine's configuration.
    pub fn apply(&self, machine: &mut grantflow_machine::Config) {
        machine.rotation = match self.rotation {
            RotationMode::OnDemand => Rotation::OnDemand,
            RotationMode::KeepWarm => Rotation::KeepWarm,
        };
        machine.keep_alive = seconds_delta(self.keep_alive_seconds);
        machine.recovery_budget = seconds_delta(self.recovery_budget_seconds);
    }
}

/// Whole seconds as a `TimeDelta` (the value parsers keep them within a month; saturating
/// anyway).
fn seconds_delta(secs: u64) -> TimeDelta {
    i64::try_from(secs)
        .ok()
        .and_then(TimeDelta::try_seconds)
        .unwrap_or(TimeDelta::MAX)
}

/// An engine over the database, its configuration adjusted by `tune`. With `calls` false
/// (read-only commands), no key is needed and any call the engine would make is refused as not
/// sent.
pub async fn build_engine(
    database: &DatabaseArgs,
    client: &ClientArgs,
    worker_id: String,
    calls: bool,
    tune: impl FnOnce(&mut EngineConfig),
) -> anyhow::Result<Engine<Store>> {
    let calls: Arc<dyn Calls> = if calls {
        Arc::new(ClientCalls::new(client.client()?))
    } else {
        Arc::new(NoCalls)
    };
    let store = database.connect_sealed().await?;
    let mut config = EngineConfig::new(worker_id, client.wallet_address_str());
    config.finish_base_url = client.public_url.clone();
    config.finish_token_keys = store.key_ring().cloned();
    tune(&mut config);
    Ok(Engine::new(store, calls, config)?)
}

/// The calls of an engine that only reads: none is ever sent.
struct NoCalls;

impl Calls for NoCalls {
    fn call<'a>(&'a self, _effect: &'a Effect) -> CallFuture<'a> {
        Box::pin(async {
            CallOutcome::event(Event::NotSent {
                detail: "this command only reads the database; no call is made".to_owned(),
            })
        })
    }
}

/// A database URL without its password.
pub fn redact(url: &str) -> String {
    match Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_passwords_are_hidden() {
        assert_eq!(
            redact("postgres://u:secret@127.0.0.1:5432/db"),
            "postgres://u:***@127.0.0.1:5432/db"
        );
        assert_eq!(redact("sqlite:/tmp/x.db"), "sqlite:/tmp/x.db");
    }

    #[tokio::test]
    async fn missing_settings_say_what_to_set() {
        let db = DatabaseArgs {
            database_url: None,
            max_connections: 1,
            storage: StorageKeyArgs {
                storage_key_file: None,
                storage_key: None,
                insecure_plaintext: false,
            },
        };
        let err = db.connect().await.unwrap_err().to_string();
        assert!(err.contains("GRANTFLOW_DATABASE_URL"), "{err}");
        let client = ClientArgs {
            wallet_address: Some("http://127.0.0.1:1/client".parse().unwrap()),
            key_file: None,
            key_id: Some("k".into()),
            key_set: None,
            keys: None,
            public_url: None,
        };
        let err = client.client().unwrap_err().to_string();
        assert!(err.contains("grantflow keys generate"), "{err}");
    }
}
