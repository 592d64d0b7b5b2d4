//! Issue 14: "a consumer killed mid-stream resumes from its cursor with nothing missed", with
//! real processes on PostgreSQL (and on a SQLite file). `grantflow grant request` processes commit changes one grant
//! after another (the sandbox answers over loopback); a `grantflow grant watch --consumer app`
//! process prints them and stores its position in the database; it is killed with SIGKILL while
//! the changes keep coming, more commit while it is dead, and a new process under the same name
//! resumes after the stored position. Together the two printed every change of every grant
//! exactly as the stored histories have them; the only change printed twice are those the killed
//! one printed after the position it last stored (at least once, never a gap).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the test failing

mod support;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use grantflow::sandbox::SandboxConfig;
use serde_json::Value;
use support::{Operator, database_url_of};

/// A sandbox on loopback, a client key, a storage key, and the environment of every command.
struct Setup(Operator);

impl std::ops::Deref for Setup {
    type Target = Operator;
    fn deref(&self) -> &Operator {
        &self.0
    }
}

impl Setup {
    /// On PostgreSQL at `database_url`, or on a SQLite file in a temporary folder.
    async fn new(database_url: Option<String>) -> Self {
        Self(
            Operator::start(SandboxConfig::default(), "watched", database_url)
                .await
                .sealed(),
        )
    }

    fn command(&self) -> Command {
        self.0.command()
    }

    /// `grantflow grant <args> --json`, which must succeed; its JSON output.
    fn grant(&self, args: &[&str]) -> Value {
        let out = self
            .command()
            .arg("grant")
            .args(args)
            .arg("--json")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "grant {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Starts `grantflow grant watch --json <args>`, collecting the lines it prints.
    fn watch(&self, args: &[&str]) -> Watcher {
        let mut child = self
            .command()
            .args(["grant", "watch", "--json", "--lease-seconds", "2"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stdout = child.stdout.take().unwrap();
        let reader = {
            let lines = lines.clone();
            std::thread::spawn(move || {
                let mut stdout = BufReader::new(stdout);
                let mut line = String::new();
                // A line cut short at the end was being written when the process was killed:
                // it was never delivered.
                while stdout.read_line(&mut line).unwrap() > 0 && line.ends_with('\n') {
                    let value: Value = serde_json::from_str(&line)
                        .unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
                    lines.lock().unwrap().push(value);
                    line.clear();
                }
            })
        };
        Watcher {
            child: Some(child),
            reader: Some(reader),
            lines,
        }
    }
}

/// A `grant watch` process and what it printed so far. Killed with SIGKILL when dropped.
struct Watcher {
    child: Option<Child>,
    reader: Option<std::thread::JoinHandle<()>>,
    lines: Arc<Mutex<Vec<Value>>>,
}

impl Watcher {
    fn printed(&self) -> usize {
        self.lines.lock().unwrap().len()
    }

    /// Ends the process (SIGKILL, or SIGTERM when `gracefully`), reaps it, and returns every
    /// line it printed and whether it exited successfully.
    fn stop(mut self, gracefully: bool) -> (Vec<Value>, bool) {
        let mut child = self.child.take().unwrap();
        if gracefully {
            let sent = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status()
                .unwrap();
            assert!(sent.success());
        } else {
            child.kill().unwrap();
        }
        let status = child.wait().unwrap();
        self.reader.take().unwrap().join().unwrap();
        let lines = std::mem::take(&mut *self.lines.lock().unwrap());
        (lines, status.success())
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A printed position, as ordered: the transaction id, then `seq`.
fn position(line: &Value) -> (u64, i64) {
    let text = line["position"].as_str().unwrap();
    let (xid, seq) = text.split_once('.').unwrap();
    (xid.parse().unwrap(), seq.parse().unwrap())
}

/// A printed change as (grant, version).
fn change(line: &Value) -> (String, i64) {
    (
        line["grant"].as_str().unwrap().to_owned(),
        line["version"].as_i64().unwrap(),
    )
}

fn assert_increasing(lines: &[Value], who: &str) {
    for pair in lines.windows(2) {
        assert!(
            position(&pair[0]) < position(&pair[1]),
            "{who} printed positions out of order: {pair:#?}"
        );
    }
}

/// Waits (up to 60 s) until `done` holds.
async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "never {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

const GRANTS: usize = 12;

#[sqlx::test(migrator = "grantflow::store::PG_MIGRATOR")]
async fn postgres_a_consumer_killed_mid_stream_resumes_from_its_position(pool: sqlx::PgPool) {
    a_consumer_killed_mid_stream_resumes_from_its_position(Some(database_url_of(&pool))).await;
}

/// SQLite across processes: no notification reaches another process, so the consumer reads
/// on its poll; the file's one writer at a time makes `seq` order the commit order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_consumer_killed_mid_stream_resumes_from_its_position() {
    a_consumer_killed_mid_stream_resumes_from_its_position(None).await;
}

async fn a_consumer_killed_mid_stream_resumes_from_its_position(database_url: Option<String>) {
    let s = Arc::new(Setup::new(database_url).await);
    let first = s.watch(&["--consumer", "app"]);

    // Grants requested one after another, each by its own process: two changes each (the
    // request, and the AS's answer issuing the incoming-payment grant). After the third, the
    // writer waits for the kill, so the kill lands while changes are coming, however slowly the
    // consumer starts on a loaded machine.
    let requested = Arc::new(AtomicUsize::new(0));
    let killed = Arc::new(AtomicBool::new(false));
    let writer = {
        let (s, requested, killed) = (s.clone(), requested.clone(), killed.clone());
        let alice = s.sandbox.wallet_address_url("alice");
        tokio::task::spawn_blocking(move || {
            let mut ids = Vec::new();
            for n in 0..GRANTS {
                while n >= 3 && !killed.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(20));
                }
                let g = s.grant(&["request", "--for", &alice, "--access", "incoming-payment"]);
                ids.push(g["id"].as_str().unwrap().to_owned());
                requested.fetch_add(1, Ordering::SeqCst);
            }
            ids
        })
    };

    // Mid-stream: the first consumer has printed some changes, more are coming.
    wait_until("the first consumer printed 4 changes", || {
        first.printed() >= 4
    })
    .await;
    let (before_kill, _) = first.stop(false);
    let requested_at_kill = requested.load(Ordering::SeqCst);
    killed.store(true, Ordering::SeqCst);
    assert!(requested_at_kill <= 3);
    // While it is dead, more changes commit.
    wait_until("two more grants were requested", || {
        requested.load(Ordering::SeqCst) >= requested_at_kill + 2
    })
    .await;

    // A new process under the same name waits out the killed one's lease, then resumes.
    let second = s.watch(&["--consumer", "app"]);
    let ids = writer.await.unwrap();
    let mut expected = BTreeSet::new();
    for id in &ids {
        for entry in s.grant(&["history", id]).as_array().unwrap() {
            expected.insert((id.clone(), entry["version"].as_i64().unwrap()));
        }
    }
    assert_eq!(
        expected.len(),
        2 * GRANTS,
        "two changes per grant: {expected:?}"
    );
    wait_until("the second consumer printed the rest", || {
        let seen: BTreeSet<_> = before_kill
            .iter()
            .chain(second.lines.lock().unwrap().iter())
            .map(change)
            .collect();
        expected.is_subset(&seen)
    })
    .await;
    // A graceful stop exits 0 (and gives the name up).
    let (after_restart, stopped_cleanly) = second.stop(true);
    assert!(stopped_cleanly, "SIGTERM ends `grant watch` with 0");

    assert_increasing(&before_kill, "the killed consumer");
    assert_increasing(&after_restart, "the resumed consumer");
    // What both printed: the killed one's last changes after the position it stored, printed
    // again first by the resumed one. Nothing else repeats, nothing is skipped.
    let last_before = position(before_kill.last().unwrap());
    let repeated = after_restart
        .iter()
        .take_while(|l| position(l) <= last_before)
        .count();
    assert_eq!(
        after_restart[..repeated],
        before_kill[before_kill.len() - repeated..],
        "only the killed consumer's last changes are repeated, as they were"
    );
    let resumed = &after_restart[repeated..];
    eprintln!(
        "killed after printing {} changes; {repeated} printed again on resume, {} new",
        before_kill.len(),
        resumed.len()
    );
    assert!(
        !resumed.is_empty(),
        "changes committed while the consumer was dead"
    );
    let together: Vec<_> = before_kill.iter().chain(resumed).collect();
    let seen: Vec<_> = together.iter().map(|l| change(l)).collect();
    let unique: BTreeSet<_> = seen.iter().cloned().collect();
    assert_eq!(unique.len(), seen.len(), "a change printed twice: {seen:?}");
    assert_eq!(
        unique, expected,
        "every change of every grant, nothing else"
    );
    // Each grant's changes in order, each one a transition from where the last ended.
    for id in &ids {
        let of: Vec<_> = together.iter().filter(|l| l["grant"] == **id).collect();
        let versions: Vec<_> = of.iter().map(|l| l["version"].as_i64().unwrap()).collect();
        assert_eq!(versions, vec![1, 2], "grant {id}");
        assert_eq!(of[0]["event"], "request");
        assert_eq!(of[0]["from"], "Initial");
        assert_eq!(of[0]["state"], of[1]["from"]);
        assert_eq!(of[1]["state"], "Issued", "{of:#?}");
        assert_eq!(of[1]["change"], "issued");
    }

    // An application that keeps positions itself resumes with `--after`: exactly the changes
    // after the one it names, in the same order.
    let cut = before_kill.len() / 2;
    let after = s.watch(&[
        "--after",
        before_kill[cut - 1]["position"].as_str().unwrap(),
    ]);
    let rest = together.len() - cut;
    wait_until("`--after` printed the rest", || after.printed() >= rest).await;
    let (from_after, _) = after.stop(false);
    assert_eq!(
        from_after.iter().collect::<Vec<_>>(),
        together[cut..],
        "--after POSITION gives the changes after it"
    );
}
