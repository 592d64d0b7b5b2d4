//! How every one-shot subcommand ends: a human report on stdout (or JSON with `--json`), or an
//! error on stderr that says what to do next, and the exit code.
//!
//! Exit codes: 0 success, 1 the command failed or its goal was not reached (the message says why
//! and what to do), 2 the command line was wrong (clap's own code). A reader that closes the pipe
//! early (`grantflow grant history ID | head`) ends the output quietly, with 0.
//!
//! Times are printed one way everywhere: RFC 3339 in UTC ([`time`]).
//!
//! The long-running subcommands (`worker`, `sandbox`) log to stderr instead ([`init_logs`]).

use std::process::ExitCode;

use std::io::Write;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

/// An instant as every command prints it: RFC 3339 in UTC, whole seconds
/// (`2026-11-25T12:00:00Z`).
pub fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// An instant to the millisecond, for timelines where order within a second matters
/// (`2026-11-25T12:00:00.250Z`).
pub fn time_ms(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Writes `text` to stdout. A closed pipe (the reader has what it wanted, as `| head` does) is
/// not an error: the output just ends. Any other write error is returned.
pub fn print_stdout(text: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// What a successful command prints: a text for people and a JSON value for scripts.
#[derive(Debug)]
pub struct Report {
    /// Printed without `--json`.
    pub human: String,
    /// Printed (compact, one line) with `--json`.
    pub json: Value,
}

/// Prints `result` the way `--json` asks and returns the process exit code.
///
/// Errors go to stderr as `error: <message>` with their causes (`anyhow`'s `{:#}`); with
/// `--json`, stdout also gets `{"error": "<message>"}` so a script reading stdout sees it.
pub fn finish(json_output: bool, result: anyhow::Result<Report>) -> ExitCode {
    match result {
        Ok(report) => {
            let text = if json_output {
                format!("{}\n", report.json)
            } else {
                ensure_newline(report.human)
            };
            match print_stdout(&text) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: cannot write the output: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Err(error) => {
            fail(json_output, &error);
            ExitCode::FAILURE
        }
    }
}

/// Reports a failure: `error: ...` on stderr, and `{"error": ...}` on stdout with `--json`.
pub fn fail(json_output: bool, error: &anyhow::Error) {
    let message = render(error);
    if json_output {
        // Best effort: the message goes to stderr below in any case.
        let _ = print_stdout(&format!("{}\n", json!({ "error": message })));
    }
    eprintln!("error: {message}");
}

/// An error and its causes on one line, `outer: cause: root`, leaving out a cause whose text the
/// line already holds: many errors (ours and reqwest's) print their source in their own message
/// too, and `{:#}` alone would then say the same thing two or three times.
fn render(error: &anyhow::Error) -> String {
    let mut message = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if message.contains(&text) {
            continue;
        }
        if !message.is_empty() {
            message.push_str(": ");
        }
        message.push_str(&text);
    }
    message
}

/// A multi-threaded tokio runtime for the async subcommands.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| anyhow::anyhow!("cannot start the async runtime: {e}"))
}

fn ensure_newline(mut text: String) -> String {
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text
}

/// `--log-format`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Logs to stderr at `RUST_LOG` (or `default` when it is unset or invalid, e.g. `info` for
/// the long-running subcommands, `warn` for one-shot ones whose stdout is the report) in
/// `format`. Colours only when stderr is a terminal. JSON lines carry the fields of the spans
/// they are in (`span`, `spans`), so work on one grant carries its `grant` id.
pub(crate) fn init_logs(format: LogFormat, default: &str) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

#[cfg(test)]
mod tests {
    #[test]
    fn render_says_each_cause_once() {
        /// Prints its source in its own message and returns it from `source()`, as many do.
        #[derive(Debug)]
        struct Read(std::io::Error);
        impl std::fmt::Display for Read {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "cannot read key file k.pem: {}", self.0)
            }
        }
        impl std::error::Error for Read {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "No such file or directory");
        let error = anyhow::Error::new(Read(io)).context("cannot use k.pem as the client key");
        assert_eq!(
            render(&error),
            "cannot use k.pem as the client key: cannot read key file k.pem: No such file or directory"
        );
        let plain = anyhow::anyhow!("root cause").context("outer");
        assert_eq!(render(&plain), "outer: root cause");
    }

    use super::*;

    #[test]
    fn human_text_always_ends_with_one_newline() {
        assert_eq!(ensure_newline("a".into()), "a\n");
        assert_eq!(ensure_newline("a\n".into()), "a\n");
    }
}
