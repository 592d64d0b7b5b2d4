//! Storage keys, which seal the secrets kept in the database: `grantflow keys storage
//! generate|add|retire|reseal`, and [`StorageKeyArgs`], how `worker` and `grant` get them.
//!
//! A key file holds one `<id>:<base64url of 32 bytes>` per line, the sealing key first (see
//! `grantflow_seal::KeyRing`); it is created with mode 0600 and replaced atomically. Rotation:
//! `add` (the new key seals, the old still opens), restart the workers with the file, `reseal`,
//! then `retire` the old key.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Subcommand};
use grantflow_seal::{KeyId, KeyRing, Resealed, SealedUnder, SealingStore, StorageKey, key_id_for};
use grantflow_store::AnyStore;
use serde_json::json;

use crate::cli::engine::{DatabaseArgs, redact};
use crate::cli::keys::write_private_file;
use crate::cli::output::{Report, finish, runtime};

/// Where the storage keys come from (`worker`, `grant`, `keys storage reseal`).
#[derive(Debug, Clone, Args)]
pub struct StorageKeyArgs {
    /// The storage key file (`grantflow keys storage generate --out FILE`): seals tokens, nonces
    /// and interact_refs in the database. Required on PostgreSQL.
    #[arg(long, env = "GRANTFLOW_STORAGE_KEY_FILE", value_name = "PATH")]
    pub storage_key_file: Option<PathBuf>,
    /// The storage keys themselves (`id:base64url`, comma separated, the sealing key first),
    /// instead of a file.
    #[arg(
        long,
        env = "GRANTFLOW_STORAGE_KEY",
        value_name = "KEYS",
        hide_env_values = true,
        conflicts_with = "storage_key_file"
    )]
    pub storage_key: Option<String>,
    /// Store secrets in the clear, without a storage key. For tests only: anyone who reads the
    /// database or a backup can use the tokens.
    #[arg(long, env = "GRANTFLOW_INSECURE_PLAINTEXT")]
    pub insecure_plaintext: bool,
}

impl StorageKeyArgs {
    /// The key ring given, if any.
    pub fn key_ring(&self) -> anyhow::Result<Option<KeyRing>> {
        if let Some(path) = &self.storage_key_file {
            return KeyRing::from_file(path).map(Some).with_context(|| {
                format!(
                    "cannot use {} as the storage key file (make one with `grantflow keys \
                     storage generate --out {}`)",
                    path.display(),
                    path.display()
                )
            });
        }
        match &self.storage_key {
            Some(text) => KeyRing::parse(text)
                .map(Some)
                .context("GRANTFLOW_STORAGE_KEY (--storage-key) is not a storage key list"),
            None => Ok(None),
        }
    }

    /// `store` sealed under the given keys; without keys, refused on PostgreSQL (unless
    /// `--insecure-plaintext`) and plain with a warning on SQLite.
    pub fn seal(&self, store: AnyStore) -> anyhow::Result<SealingStore<AnyStore>> {
        if let Some(ring) = self.key_ring()? {
            return Ok(SealingStore::new(store, Arc::new(ring)));
        }
        if matches!(store, AnyStore::Postgres(_)) && !self.insecure_plaintext {
            anyhow::bail!(
                "no storage key: secrets in PostgreSQL must be sealed. Make a key with \
                 `grantflow keys storage generate --out storage.keys` and pass \
                 --storage-key-file storage.keys (or set GRANTFLOW_STORAGE_KEY_FILE); \
                 --insecure-plaintext stores them in the clear, for tests only"
            );
        }
        let why = if self.insecure_plaintext {
            "--insecure-plaintext"
        } else {
            "no storage key (SQLite)"
        };
        tracing::warn!(
            "{why}: tokens, nonces and interact_refs are stored IN THE CLEAR; pass \
             --storage-key-file to seal them"
        );
        eprintln!(
            "WARNING: {why}: tokens, nonces and interact_refs are stored IN THE CLEAR; pass \
             --storage-key-file to seal them"
        );
        Ok(SealingStore::insecure_plaintext(store))
    }
}

/// `grantflow keys storage ...`.
#[derive(Debug, Args)]
pub struct StorageKeysArgs {
    #[command(subcommand)]
    command: StorageCommand,
}

#[derive(Debug, Subcommand)]
enum StorageCommand {
    /// Make a new storage key file (mode 0600) holding one new key.
    Generate {
        /// The file to write; it must not exist yet.
        #[arg(long, short, value_name = "PATH")]
        out: PathBuf,
        /// The key's id; default: `s<UTC time>-<random>`.
        #[arg(long, value_name = "ID")]
        key_id: Option<String>,
        /// Print JSON: {"path","key_id"}.
        #[arg(long)]
        json: bool,
    },
    /// Add a new key to a key file as the sealing key (the others still open). Then restart the
    /// workers with the file and run `reseal`.
    Add {
        /// The key file to change.
        #[arg(long, value_name = "PATH")]
        file: PathBuf,
        /// The new key's id; default: `s<UTC time>-<random>`.
        #[arg(long, value_name = "ID")]
        key_id: Option<String>,
        /// Print JSON: {"path","key_id","keys"}.
        #[arg(long)]
        json: bool,
    },
    /// Remove an old key from a key file, after `reseal` finished under the sealing key. The
    /// database is checked first: while values are still sealed under the key, it is refused.
    Retire {
        /// The key file to change.
        #[arg(long, value_name = "PATH")]
        file: PathBuf,
        /// The key to remove (never the sealing key).
        #[arg(long, value_name = "ID")]
        key_id: String,
        /// The database whose states and events are checked for values still sealed under the
        /// key.
        #[arg(long, env = "GRANTFLOW_DATABASE_URL", value_name = "URL")]
        database_url: Option<String>,
        /// Retire the key even though values are still sealed under it (they will never open
        /// again), or without a database to check.
        #[arg(long)]
        force: bool,
        /// Print JSON: {"path","keys","still_sealed"}.
        #[arg(long)]
        json: bool,
    },
    /// Seal every grant's state and events under the sealing key (the first in the file). Safe
    /// while workers run; resumable: run it again after a crash, it skips what is done.
    Reseal {
        #[command(flatten)]
        database: DatabaseArgs,
        /// Grants read per page.
        #[arg(long, default_value_t = 100, value_name = "N")]
        page: u32,
        /// Print each re-sealed grant's id as it is written.
        #[arg(long)]
        verbose: bool,
        /// Print JSON: {"rewritten","already_current","passes","sealing_key"}.
        #[arg(long)]
        json: bool,
    },
}

/// Runs `grantflow keys storage ...`.
pub fn run(args: StorageKeysArgs) -> std::process::ExitCode {
    match args.command {
        StorageCommand::Generate { out, key_id, json } => finish(json, generate(&out, key_id)),
        StorageCommand::Add { file, key_id, json } => finish(json, add(&file, key_id)),
        StorageCommand::Retire {
            file,
            key_id,
            database_url,
            force,
            json,
        } => finish(
            json,
            runtime()
                .and_then(|rt| rt.block_on(retire(&file, &key_id, database_url.as_deref(), force))),
        ),
        StorageCommand::Reseal {
            database,
            page,
            verbose,
            json,
        } => finish(
            json,
            runtime().and_then(|rt| rt.block_on(reseal(&database, page, verbose))),
        ),
    }
}

fn new_key(key_id: Option<String>) -> anyhow::Result<StorageKey> {
    let id = match key_id {
        Some(id) => KeyId::new(&id)?,
        None => key_id_for(chrono::Utc::now()),
    };
    Ok(StorageKey::generate(id))
}

fn ids(ring: &KeyRing) -> Vec<String> {
    ring.ids().map(ToString::to_string).collect()
}

fn generate(out: &Path, key_id: Option<String>) -> anyhow::Result<Report> {
    let ring = KeyRing::new(vec![new_key(key_id)?])?;
    write_private_file(out, ring.to_text().as_bytes(), false)?;
    let id = ring.sealing_key().id().to_string();
    Ok(Report {
        human: format!(
            "Wrote a new storage key {id} to {} (readable by you only). Pass it to `grantflow \
             worker` and `grantflow grant` with --storage-key-file {} (or \
             GRANTFLOW_STORAGE_KEY_FILE). Losing it loses every grant's tokens.",
            out.display(),
            out.display()
        ),
        json: json!({ "path": out, "key_id": id }),
    })
}

/// Replaces a key file with `ring`: a private temporary file beside it, renamed over it.
fn replace(path: &Path, ring: &KeyRing) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp-new");
    let _ = std::fs::remove_file(&tmp);
    write_private_file(&tmp, ring.to_text().as_bytes(), false)?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot replace {}", path.display()))
}

fn add(file: &Path, key_id: Option<String>) -> anyhow::Result<Report> {
    let ring = KeyRing::from_file(file)?.with_sealing_key(new_key(key_id)?)?;
    replace(file, &ring)?;
    let id = ring.sealing_key().id().to_string();
    Ok(Report {
        human: format!(
            "Storage key {id} now seals (in {}); the older keys still open. Restart the workers \
             with this file, then run `grantflow keys storage reseal`.",
            file.display()
        ),
        json: json!({ "path": file, "key_id": id, "keys": ids(&ring) }),
    })
}

/// What is still sealed under `key_id` in the database at `url`.
async fn still_sealed(url: &str, ring: KeyRing, key_id: &str) -> anyhow::Result<SealedUnder> {
    let store = AnyStore::connect(url, 2)
        .await
        .with_context(|| format!("cannot open the database {}", redact(url)))?;
    SealingStore::new(store, Arc::new(ring))
        .sealed_under(key_id, 200)
        .await
        .with_context(|| format!("cannot count the values sealed under storage key {key_id}"))
}

/// Removes `key_id` from the key file, once the database at `database_url` holds nothing sealed
/// under it (`force`: regardless, or without a database, loudly).
async fn retire(
    file: &Path,
    key_id: &str,
    database_url: Option<&str>,
    force: bool,
) -> anyhow::Result<Report> {
    let ring = KeyRing::from_file(file)?.without(key_id)?;
    let still = match database_url {
        Some(url) => Some(still_sealed(url, KeyRing::from_file(file)?, key_id).await?),
        None => None,
    };
    let stranded = match (still, force) {
        (None, false) => anyhow::bail!(
            "retiring storage key {key_id} needs the database to check that no value is still \
             sealed under it: pass --database-url (or set GRANTFLOW_DATABASE_URL); --force \
             retires it without checking"
        ),
        (Some(s), false) if s.values > 0 => anyhow::bail!(
            "{} values ({} grant states and {} event rows, of {} grants) are still sealed under \
             storage key {key_id}; retiring it would make them unreadable. Run `grantflow keys \
             storage reseal` with this key file first, then retire it (--force retires it \
             anyway)",
            s.values,
            s.states,
            s.events,
            s.grants
        ),
        (None, true) => Some("without checking the database".to_owned()),
        (Some(s), true) if s.values > 0 => Some(format!(
            "{} values of {} grants are still sealed under it and will never open again",
            s.values, s.grants
        )),
        (Some(_), _) => None,
    };
    if let Some(why) = &stranded {
        tracing::warn!(key = key_id, "--force: retiring storage key {key_id} {why}");
        eprintln!("WARNING: --force: retiring storage key {key_id} {why}");
    }
    replace(file, &ring)?;
    Ok(Report {
        human: format!(
            "Storage key {key_id} removed from {}; values it sealed no longer open.",
            file.display()
        ),
        json: json!({
            "path": file,
            "keys": ids(&ring),
            "still_sealed": still.map(|s| s.values),
        }),
    })
}

async fn reseal(database: &DatabaseArgs, page: u32, verbose: bool) -> anyhow::Result<Report> {
    let store = database.connect_sealed().await?;
    let ring = store.key_ring().cloned().context(
        "reseal needs the storage key file (--storage-key-file): the new key first, the old \
         keys after it",
    )?;
    let sealing = ring.sealing_key().id().to_string();
    let report = store
        .reseal_all(page, |id, outcome| {
            if verbose && outcome == Resealed::Rewritten {
                println!("resealed {id}");
            }
        })
        .await
        .context("re-sealing stopped (run it again to resume)")?;
    anyhow::ensure!(
        report.complete,
        "grants are still being written under an older key after {} passes: restart every \
         worker with the new key file, then run reseal again",
        report.passes
    );
    Ok(Report {
        human: format!(
            "Every grant is sealed under storage key {sealing}: {} re-sealed, {} already were. \
             Older keys can now be retired (`grantflow keys storage retire`).",
            report.rewritten, report.already_current
        ),
        json: json!({
            "rewritten": report.rewritten,
            "already_current": report.already_current,
            "passes": report.passes,
            "sealing_key": sealing,
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn generate_add_retire_keep_a_private_file_with_the_new_key_first() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("storage.keys");
        generate(&path, Some("one".into())).unwrap();
        let err = generate(&path, Some("two".into())).unwrap_err();
        assert!(err.to_string().contains("already exists"), "{err}");
        let added = add(&path, Some("two".into())).unwrap();
        assert_eq!(added.json["keys"], json!(["two", "one"]));
        let err = retire(&path, "two", None, true).await.unwrap_err();
        assert!(format!("{err:#}").contains("sealing key"), "{err:#}");
        let err = retire(&path, "one", None, false).await.unwrap_err();
        assert!(format!("{err:#}").contains("--database-url"), "{err:#}");
        retire(&path, "one", None, true).await.unwrap();
        let ring = KeyRing::from_file(&path).unwrap();
        assert_eq!(ids(&ring), ["two"]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[tokio::test]
    async fn postgres_without_a_key_is_refused_with_how_to_make_one() {
        let Ok(url) = std::env::var("DATABASE_URL") else {
            assert!(
                std::env::var("CI").is_err(),
                "DATABASE_URL is required in CI"
            );
            return;
        };
        let store = AnyStore::connect(&url, 1).await.unwrap();
        let args = StorageKeyArgs {
            storage_key_file: None,
            storage_key: None,
            insecure_plaintext: false,
        };
        let err = args.seal(store.clone()).unwrap_err().to_string();
        assert!(err.contains("grantflow keys storage generate"), "{err}");
        assert!(err.contains("--insecure-plaintext"), "{err}");
        let plain = StorageKeyArgs {
            insecure_plaintext: true,
            ..args
        };
        assert!(plain.seal(store).unwrap().key_ring().is_none());
    }
}
