//! `check`: one driver against the conformance rules. Every rule runs in a child
//! process with a time limit.

use std::time::Duration;

use serde::Serialize;

use crate::child::{self, Outcome};
use crate::context::Ctx;
use crate::error::{CliResult, failed};
use crate::output::{self, end_progress, progress};
use crate::rules::{RULES, Verdict};
use crate::style;

#[derive(Serialize)]
struct RuleReport {
    rule: &'static str,
    checks: &'static str,
    pass: bool,
    evidence: String,
}

/// `check --json` (docs/json.md).
#[derive(Serialize)]
struct CheckDocument<'a> {
    target: &'a str,
    rules: &'a [RuleReport],
    passed: usize,
    total: usize,
}

/// Runs one rule in a child; a crash or hang is the rule's failure. The flag says
/// whether the verdict is the child's own (it did not crash or hang).
///
/// The child, not a driver hosted by drvctl's own manager in a process of its own,
/// decides every verdict, because what `check` judges is the driver as an
/// application hosts it by default: in the application's process. Two rules need
/// the image in the very process that drives it (the SDK's count of caught panics
/// is read through it; `reload` pins it, so that a driver relying on fresh statics
/// is caught), and a driver hosted apart gets a fresh process at every load and
/// hides exactly that. The child is also drvctl's own crash isolation for this
/// in-process hosting, on every platform (isolated hosting is Linux-only).
///
/// A crash is where hosting apart is better, and there it is used (Linux): the rule
/// runs again with the driver in a host process of drvctl's manager
/// ([`crate::rules::diagnose`]), which says what the dead child could not, the message
/// the driver died on and its last output. A hang is not run again: that would
/// cost the whole timeout a second time.
fn run_rule(ctx: &Ctx, rule: &str, target: &str, timeout: Duration) -> CliResult<(Verdict, bool)> {
    Ok(match child::run::<Verdict>(ctx, &format!("check:{rule}"), target, timeout)? {
        Outcome::Reported(v) => (v, true),
        Outcome::Died(how) => {
            #[cfg(target_os = "linux")]
            let how = match crate::rules::diagnose(ctx, rule, target, timeout) {
                Some(hosted) => child::Death {
                    during: Some(hosted.message),
                    last_words: if how.last_words.is_empty() {
                        hosted.last_output.unwrap_or_default()
                    } else {
                        how.last_words
                    },
                    ..how
                },
                None => how,
            };
            (Verdict { pass: false, evidence: format!("the driver crashed the process: {how}") }, false)
        }
        Outcome::TimedOut(t, _) => (
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
    let timeout = crate::commands::timeout(timeout, "per rule")?;
    let mut reports = Vec::new();
    for (n, (rule, checks)) in RULES.iter().enumerate() {
        progress(&format!("checking {target}: rule {}/{} ({rule})...", n + 1, RULES.len()));
        let (verdict, reported) = run_rule(ctx, rule, target, timeout)?;
        let cannot_load = n == 0 && reported && !verdict.pass;
        reports.push(RuleReport { rule, checks, pass: verdict.pass, evidence: verdict.evidence });
        if cannot_load {
            end_progress();
            // With --json too: the error document says it, once.
            return Err(failed!("cannot check: {}", reports[0].evidence));
        }
    }
    end_progress();
    let passed = reports.iter().filter(|r| r.pass).count();
    let total = reports.len();
    if json {
        output::print_json("check", &CheckDocument { target, rules: &reports, passed, total })?;
    } else {
        println!("{target}");
        for r in &reports {
            println!("  {} {:<12} {}", style::verdict(r.pass), r.rule, r.checks);
            println!("       {:<12} {}", "", style::dim(&r.evidence));
        }
        println!("{passed} of {total} rules pass");
    }
    Ok(passed == total)
}
