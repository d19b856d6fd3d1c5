//! The README's drvctl section shows what drvctl itself prints: the summary of
//! `drvctl -h`, and each command's synopsis with its own options. A change to the
//! command line that the README does not follow fails here, with the text to paste.

mod common;

use common::*;

/// The commands a user sees (the hidden worker is not one).
const COMMANDS: [&str; 13] = [
    "list",
    "install",
    "remove",
    "isolate",
    "configure",
    "send",
    "trace",
    "check",
    "doctor",
    "convert",
    "demo",
    "completions",
    "manpage",
];

/// The options every command shares; the synopses leave them out.
const GLOBAL: [&str; 6] = ["--config", "--quiet", "--verbose", "--color", "--help", "--version"];

fn readme() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap()
}

/// The body of the README's fenced block whose first line is `first`.
fn block_starting(readme: &str, first: &str) -> String {
    let start =
        readme.find(&format!("```text\n{first}\n")).unwrap_or_else(|| panic!("no block starting {first:?}"));
    let body = &readme[start + "```text\n".len()..];
    body[..body.find("```\n").unwrap()].to_string()
}

fn stdout(args: &[&str]) -> String {
    let (code, out, err) = run(drvctl(args));
    assert_eq!(code, 0, "{err}");
    out
}

/// `drvctl CMD -h`, reduced to its usage line and the options of its own.
fn synopsis(command: &str) -> String {
    let help = stdout(&[command, "-h"]);
    let mut out = String::new();
    let mut in_options = false;
    for line in help.lines() {
        if line.starts_with("Usage: ") {
            out.push_str(line);
            out.push('\n');
        } else if line == "Options:" {
            in_options = true;
        } else if in_options
            && line.starts_with("  ")
            && !GLOBAL.iter().any(|g| {
                line.contains(&format!("{g} "))
                    || line.trim_end().ends_with(g)
                    || line.contains(&format!("{g}..."))
            })
        {
            out.push_str(line);
            out.push('\n');
        } else if line.is_empty() {
            in_options = false;
        }
    }
    out
}

#[test]
fn readme_shows_drvctl_h_as_printed() {
    let help = stdout(&["-h"]);
    let shown = block_starting(&readme(), "$ drvctl -h");
    assert_eq!(shown, format!("$ drvctl -h\n{help}"), "paste this into README.md:\n$ drvctl -h\n{help}");
    // The long help lists the same commands.
    let long = stdout(&["--help"]);
    let commands =
        |text: &str| text[text.find("Commands:").unwrap()..text.find("Options:").unwrap()].to_string();
    assert_eq!(commands(&help), commands(&long));
    for c in COMMANDS {
        assert!(help.contains(&format!("\n  {c} ")), "{c} is listed");
    }
}

#[test]
fn readme_synopses_match_each_commands_help() {
    let expected: String = COMMANDS.iter().map(|c| synopsis(c)).collect();
    let shown = block_starting(&readme(), "Usage: drvctl list [OPTIONS]");
    assert_eq!(shown, expected, "paste this into README.md:\n{expected}");
    // What `help install` prints is what `install --help` prints.
    assert_eq!(stdout(&["help", "install"]), stdout(&["install", "--help"]));
    assert!(expected.contains("Usage: drvctl install [OPTIONS] <ALIAS> <FILE> [ARGS]...\n"), "{expected}");
    assert!(expected.contains("--section <SECTION>"), "{expected}");
}
