//! What the command-line tests share: an operator's setting (a sandbox on loopback hosting the
//! client's wallet address, the client's key in a temporary folder, a database), the `grantflow`
//! command with that setting's environment, and `grantflow worker` processes.
//!
//! Each test binary includes this module (`mod support;`) and uses a part of it.

#![allow(dead_code)] // each test binary uses a part
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a panic is the test failing

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};

use grantflow::client::Client;
use grantflow::protocol::keys::PrivateKey;
use grantflow::sandbox::{Sandbox, SandboxConfig, SandboxHandle, WalletAddressSpec};

/// The key id the client's key is published under.
pub const KEY_ID: &str = "k1";

/// A sandbox, the client it hosts, and the folder holding the client's files (`key.pem`, and
/// `storage.keys` once [`sealed`](Operator::sealed)).
pub struct Operator {
    pub sandbox: SandboxHandle,
    pub dir: tempfile::TempDir,
    /// The client's wallet address (`GRANTFLOW_WALLET_ADDRESS`).
    pub wallet: String,
    /// `GRANTFLOW_DATABASE_URL`: the given one, or `grants.db` in the folder.
    pub database_url: String,
}

impl Operator {
    /// A sandbox started with `config` hosting the client wallet address `name` (with a key
    /// generated for the test), and grants in `database_url` (PostgreSQL) or a SQLite file.
    pub async fn start(config: SandboxConfig, name: &str, database_url: Option<String>) -> Self {
        let sandbox = Sandbox::start(config).await.unwrap();
        let key = PrivateKey::generate();
        let wallet = sandbox
            .put_wallet_address(WalletAddressSpec::client(
                name,
                name,
                key.public_jwks(KEY_ID),
            ))
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("key.pem"), key.to_pkcs8_pem().as_bytes()).unwrap();
        let database_url = database_url
            .unwrap_or_else(|| format!("sqlite:{}", dir.path().join("grants.db").display()));
        Self {
            sandbox,
            dir,
            wallet,
            database_url,
        }
    }

    /// Generates a storage key (`grantflow keys storage generate`) that every command then
    /// seals secrets with (`GRANTFLOW_STORAGE_KEY_FILE`).
    pub fn sealed(self) -> Self {
        let made = Command::new(env!("CARGO_BIN_EXE_grantflow"))
            .args(["keys", "storage", "generate", "--out"])
            .arg(self.path("storage.keys"))
            .output()
            .unwrap();
        assert!(made.status.success(), "{made:?}");
        self
    }

    /// The client as a library (signing with the same key), for calls a test makes itself.
    pub fn client(&self) -> Client {
        let key = PrivateKey::from_pkcs8_pem_file(&self.path("key.pem")).unwrap();
        Client::builder(self.wallet.parse().unwrap(), KEY_ID, key)
            .build()
            .unwrap()
    }

    /// A file in the client's folder.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `grantflow` with the client's settings (database, wallet address, key, storage key when
    /// sealed) and no inherited key set or lease length; logs at `warn`.
    pub fn command(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_grantflow"));
        c.env("GRANTFLOW_DATABASE_URL", &self.database_url)
            .env("GRANTFLOW_WALLET_ADDRESS", &self.wallet)
            .env("GRANTFLOW_KEY_FILE", self.path("key.pem"))
            .env("GRANTFLOW_KEY_ID", KEY_ID)
            .env_remove("GRANTFLOW_KEY_SET")
            .env_remove("GRANTFLOW_LEASE_SECONDS")
            .env("RUST_LOG", "warn");
        let storage_keys = self.path("storage.keys");
        if storage_keys.exists() {
            c.env("GRANTFLOW_STORAGE_KEY_FILE", storage_keys);
        } else {
            c.env_remove("GRANTFLOW_STORAGE_KEY_FILE");
        }
        c
    }
}

/// A loopback port free at the time of asking.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Runs `command` to its end off the async runtime's threads.
pub async fn output(mut command: Command) -> Output {
    tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap()
}

/// Starts `command worker <flags>` with its stdout piped; the child and the first line it
/// printed (`finish callbacks at ...` once it serves; whatever it said before dying otherwise).
pub fn spawn_worker(mut command: Command, flags: &[&str]) -> (Child, String) {
    let mut child = command
        .arg("worker")
        .args(flags)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    (child, line)
}

/// A child process (`grantflow worker`, `grantflow pay`, ...), killed with SIGKILL when dropped
/// (also when a test fails).
pub struct Process(pub Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The URL of the database `sqlx::test` made for `pool`, on the server of `DATABASE_URL`.
pub fn database_url_of(pool: &sqlx::PgPool) -> String {
    let mut url = url::Url::parse(&std::env::var("DATABASE_URL").unwrap()).unwrap();
    url.set_path(pool.connect_options().get_database().unwrap());
    url.to_string()
}
