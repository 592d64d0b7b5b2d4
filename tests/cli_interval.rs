//! `grantflow interval parse|window`, run as the built binary.

use std::process::{Command, Output};

use serde_json::{Value, json};

fn grantflow(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_grantflow"))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running grantflow {args:?}: {e}"))
}

fn stdout_json(out: &Output) -> Value {
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("stdout {text:?} is not JSON: {e}"))
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn parse_json_start_duration() {
    let out = grantflow(&[
        "interval",
        "parse",
        "R3/2016-08-24T08:00:00+02:00/P1M",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout_json(&out),
        json!({
            "repetitions": 3,
            "form": "start/duration",
            "start": "2016-08-24T08:00:00+02:00",
            "end": null,
            "duration": {"years": 0, "months": 1, "weeks": 0, "days": 0, "hours": 0, "minutes": 0, "seconds": 0},
        })
    );
}

#[test]
fn parse_json_duration_end_and_start_end() {
    let out = grantflow(&[
        "interval",
        "parse",
        "R/PT1.5H/20221001T130000-0530",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout_json(&out),
        json!({
            "repetitions": null,
            "form": "duration/end",
            "start": null,
            "end": "2022-10-01T13:00:00-05:30",
            "duration": {"years": 0, "months": 0, "weeks": 0, "days": 0, "hours": 1.5, "minutes": 0, "seconds": 0},
        })
    );
    let out = grantflow(&[
        "interval",
        "parse",
        "R2/2022-07-01T13:00:00Z/2022-08-01T13:00:00Z",
        "--json",
    ]);
    assert_eq!(
        stdout_json(&out),
        json!({
            "repetitions": 2,
            "form": "start/end",
            "start": "2022-07-01T13:00:00Z",
            "end": "2022-08-01T13:00:00Z",
            "duration": null,
        })
    );
}

#[test]
fn parse_for_people() {
    let out = grantflow(&["interval", "parse", "R2/2022-07-01T13:00:00Z/P1M"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("start/duration"), "{text}");
    assert!(text.contains("Rafiki-compatible: 3 windows"), "{text}");
}

#[test]
fn invalid_interval_exits_2_with_one_line() {
    for json in [false, true] {
        let mut args = vec!["interval", "parse", "R3/2016-08-24T08:00:00/P1M"];
        if json {
            args.push("--json");
        }
        let out = grantflow(&args);
        assert_eq!(out.status.code(), Some(2));
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "{err:?}");
        assert!(err.contains("start date-time at byte 22"), "{err}");
        assert!(err.contains("zone designator"), "{err}");
        if json {
            let error = stdout_json(&out)["error"].as_str().map(str::to_owned);
            assert!(error.is_some_and(|e| e.contains("byte 22")));
        } else {
            assert!(out.stdout.is_empty());
        }
    }
}

#[test]
fn window_json_in_both_readings() {
    let args = |reading: &'static str| {
        [
            "interval",
            "window",
            "R/2024-01-31T00:00:00Z/P1M",
            "--at",
            "2024-03-30T12:00:00+01:00",
            "--reading",
            reading,
            "--json",
        ]
    };
    let iso = grantflow(&args("iso"));
    assert!(iso.status.success(), "{}", stderr(&iso));
    assert_eq!(
        stdout_json(&iso),
        json!({"start": "2024-02-29T00:00:00Z", "end": "2024-03-31T00:00:00Z", "index": 1})
    );
    let rafiki = grantflow(&args("rafiki"));
    assert_eq!(
        stdout_json(&rafiki),
        json!({"start": "2024-03-29T00:00:00Z", "end": "2024-04-29T00:00:00Z", "index": 2})
    );
}

#[test]
fn window_json_null_outside_the_series() {
    let out = grantflow(&[
        "interval",
        "window",
        "R2/2022-07-01T13:00:00Z/P1M",
        "--at",
        "2022-07-01T12:59:59Z",
        "--reading",
        "rafiki",
        "--json",
    ]);
    assert!(out.status.success());
    assert_eq!(stdout_json(&out), Value::Null);
}

#[test]
fn window_for_people() {
    let out = grantflow(&[
        "interval",
        "window",
        "R2/2022-07-01T13:00:00Z/P1M",
        "--at",
        "2022-08-10T13:00:00Z",
    ]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    // The default reading is the one the reference server and the sandbox enforce; where the
    // other reading answers differently, the text says so.
    assert!(text.contains("reading:     Rafiki-compatible"), "{text}");
    assert!(
        text.contains("[2022-08-01T13:00:00Z, 2022-09-01T13:00:00Z)"),
        "{text}"
    );
    assert!(text.contains("series end:  2022-10-01T13:00:00Z"), "{text}");
    assert!(
        text.contains("differs:     in the ISO 8601 reading the series ends 2022-09-01T13:00:00Z"),
        "{text}"
    );
    assert!(!text.contains("the window is"), "{text}");
    assert!(text.contains("in 22d"), "{text}");
}

#[test]
fn window_defaults_to_now() {
    let before = chrono::Utc::now();
    let out = grantflow(&["interval", "window", "R/2016-08-24T08:00:00Z/P1D"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    let at = text
        .lines()
        .find_map(|l| l.strip_prefix("at:"))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no at line: {text}"));
    let at: chrono::DateTime<chrono::Utc> = at.parse().unwrap();
    assert!(at >= before - chrono::Duration::seconds(1), "{at} {before}");
    assert!(text.contains("window:      #"), "{text}");
}

#[test]
fn window_invalid_at_or_reading_exits_2() {
    for (at, reading, needle) in [
        ("2022-08-10", "iso", "--at"),
        ("2022-08-10T13:00:00Z", "utc", "--reading"),
    ] {
        let out = grantflow(&[
            "interval",
            "window",
            "R2/2022-07-01T13:00:00Z/P1M",
            "--at",
            at,
            "--reading",
            reading,
            "--json",
        ]);
        assert_eq!(out.status.code(), Some(2));
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "{err:?}");
        assert!(err.contains(needle), "{err}");
        assert!(stdout_json(&out)["error"].is_string());
    }
}
