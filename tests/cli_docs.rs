//! `docs/cli.md` names only flags that `grantflow` accepts: every `--flag` of the command table
//! is in its command's `--help`, and every `--flag` anywhere in the file is in some command's.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a panic is the test failing

use std::collections::BTreeSet;
use std::process::Command;

const CLI_MD: &str = include_str!("../docs/cli.md");

/// The `--help` text of `grantflow <words>`.
fn help(words: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_grantflow"))
        .args(words)
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success(), "grantflow {words:?} --help failed");
    String::from_utf8(out.stdout).unwrap()
}

/// Every `--flag` named in `text`.
fn flags(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (i, _) in text.match_indices("--") {
        let name: String = text[i + 2..]
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')
            .collect();
        let before = text[..i].chars().next_back();
        if name.starts_with(|c: char| c.is_ascii_lowercase())
            && !before.is_some_and(|c| c.is_alphanumeric() || c == '-')
        {
            found.insert(format!("--{name}"));
        }
    }
    found
}

/// The subcommands a `--help` text lists under `Commands:`.
fn subcommands(help: &str) -> Vec<String> {
    help.split("Commands:")
        .nth(1)
        .map(|rest| rest.split("\n\n").next().unwrap_or_default())
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|w| *w != "help")
        .map(str::to_owned)
        .collect()
}

/// `(command words, its help)` for `grantflow` and every subcommand, depth first.
fn every_command() -> Vec<(Vec<String>, String)> {
    let mut out = Vec::new();
    let mut todo = vec![Vec::<String>::new()];
    while let Some(words) = todo.pop() {
        let text = help(&words.iter().map(String::as_str).collect::<Vec<_>>());
        for sub in subcommands(&text) {
            let mut next = words.clone();
            next.push(sub);
            todo.push(next);
        }
        out.push((words, text));
    }
    out
}

#[test]
fn every_flag_in_docs_cli_md_is_accepted_by_the_command_it_is_listed_for() {
    let commands = every_command();
    assert!(commands.len() > 20, "{} commands", commands.len());
    let help_of = |words: &[&str]| {
        commands
            .iter()
            .find(|(w, _)| w.iter().map(String::as_str).eq(words.iter().copied()))
            .map(|(_, h)| h.as_str())
    };

    // The command table: `| `grantflow grant request --for WALLET ...` | ... |`.
    let mut rows = 0;
    for line in CLI_MD.lines() {
        let Some(usage) = line
            .strip_prefix("| `grantflow ")
            .and_then(|l| l.split('`').next())
        else {
            continue;
        };
        let words: Vec<&str> = usage
            .split_whitespace()
            .take_while(|w| w.starts_with(|c: char| c.is_ascii_lowercase()))
            .collect();
        // `grant status\|history ID`: one variant per alternative.
        let mut variants: Vec<Vec<&str>> = vec![Vec::new()];
        for word in words {
            let alternatives: Vec<&str> = word.split("\\|").collect();
            variants = variants
                .into_iter()
                .flat_map(|v| {
                    alternatives.iter().map(move |a| {
                        let mut v = v.clone();
                        v.push(*a);
                        v
                    })
                })
                .collect();
        }
        for variant in variants {
            let help = help_of(&variant)
                .unwrap_or_else(|| panic!("docs/cli.md lists `grantflow {}`", variant.join(" ")));
            let accepted = flags(help);
            for flag in flags(usage) {
                assert!(
                    accepted.contains(&flag),
                    "docs/cli.md: `grantflow {}` does not take {flag}",
                    variant.join(" ")
                );
            }
            rows += 1;
        }
    }
    assert!(rows > 20, "the command table has its rows ({rows})");

    // Anywhere in the file (the configuration table, the prose).
    let accepted: BTreeSet<String> = commands.iter().flat_map(|(_, h)| flags(h)).collect();
    for flag in flags(CLI_MD) {
        assert!(
            accepted.contains(&flag),
            "docs/cli.md names {flag}, which no grantflow command takes"
        );
    }
}
