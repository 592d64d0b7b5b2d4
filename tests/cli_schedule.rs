//! `grantflow schedule ...` as an operator runs it against a database: an empty list, an unknown
//! schedule, and a create refused for a grant that cannot pay, each saying what to do. (Paying
//! schedules end to end is `crates/driver/tests/schedules.rs`.)

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the test failing

mod support;

use grantflow::sandbox::SandboxConfig;
use support::Operator;

async fn schedule(operator: &Operator, args: &[&str]) -> std::process::Output {
    let mut c = operator.command();
    c.arg("schedule").args(args).arg("--json");
    support::output(c).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedule_commands_read_the_database_and_say_what_to_do() {
    let operator = Operator::start(SandboxConfig::default(), "ops", None)
        .await
        .sealed();
    let listed = schedule(&operator, &["list"]).await;
    assert!(listed.status.success(), "{listed:?}");
    assert_eq!(String::from_utf8_lossy(&listed.stdout).trim(), "[]");

    let unknown = "00000000-0000-4000-8000-000000000000";
    for command in ["status", "pause", "resume", "cancel"] {
        let out = schedule(&operator, &[command, unknown]).await;
        assert_eq!(out.status.code(), Some(1), "{command}: {out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(&format!("no schedule {unknown}"))
                && stderr.contains("grantflow schedule list"),
            "{command}: {stderr}"
        );
    }

    let refused = schedule(
        &operator,
        &[
            "create",
            "--grant",
            unknown,
            "--receiver",
            "https://rs.example/incoming-payments/1",
            "--amount",
            "100",
        ],
    )
    .await;
    assert_eq!(refused.status.code(), Some(1), "{refused:?}");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("the schedule was not created"), "{stderr}");
    assert!(
        String::from_utf8_lossy(&refused.stdout).contains("\"error\""),
        "--json also reports the error on stdout"
    );
}
