//! `check`: one driver against the conformance rules. Every rule runs in a child
//! process with a time limit.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use serde::Serialize;

use crate::child::{self, Outcome};
use crate::context::Ctx;
use crate::error::CliResult;
use crate::rules::{RULES, Verdict};
use crate::style;

#[derive(Serialize)]
struct RuleReport {
    rule: &'static str,
    checks: &'static str,
    pass: bool,
    evidence: String,
}

/// Shows what is running: a rewritten line on a terminal, plain lines otherwise.
pub(crate) fn progress(text: &str) {
    let mut err = std::io::stderr();
    if err.is_terminal() {
        let _ = write!(err, "\r\x1b[2K{text}");
    } else {
        let _ = writeln!(err, "{text}");
    }
    let _ = err.flush();
}

pub(crate) fn end_progress() {
    let mut err = std::io::stderr();
    if err.is_terminal() {
        let _ = write!(err, "\r\x1b[2K");
        let _ = err.flush();
    }
}

/// Runs every rule; returns whether all passed.
pub fn check(ctx: &Ctx, target: &str, timeout: u64, json: bool) -> CliResult<bool> {
    let timeout = Duration::from_secs(timeout.max(1));
    let mut reports = Vec::new();
    for (n, (rule, checks)) in RULES.iter().enumerate() {
        progress(&format!("checking {target}: rule {}/{} ({rule})...", n + 1, RULES.len()));
        let verdict = match child::run::<Verdict>(ctx, &format!("check:{rule}"), target, timeout)? {
            Outcome::Reported(v) => v,
            Outcome::Died(how) => {
                Verdict { pass: false, evidence: format!("the driver crashed the process: {how}") }
            }
            Outcome::TimedOut(t) => Verdict {
                pass: false,
                evidence: format!("no answer within {} s: the driver hangs", t.as_secs()),
            },
        };
        reports.push(RuleReport { rule, checks, pass: verdict.pass, evidence: verdict.evidence });
    }
    end_progress();
    let passed = reports.iter().filter(|r| r.pass).count();
    if json {
        println!("{}", serde_json::to_string_pretty(&reports)?);
    } else {
        println!("{target}");
        for r in &reports {
            println!("  {} {:<12} {}", style::verdict(r.pass), r.rule, r.checks);
            println!("       {:<12} {}", "", style::dim(&r.evidence));
        }
        println!("{passed} of {} rules pass", reports.len());
    }
    Ok(passed == reports.len())
}
