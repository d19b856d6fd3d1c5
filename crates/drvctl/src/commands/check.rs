//! `check` (one driver against the conformance rules) and `doctor` (every registered
//! driver). Every step runs in a child process with a time limit.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use serde::Serialize;

use crate::child::{self, Outcome};
use crate::commands::drivers::probe_in_child;
use crate::context::Ctx;
use crate::error::{CliError, CliResult, failed};
use crate::probe::ProbeReport;
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
fn progress(text: &str) {
    let mut err = std::io::stderr();
    if err.is_terminal() {
        let _ = write!(err, "\r\x1b[2K{text}");
    } else {
        let _ = writeln!(err, "{text}");
    }
    let _ = err.flush();
}

fn end_progress() {
    let mut err = std::io::stderr();
    if err.is_terminal() {
        let _ = write!(err, "\r\x1b[2K");
        let _ = err.flush();
    }
}

/// Runs one rule in a child; a crash or hang is the rule's failure. The flag says
/// whether the verdict is the child's own (it did not crash or hang).
fn run_rule(ctx: &Ctx, rule: &str, target: &str, timeout: Duration) -> CliResult<(Verdict, bool)> {
    Ok(match child::run::<Verdict>(ctx, &format!("check:{rule}"), target, timeout)? {
        Outcome::Reported(v) => (v, true),
        Outcome::Died(how) => {
            (Verdict { pass: false, evidence: format!("the driver crashed the process: {how}") }, false)
        }
        Outcome::TimedOut(t) => (
            Verdict {
                pass: false,
                evidence: format!("no answer within {} s: the driver hangs", t.as_secs()),
            },
            false,
        ),
    })
}

/// Runs every rule; returns whether all passed.
///
/// The `load` rule runs first: when it reports that the driver cannot be loaded at
/// all (no such file, not a library, no `DriverProc`, `DRV_LOAD` refused), every
/// other rule would fail the same way, so that is said once and nothing else runs.
/// A `load` that crashes or hangs is a verdict like any other: the rules still run.
pub fn check(ctx: &Ctx, target: &str, timeout: u64, json: bool) -> CliResult<bool> {
    if timeout == 0 {
        return Err(CliError::Usage("--timeout must be at least 1 (seconds per rule)".into()));
    }
    let timeout = Duration::from_secs(timeout);
    let mut reports = Vec::new();
    for (n, (rule, checks)) in RULES.iter().enumerate() {
        progress(&format!("checking {target}: rule {}/{} ({rule})...", n + 1, RULES.len()));
        let (verdict, reported) = run_rule(ctx, rule, target, timeout)?;
        let cannot_load = n == 0 && reported && !verdict.pass;
        reports.push(RuleReport { rule, checks, pass: verdict.pass, evidence: verdict.evidence });
        if cannot_load {
            end_progress();
            if json {
                println!("{}", serde_json::to_string_pretty(&reports)?);
                return Ok(false);
            }
            return Err(failed!("cannot check: {}", reports[0].evidence));
        }
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

/// The sections holding drivers (Win32, Win16 and MCI).
const DRIVER_SECTIONS: [&str; 4] = ["Drivers32", "drivers", "MCI32", "MCI"];

#[derive(Serialize)]
struct DoctorEntry {
    section: String,
    alias: String,
    value: String,
    #[serde(flatten)]
    probe: ProbeReport,
}

/// Checks every driver entry; returns whether all are healthy.
pub fn doctor(ctx: &Ctx, json: bool, timeout: u64) -> CliResult<bool> {
    let registry = ctx.registry()?;
    let doc = registry.read()?;
    let timeout = Duration::from_secs(timeout.max(1));
    let mut entries = Vec::new();
    for section in
        doc.sections().into_iter().filter(|s| DRIVER_SECTIONS.iter().any(|d| d.eq_ignore_ascii_case(s)))
    {
        for (alias, value) in doc.entries(section) {
            progress(&format!("checking [{section}] {alias}..."));
            let probe = probe_in_child(ctx, section, alias, value, true, timeout)?;
            entries.push(DoctorEntry {
                section: section.into(),
                alias: alias.into(),
                value: value.into(),
                probe,
            });
        }
    }
    end_progress();
    let broken = entries.iter().filter(|e| e.probe.problem.is_some()).count();
    if json {
        println!("{}", serde_json::to_string_pretty(&entries)?);
        return Ok(broken == 0);
    }
    if entries.is_empty() {
        return Err(failed!(
            "{}: no driver entries in [{}]",
            registry.path().display(),
            DRIVER_SECTIONS.join("], [")
        ));
    }
    for e in &entries {
        match (&e.probe.problem, &e.probe.fix) {
            (None, _) => println!(
                "{} [{}] {} = {}: loads and opens ({})",
                style::pass("ok    "),
                e.section,
                e.alias,
                e.value,
                e.probe.path.as_deref().unwrap_or("system library path")
            ),
            (Some(problem), fix) => {
                println!("{} [{}] {} = {}: {problem}", style::fail("broken"), e.section, e.alias, e.value);
                if let Some(fix) = fix {
                    println!("       fix: {fix}, or `drvctl remove {} --section {}`", e.alias, e.section);
                }
            }
        }
    }
    println!("{} entries, {broken} broken", entries.len());
    Ok(broken == 0)
}
