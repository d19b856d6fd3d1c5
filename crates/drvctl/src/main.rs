//! drvctl: install, remove, configure, list, send to, trace, check and doctor
//! installable drivers.

mod capture;
mod child;
mod cli;
mod commands;
mod context;
mod conversation;
mod diagnose;
mod error;
mod probe;
mod rules;
mod style;

use std::process::ExitCode;

use clap::{CommandFactory, Parser};

use crate::cli::{Cli, Command};
use crate::commands::{check, demo, doctor, drivers, messages};
use crate::context::Ctx;
use crate::error::{CliError, CliResult};

fn run(cli: Cli) -> CliResult<bool> {
    let ctx = Ctx::new(cli.config);
    match cli.command {
        Command::List { section, all, json } => drivers::list(&ctx, &section, all, json)?,
        Command::Install { alias, file, args, section, force } => {
            drivers::install(&ctx, &alias, &file, &args, &section, force)?
        }
        Command::Remove { alias, section, force } => drivers::remove(&ctx, &alias, &section, force)?,
        Command::Configure { alias, section } => drivers::configure(&ctx, &alias, &section)?,
        Command::Send { target, msg, l1, l2, section } => {
            messages::send(&ctx, &target, &msg, &l1, &l2, section.as_deref())?
        }
        Command::Trace { target, script, json } => messages::trace(&ctx, &target, script.as_deref(), json)?,
        Command::Check { target, timeout, json } => return check::check(&ctx, &target, timeout, json),
        Command::Doctor { json, timeout } => return doctor::doctor(&ctx, json, timeout),
        Command::Demo => demo::demo()?,
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "drvctl", &mut std::io::stdout());
        }
        Command::Worker { step, target } => worker(&ctx, &step, &target)?,
    }
    Ok(true)
}

/// The child side of [`child::run`]: one step, one report on the report channel.
fn worker(ctx: &Ctx, step: &str, target: &str) -> CliResult {
    let mut reporter = child::Reporter::take();
    if let Some(section) = step.strip_prefix("probe:") {
        reporter.report(&probe::probe(ctx, section, target, false))?;
    } else if let Some(section) = step.strip_prefix("probe-load:") {
        reporter.report(&probe::probe(ctx, section, target, true))?;
    } else if let Some(rule) = step.strip_prefix("check:") {
        reporter.report(&rules::run(ctx, rule, target))?;
    } else if step == "converse" {
        let answer = conversation::serve(ctx, target, &mut reporter)?;
        reporter.report(&answer)?;
    } else {
        return Err(CliError::Usage(format!("unknown worker step {step}")));
    }
    Ok(())
}

/// Dies quietly on a closed pipe (`drvctl list | head`), as Unix tools do, instead of
/// panicking on the failed write: Rust ignores SIGPIPE by default.
#[cfg(unix)]
fn default_sigpipe() {
    // SAFETY: restoring the default disposition of SIGPIPE at start-up, before any
    // thread exists, is a plain libc call with no memory-safety implications.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

#[cfg(not(unix))]
fn default_sigpipe() {}

fn main() -> ExitCode {
    default_sigpipe();
    let cli = Cli::parse();
    match run(cli) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("drvctl: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
