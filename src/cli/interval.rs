//! `grantflow interval parse|window`: inspect a repeating interval and its windows.
//!
//! Invalid input (the interval, `--at`, `--reading`) exits with code 2 and one line on stderr;
//! with `--json` stdout also gets `{"error": "..."}`.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use grantflow_interval::chrono::{DateTime, SecondsFormat, Utc};
use grantflow_interval::{Component, Duration, Reading, RepeatingInterval, Repetitions, Window};
use serde_json::{Value, json};

/// `grantflow interval ...`.
#[derive(Debug, Args)]
pub struct IntervalArgs {
    #[command(subcommand)]
    command: IntervalCommand,
}

#[derive(Debug, Subcommand)]
enum IntervalCommand {
    /// Parse an ISO 8601 repeating interval strictly and show what was written.
    Parse {
        /// The interval, e.g. R/2016-08-24T08:00:00Z/P1D.
        interval: String,
        /// Print JSON: {"repetitions","form","start","end","duration"}.
        #[arg(long)]
        json: bool,
    },
    /// Show the window of the interval that contains an instant (now by default).
    Window {
        /// The interval, e.g. R/2016-08-24T08:00:00Z/P1D.
        interval: String,
        /// The instant, RFC 3339 (e.g. 2026-01-01T12:00:00Z). Default: now.
        #[arg(long)]
        at: Option<String>,
        /// The reading: rafiki (what the reference server and the sandbox enforce: Rn is n+1
        /// windows, chained, in UTC) or iso (ISO 8601: Rn is n windows, months added from the
        /// anchor). The text output also says where the other reading differs.
        #[arg(long, default_value = "rafiki")]
        reading: String,
        /// Print JSON: {"start","end","index"} or null.
        #[arg(long)]
        json: bool,
    },
}

/// Runs `grantflow interval ...` and returns the process exit code.
pub fn run(args: IntervalArgs) -> ExitCode {
    let (json, result) = match args.command {
        IntervalCommand::Parse { interval, json } => (json, parse(&interval, json)),
        IntervalCommand::Window {
            interval,
            at,
            reading,
            json,
        } => (json, window(&interval, at.as_deref(), &reading, json)),
    };
    match result {
        Ok(out) => {
            println!("{out}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("error: {message}");
            if json {
                println!("{}", json!({ "error": message }));
            }
            ExitCode::from(2)
        }
    }
}

fn rfc3339<Tz: grantflow_interval::chrono::TimeZone>(t: &DateTime<Tz>) -> String
where
    Tz::Offset: std::fmt::Display,
{
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

fn parse_interval(s: &str) -> Result<RepeatingInterval, String> {
    s.parse()
        .map_err(|e: grantflow_interval::ParseError| e.to_string())
}

fn component_json(c: Option<Component>) -> Value {
    match c {
        None => json!(0),
        Some(c) if c.fraction_digits == 0 => json!(c.whole),
        Some(c) => json!(c.whole as f64 + f64::from(c.fraction_nanos) / 1e9),
    }
}

fn duration_json(d: &Duration) -> Value {
    json!({
        "years": component_json(d.years),
        "months": component_json(d.months),
        "weeks": component_json(d.weeks),
        "days": component_json(d.days),
        "hours": component_json(d.hours),
        "minutes": component_json(d.minutes),
        "seconds": component_json(d.seconds),
    })
}

fn parse(input: &str, json: bool) -> Result<String, String> {
    let interval = parse_interval(input)?;
    let repetitions = match interval.repetitions() {
        Repetitions::Unbounded => None,
        Repetitions::Bounded(n) => Some(n),
    };
    if json {
        let value = json!({
            "repetitions": repetitions,
            "form": interval.form().name(),
            "start": interval.start().map(|t| rfc3339(&t)),
            "end": interval.end().map(|t| rfc3339(&t)),
            "duration": interval.duration().map(duration_json),
        });
        return Ok(value.to_string());
    }
    let mut lines = vec![format!("interval:    {interval}")];
    lines.push(match repetitions {
        None => "repetitions: unbounded".to_string(),
        Some(n) => format!(
            "repetitions: {n} (ISO 8601: {n} windows; Rafiki-compatible: {} windows)",
            u128::from(n) + 1
        ),
    });
    lines.push(format!("form:        {}", interval.form().name()));
    if let Some(start) = interval.start() {
        lines.push(format!("start:       {}", rfc3339(&start)));
    }
    if let Some(end) = interval.end() {
        lines.push(format!("end:         {}", rfc3339(&end)));
    }
    if let Some(d) = interval.duration() {
        let kind = if d.is_exact() {
            "exact"
        } else {
            "calendar: months are added on a wall clock and clamped at month ends"
        };
        lines.push(format!("duration:    {d} ({kind})"));
    }
    Ok(lines.join("\n"))
}

fn parse_reading(s: &str) -> Result<Reading, String> {
    match s {
        "iso" => Ok(Reading::Iso8601),
        "rafiki" => Ok(Reading::RafikiCompatible),
        other => Err(format!(
            "invalid --reading {other:?}: expected \"iso\" or \"rafiki\""
        )),
    }
}

fn parse_at(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.to_utc())
        .map_err(|e| {
            format!("invalid --at {s:?}: {e}; expected RFC 3339, e.g. 2026-01-01T12:00:00Z")
        })
}

fn window_json(w: &Window) -> Value {
    json!({ "start": rfc3339(&w.start), "end": rfc3339(&w.end), "index": w.index })
}

/// `2d 3h 4m 5s`, leaving out leading zero units.
fn human_span(from: DateTime<Utc>, to: DateTime<Utc>) -> String {
    let total = (to - from).num_seconds().max(0);
    let (d, h, m, s) = (
        total / 86_400,
        total / 3_600 % 24,
        total / 60 % 60,
        total % 60,
    );
    let parts: Vec<String> = [(d, "d"), (h, "h"), (m, "m"), (s, "s")]
        .iter()
        .skip_while(|(v, _)| *v == 0)
        .map(|(v, u)| format!("{v}{u}"))
        .collect();
    if parts.is_empty() {
        "under a second".to_string()
    } else {
        parts.join(" ")
    }
}

fn reading_name(reading: Reading) -> &'static str {
    match reading {
        Reading::Iso8601 => "ISO 8601",
        Reading::RafikiCompatible => "Rafiki-compatible",
    }
}

fn window_text(w: Option<&Window>, at: DateTime<Utc>) -> String {
    match w {
        Some(w) => format!("#{} [{}, {})", w.index, rfc3339(&w.start), rfc3339(&w.end)),
        None => format!("none contains {}", rfc3339(&at)),
    }
}

fn series_end_text(interval: &RepeatingInterval, reading: Reading, at: DateTime<Utc>) -> String {
    match (
        interval.series_end(reading),
        interval.has_ended(reading, at),
    ) {
        (_, true) => "the series has ended".to_string(),
        (Some(end), false) => rfc3339(&end),
        (None, false) => "never (unbounded)".to_string(),
    }
}

fn window(input: &str, at: Option<&str>, reading: &str, json: bool) -> Result<String, String> {
    let interval = parse_interval(input)?;
    let reading = parse_reading(reading)?;
    let at = at.map_or_else(|| Ok(Utc::now()), parse_at)?;
    let found = interval.window_at(reading, at);
    if json {
        return Ok(found.as_ref().map_or(Value::Null, window_json).to_string());
    }
    let mut lines = vec![
        format!("at:          {}", rfc3339(&at)),
        format!("reading:     {}", reading_name(reading)),
        format!("window:      {}", window_text(found.as_ref(), at)),
    ];
    lines.push(match interval.next_window_start(reading, at) {
        Some(next) => format!(
            "next window: {} (in {})",
            rfc3339(&next),
            human_span(at, next)
        ),
        None => match &found {
            Some(w) => format!(
                "next window: none; this last window ends in {}",
                human_span(at, w.end)
            ),
            None => "next window: none".to_string(),
        },
    });
    lines.push(format!(
        "series end:  {}",
        series_end_text(&interval, reading, at)
    ));
    // The other reading, where it gives another answer: clients and servers disagree there.
    let other = match reading {
        Reading::Iso8601 => Reading::RafikiCompatible,
        Reading::RafikiCompatible => Reading::Iso8601,
    };
    let other_found = interval.window_at(other, at);
    if other_found != found {
        lines.push(format!(
            "differs:     in the {} reading the window is {}",
            reading_name(other),
            window_text(other_found.as_ref(), at)
        ));
    }
    let (end, other_end) = (
        series_end_text(&interval, reading, at),
        series_end_text(&interval, other, at),
    );
    if end != other_end {
        lines.push(format!(
            "differs:     in the {} reading the series ends {other_end}",
            reading_name(other)
        ));
    }
    Ok(lines.join("\n"))
}
