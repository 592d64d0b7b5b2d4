//! `grantflow demo` as a newcomer runs it: the binary, no set-up. It must exit 0 and print the
//! timeline of every step, the crash and the resume; and a failure must name its step.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a panic is the test failing

use std::process::{Command, Output};

fn demo(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_grantflow"))
        .arg("demo")
        .args(args)
        .env_remove("GRANTFLOW_DATABASE_URL")
        .output()
        .expect("the grantflow binary runs")
}

/// The lines of the timeline that must appear, in this order.
const MILESTONES: &[&str] = &[
    "client key: new Ed25519 key",
    "── step 1: wallet addresses, incoming payment, quote",
    "GET http://127.0.0.1:",
    "incoming-payment @bob  Requested → Issued",
    "/incoming-payments → incoming payment",
    "quote @alice  Requested → Issued",
    "/quotes → quote",
    "── step 2: outgoing-payment grant, as in the seeds",
    "interval R/",
    "outgoing-payment @alice  Requested → AwaitingInteraction",
    "redirect the user to: http://127.0.0.1:",
    "── step 3: the user approves",
    "browser: POST",
    "/finish/",
    "hash=…&interact_ref=…",
    "AwaitingInteraction → Continuing   [worker-1",
    "worker-1 dies here: the callback is recorded, the continue",
    "── step 4: crash after the callback, resume on a new worker",
    "is Continuing with a continue in flight",
    "worker-2 started on the same database",
    "continue with interact_ref  [worker-2]",
    "← 200 issued",
    "── step 5: payments within and over the limit",
    "/outgoing-payments → paid 4.00 USD to bob",
    "spent 4.00 USD of 10.00 USD, 6.00 USD left",
    "the next window starts",
    "refused as expected: 403",
    "── step 6: rotate, revoke, cancel",
    "Issued → Rotating",
    "Rotating → Issued",
    // Revoke deletes the token, then the grant (issue 12: nothing usable stays at the AS).
    "Revoking → Canceling",
    "Canceling → Revoked",
    "the revoked token is refused by the resource server: 403",
    "quote @alice  Canceling → Canceled",
    "incoming-payment @bob  Canceling → Canceled",
    "── summary",
];

fn check_timeline(out: &Output) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the demo exited {:?}\nstdout:\n{stdout}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    let mut rest: &str = &stdout;
    for milestone in MILESTONES {
        match rest.find(milestone) {
            Some(at) => rest = &rest[at + milestone.len()..],
            None => panic!("missing (or out of order): {milestone:?}\n{stdout}"),
        }
    }
    // Every line is stamped: wall clock (with its zone) and time since the start.
    for line in stdout.lines().filter(|l| !l.is_empty()) {
        let stamp = line.split("  ").next().unwrap();
        assert_eq!(stamp.len(), 13, "no timestamp: {line:?}");
        assert!(stamp.ends_with('Z'), "a time without its zone: {line:?}");
        assert!(line.contains("s  "), "no elapsed time: {line:?}");
    }
    // No secret: query values are hidden, the GNAP tokens never appear.
    for line in stdout.lines() {
        for (i, _) in line.match_indices('=') {
            let after = &line[i + 1..];
            assert!(
                after.starts_with('…') || after.starts_with(' ') || after.is_empty(),
                "a value after '=' is printed: {line:?}"
            );
        }
    }
}

#[test]
fn demo_walks_every_step_and_exits_zero() {
    let out = demo(&[]);
    check_timeline(&out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("outgoing-payment @alice       Revoked"),
        "{stdout}"
    );
    // The story of the resume names the versions of the recorded history it tells.
    let story = stdout
        .lines()
        .find(|l| l.contains("put the continue in flight"))
        .unwrap_or_else(|| panic!("no resume story:\n{stdout}"));
    let marked = story
        .split("(v")
        .nth(1)
        .and_then(|s| s.split(':').next())
        .unwrap_or_else(|| panic!("no version in {story:?}"));
    let recorded = stdout
        .lines()
        .find(|l| l.contains(&format!("v{marked:<2} ")))
        .unwrap_or_else(|| panic!("v{marked} is not in the printed history:\n{stdout}"));
    let kind = if story.contains("worker-1's wake") {
        "wake"
    } else {
        "finish"
    };
    assert!(
        recorded.trim_end().ends_with(kind) || recorded.contains(kind),
        "{recorded} vs {story}"
    );
}

#[test]
fn demo_runs_on_postgresql_when_given_a_database_url() {
    let Some(url) = std::env::var("DATABASE_URL").ok().filter(|u| !u.is_empty()) else {
        // The one rule for a missing tool: in CI (`CI` is `true` or `1`) the test fails, so a CI
        // run cannot pass without the check; on a developer's machine it says so and skips.
        let in_ci = std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1");
        let install = "install PostgreSQL and run scripts/test (it starts a throwaway cluster and \
            sets DATABASE_URL), or set DATABASE_URL to a PostgreSQL you may create databases in";
        assert!(!in_ci, "DATABASE_URL is not set, and CI is set: {install}");
        eprintln!("SKIPPED: the PostgreSQL run of the demo did NOT run: {install}");
        return;
    };
    let out = demo(&["--database-url", &url]);
    check_timeline(&out);
    assert!(String::from_utf8_lossy(&out.stdout).contains("database: postgres"));
}

#[test]
fn a_failing_demo_names_its_step_and_exits_non_zero() {
    let out = demo(&["--database-url", "mysql://nowhere/db"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("step 0 (set-up) failed"), "{stderr}");
    assert!(stderr.contains("cannot open the database"), "{stderr}");
}
