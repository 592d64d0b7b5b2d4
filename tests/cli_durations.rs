//! Absurd durations are refused on the command line, naming the flag and the accepted range,
//! before anything starts (issue 12: `--lease-seconds 18446744073709551615` used to panic in the
//! engine, a huge `--interaction-lifetime` in the sandbox).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a panic is the test failing

use std::process::Command;

fn refused(args: &[&str], flag: &str, range: &str) {
    let out = Command::new(env!("CARGO_BIN_EXE_grantflow"))
        .args(args)
        .env_remove("GRANTFLOW_DATABASE_URL")
        .output()
        .expect("the grantflow binary runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{args:?} was not refused: {stderr}"
    );
    assert!(
        stderr.contains(flag),
        "{args:?}: the flag is not named: {stderr}"
    );
    assert!(
        stderr.contains(range),
        "{args:?}: the range is not said: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn worker_refuses_a_lease_beyond_a_day() {
    let range = "accepted: 1 to 86400 seconds (1 day)";
    refused(
        &["worker", "--lease-seconds", "18446744073709551615"],
        "--lease-seconds",
        range,
    );
    refused(
        &["worker", "--lease-seconds", "0"],
        "--lease-seconds",
        range,
    );
    refused(
        &["worker", "--shutdown-grace-seconds", "99999999999999999999"],
        "--shutdown-grace-seconds",
        "accepted: 0 to 86400 seconds",
    );
    refused(
        &["worker", "--key-reload-seconds", "1e9"],
        "--key-reload-seconds",
        "not a whole number of seconds",
    );
}

#[test]
fn sandbox_refuses_lifetimes_beyond_a_year() {
    let range = "accepted: 1 to 31536000 seconds (365 days)";
    for flag in [
        "--interaction-lifetime",
        "--token-lifetime",
        "--quote-lifetime",
    ] {
        refused(&["sandbox", flag, "18446744073709551615"], flag, range);
    }
    refused(
        &["sandbox", "--wait-seconds", "100000"],
        "--wait-seconds",
        "accepted: 0 to 86400 seconds",
    );
}

#[test]
fn the_lifecycle_flags_refuse_absurd_values() {
    for command in [
        &["worker"][..],
        &["grant", "status", "00000000-0000-0000-0000-000000000000"],
    ] {
        let with = |flag: &'static str, value: &'static str| [command, &[flag, value][..]].concat();
        refused(
            &with("--recovery-budget-seconds", "18446744073709551615"),
            "--recovery-budget-seconds",
            "accepted: 1 to 86400 seconds (1 day)",
        );
        refused(
            &with("--recovery-budget-seconds", "0"),
            "--recovery-budget-seconds",
            "accepted: 1 to 86400 seconds (1 day)",
        );
        refused(
            &with("--keep-alive-seconds", "2592000"),
            "--keep-alive-seconds",
            "accepted: 1 to 2505600 seconds (29 days)",
        );
        refused(
            &with("--rotation", "sometimes"),
            "--rotation",
            "on-demand, keep-warm",
        );
    }
}
