//! A private, throwaway PostgreSQL cluster for tests that stop and restart the database: the
//! shared test cluster (`DATABASE_URL`) must never be stopped, so such a test starts its own.
//!
//! [`PrivatePostgres::launch`] finds `initdb` and `pg_ctl` (on `PATH`, else in
//! `/usr/lib/postgresql/*/bin`), creates a cluster in a fresh temporary directory, and starts it
//! on a free loopback port with durability off (it lives for one test). When the test runs as
//! root, the server programs (which refuse root) run as the `postgres` OS user through
//! `su postgres -s /bin/bash -c ...`, as `scripts/test` does. [`stop`](PrivatePostgres::stop) and
//! [`start`](PrivatePostgres::start) take the server down and up again on the same port and data
//! (clients see their connections fail, then a server that knows everything committed before).
//! Dropping the value stops the server and removes the directory.
//!
//! The methods block (they run `pg_ctl -w`): from async code on a multi-threaded runtime, call
//! them inside `tokio::task::block_in_place`.
//!
//! Uses only `std`, so any test crate can include it with
//! `#[path = ".../support/private_postgres.rs"] mod private_postgres;`.

#![allow(dead_code)] // each test crate uses part of it

use std::path::{Path, PathBuf};
use std::process::Command;

/// A PostgreSQL cluster of this test alone, removed on drop.
pub struct PrivatePostgres {
    /// The directory holding `initdb` and `pg_ctl`.
    bin: PathBuf,
    /// The temporary directory: `data/` (the cluster), the server log and its socket.
    dir: PathBuf,
    port: u16,
    /// Whether the server programs run as the `postgres` OS user (the test runs as root).
    as_postgres_user: bool,
}

impl PrivatePostgres {
    /// Creates and starts a private cluster. `None` (after saying why on stderr) when the
    /// PostgreSQL server programs are not installed, except in CI (`CI=true`), where a missing
    /// tool fails the test. Panics when a tool that was found fails.
    pub fn launch() -> Option<Self> {
        let Some(bin) = server_programs() else {
            let why = "initdb/pg_ctl not found on PATH nor in /usr/lib/postgresql/*/bin";
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("{why}: CI must have the PostgreSQL server programs");
            }
            eprintln!("SKIPPED: {why} (a private PostgreSQL cluster is needed)");
            return None;
        };
        let as_postgres_user = is_root();
        let dir = std::env::temp_dir().join(format!(
            "grantflow-private-pg-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default()
        ));
        std::fs::create_dir_all(&dir).expect("create the cluster's temporary directory");
        let mut pg = Self {
            bin,
            dir,
            port: 0,
            as_postgres_user,
        };
        if as_postgres_user {
            let chowned = pg.run(Command::new("chown").arg("postgres").arg(&pg.dir));
            assert!(chowned, "chown postgres {}", pg.dir.display());
        }
        let initdb = pg.bin.join("initdb");
        let created = pg.run_as_server_user(&[
            path_arg(&initdb),
            "-D".into(),
            path_arg(&pg.data()),
            "-U".into(),
            "postgres".into(),
            "--auth=trust".into(),
            "-E".into(),
            "UTF8".into(),
            "--no-sync".into(),
        ]);
        assert!(created, "initdb failed");
        // A free port can be taken between looking and binding: try a few.
        for attempt in 1..=5 {
            pg.port = free_port();
            if pg.try_start() {
                return Some(pg);
            }
            eprintln!(
                "private PostgreSQL did not start on port {} (try {attempt})",
                pg.port
            );
        }
        panic!(
            "the private PostgreSQL cluster never started; its log:\n{}",
            std::fs::read_to_string(pg.log()).unwrap_or_default()
        );
    }

    /// The URL of the cluster's `postgres` database (user `postgres`, no password).
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// The loopback port the server listens on (the same after a restart).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server (fast shutdown: open connections are cut, committed data stays) and
    /// waits until it is down.
    pub fn stop(&self) {
        let ok = self.run_as_server_user(&self.pg_ctl(&["-m", "fast", "-w", "stop"]));
        assert!(ok, "pg_ctl stop failed");
    }

    /// Starts the server again (same port, same data) and waits until it accepts connections.
    pub fn start(&self) {
        assert!(
            self.try_start(),
            "the private PostgreSQL cluster did not start again; its log:\n{}",
            std::fs::read_to_string(self.log()).unwrap_or_default()
        );
    }

    fn try_start(&self) -> bool {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c max_connections=100 -c fsync=off \
             -c synchronous_commit=off -c full_page_writes=off",
            self.port,
            self.dir.display()
        );
        let log = path_arg(&self.log());
        self.run_as_server_user(&self.pg_ctl(&["-l", &log, "-w", "-o", &options, "start"]))
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn log(&self) -> PathBuf {
        self.dir.join("postgres.log")
    }

    /// `pg_ctl -D <data> <args>`.
    fn pg_ctl(&self, args: &[&str]) -> Vec<String> {
        let mut v = vec![
            path_arg(&self.bin.join("pg_ctl")),
            "-D".into(),
            path_arg(&self.data()),
        ];
        v.extend(args.iter().map(|a| (*a).to_owned()));
        v
    }

    /// Runs `argv` (as the `postgres` OS user when the test is root); whether it succeeded.
    fn run_as_server_user(&self, argv: &[String]) -> bool {
        let mut command = if self.as_postgres_user {
            let line = argv
                .iter()
                .map(|a| shell_quote(a))
                .collect::<Vec<_>>()
                .join(" ");
            let mut c = Command::new("su");
            c.args(["postgres", "-s", "/bin/bash", "-c", &line]);
            c
        } else {
            let mut c = Command::new(&argv[0]);
            c.args(&argv[1..]);
            c
        };
        self.run(&mut command)
    }

    /// Runs `command` with its output captured (shown when it fails); whether it succeeded.
    fn run(&self, command: &mut Command) -> bool {
        let out = command.output().expect("run a PostgreSQL tool");
        if !out.status.success() {
            eprintln!(
                "{command:?} failed ({}): {}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        out.status.success()
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        if self.data().join("postmaster.pid").exists() {
            let _ = self.run_as_server_user(&self.pg_ctl(&["-m", "immediate", "-w", "stop"]));
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The directory with `initdb` and `pg_ctl`: the one on `PATH`, else the newest
/// `/usr/lib/postgresql/*/bin`.
fn server_programs() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .find(|d| d.join("initdb").is_file() && d.join("pg_ctl").is_file())
    });
    on_path.or_else(|| {
        let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .filter(|d| d.join("initdb").is_file() && d.join("pg_ctl").is_file())
            .collect();
        versions.sort();
        versions.pop()
    })
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn path_arg(p: &Path) -> String {
    p.display().to_string()
}

/// `s` as one single-quoted shell word.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}
