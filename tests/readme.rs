//! The README's quickstart and its "Embed it" excerpt, checked against what they describe, so
//! neither can rot.
//!
//! The quickstart test takes the `sh` blocks between the README's quickstart markers and runs
//! them as written in one `bash` (with `-e -o pipefail`: any failing step fails the test), real
//! processes on loopback: the key commands, `grantflow sandbox`, `grantflow worker`, the grant
//! commands, and the approval through the sandbox's consent page with `curl`, as a browser does
//! it. Two things differ from a paste: `grantflow` on `PATH` is the binary cargo built for this
//! test (the README's `cargo build` line stands before the markers), and the ports 4000 and 3344
//! become free ones, so the test can run beside others.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a panic is the test failing

mod support;

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::free_port;

const README: &str = include_str!("../README.md");
const LIB_RS: &str = include_str!("../src/lib.rs");
const QUICKSTART_BEGIN: &str = "<!-- quickstart:";
const QUICKSTART_END: &str = "<!-- end of quickstart -->";

/// The fenced blocks of `text` whose info string is `lang`, in order.
fn fenced_blocks<'a>(text: &'a str, lang: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<Vec<&'a str>> = None;
    for line in text.lines() {
        match &mut current {
            None if line.trim_start() == format!("```{lang}") => current = Some(Vec::new()),
            None => {}
            Some(_) if line.trim_start() == "```" => {
                blocks.push(current.take().unwrap_or_default().join("\n"));
            }
            Some(lines) => lines.push(line),
        }
    }
    blocks
}

/// The README's text between `begin` (the start of a line) and `end`.
fn section(begin: &str, end: &str) -> &'static str {
    let start = README
        .find(begin)
        .unwrap_or_else(|| panic!("README.md has no {begin:?}"));
    let rest = &README[start..];
    let stop = rest
        .find(end)
        .unwrap_or_else(|| panic!("README.md has no {end:?} after {begin:?}"));
    &README[start..start + stop]
}

/// Whether `tool` runs; in CI a missing tool fails the test instead of skipping it.
fn have(tool: &str) -> bool {
    let found = Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "{tool} is needed by the README quickstart test (CI=true: not skipping)"
        );
        eprintln!("skipping: {tool} not found");
    }
    found
}

/// Ends the process group `child` leads (the shell and the servers it started in the
/// background), by its id.
fn end_group(child: &Child) {
    let _ = Command::new("kill")
        .args(["-TERM", "--", &format!("-{}", child.id())])
        .stderr(Stdio::null())
        .status();
}

#[test]
fn the_readme_quickstart_runs_as_written() {
    if !have("bash") || !have("curl") {
        return;
    }
    let blocks = fenced_blocks(section(QUICKSTART_BEGIN, QUICKSTART_END), "sh");
    assert!(blocks.len() >= 2, "the quickstart has its sh blocks");
    let script = blocks.join("\n");
    for port in ["4000", "3344"] {
        assert!(script.contains(port), "the quickstart uses port {port}");
    }
    let (sandbox_port, worker_port) = (free_port(), free_port());
    let script = script
        .replace("4000", &sandbox_port.to_string())
        .replace("3344", &worker_port.to_string());

    let dir = tempfile::tempdir().unwrap();
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_grantflow"))
        .parent()
        .unwrap()
        .to_owned();
    let path = std::env::join_paths(std::iter::once(bin).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .unwrap();
    let mut command = Command::new("bash");
    command
        .args(["-e", "-o", "pipefail", "-c", &script])
        .current_dir(dir.path())
        // `mktemp -d` makes its folder in here, removed with it.
        .env("TMPDIR", dir.path())
        .env("PATH", path)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("GRANTFLOW_") {
            command.env_remove(name);
        }
    }
    let mut child = command.spawn().unwrap();

    // The sandbox asks for a 5 s wait before the continue; everything else takes a second or
    // two. The bound only keeps a broken quickstart from hanging the suite.
    let deadline = Instant::now() + Duration::from_secs(300);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    end_group(&child);
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let logs = ["sandbox.log", "worker.log"]
        .iter()
        .filter_map(|name| {
            let found = std::fs::read_dir(dir.path())
                .ok()?
                .filter_map(Result::ok)
                .map(|e| e.path().join(name))
                .find(|p| p.exists())?;
            Some(format!(
                "--- {name}\n{}",
                std::fs::read_to_string(found).ok()?
            ))
        })
        .collect::<Vec<_>>()
        .join("\n");
    let status = status.unwrap_or_else(|| {
        panic!("the quickstart did not finish in 300 s\n{stdout}\n{stderr}\n{logs}")
    });
    assert!(
        status.success(),
        "the quickstart failed ({status})\n--- stdout\n{stdout}\n--- stderr\n{stderr}\n{logs}"
    );

    // Step 3 printed the grant, waiting for the user; step 5 the token, then the grant issued.
    let id = stdout
        .lines()
        .find_map(|l| l.strip_prefix("grant      "))
        .expect("grant request printed the grant's id")
        .trim()
        .to_owned();
    assert!(
        stdout.contains("state      AwaitingInteraction"),
        "{stdout}"
    );
    assert!(stdout.contains("state      Issued"), "{stdout}");
    assert!(
        stdout.matches(&id).count() >= 3,
        "request, status and list name the grant: {stdout}"
    );
}

#[test]
fn the_readme_embed_excerpt_is_the_front_page_example_word_for_word() {
    let embed = section("## Embed it", "\n## ");
    let excerpt = fenced_blocks(embed, "rust,ignore");
    assert_eq!(excerpt.len(), 1, "one Rust excerpt under Embed it");
    let example: Vec<&str> = LIB_RS
        .lines()
        .filter_map(|l| l.strip_prefix("//!"))
        .map(str::trim)
        .collect();
    let mut checked = 0;
    for line in excerpt[0].lines().map(str::trim) {
        if line.is_empty() || line.starts_with("// …") {
            continue;
        }
        assert!(
            example.contains(&line),
            "README's Embed it line is not in src/lib.rs's example: {line}"
        );
        checked += 1;
    }
    assert!(checked >= 10, "the excerpt has its lines ({checked})");
}

#[test]
fn the_quickstart_markers_enclose_the_steps() {
    let quickstart = section(QUICKSTART_BEGIN, QUICKSTART_END);
    let script = fenced_blocks(quickstart, "sh").join("\n");
    for step in [
        "grantflow keys generate",
        "GRANTFLOW_PUBLIC_URL",
        "grantflow sandbox",
        "grantflow worker",
        "grantflow grant request",
        "choice=accept",
        "grantflow grant status",
        "grantflow grant token",
    ] {
        assert!(script.contains(step), "the quickstart runs {step}");
    }
}
