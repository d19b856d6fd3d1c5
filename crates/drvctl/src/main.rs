//! drvctl: install, remove, configure, list, send to, trace, check and doctor
//! installable drivers.

mod capture;
mod child;
mod cli;
mod commands;
mod completion;
mod context;
mod conversation;
mod diagnose;
mod error;
mod output;
mod probe;
mod rules;
mod style;
mod wav;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};

use crate::cli::{Cli, Command};
use crate::commands::{check, convert, demo, doctor, drivers, isolation, messages, registration};
use crate::context::Ctx;
use crate::error::{CliError, CliResult};

fn run(cli: Cli) -> CliResult<bool> {
    let ctx = Ctx::new(cli.config);
    match cli.command {
        Command::List { section, all, json } => drivers::list(&ctx, &section, all, json)?,
        Command::Install { alias, file, args, section, force, timeout } => {
            registration::install(&ctx, &alias, &file, &args, &section, force, timeout)?
        }
        Command::Remove { alias, section, force, timeout } => {
            registration::remove(&ctx, &alias, &section, force, timeout)?
        }
        Command::Isolate { alias, state, section, group } => {
            isolation::isolate(&ctx, &alias, state == cli::Switch::On, group.as_deref(), &section)?
        }
        Command::Configure { alias, section, timeout } => {
            registration::configure(&ctx, &alias, &section, timeout)?
        }
        Command::Send { target, msg, l1, l2, section, json } => {
            messages::send(&ctx, &target, &msg, &l1, &l2, section.as_deref(), json)?
        }
        Command::Trace { target, script, json } => messages::trace(&ctx, &target, script.as_deref(), json)?,
        Command::Check { target, timeout, json } => return check::check(&ctx, &target, timeout, json),
        Command::Doctor { json, timeout } => return doctor::doctor(&ctx, json, timeout),
        Command::Convert { input, output, to, driver } => {
            convert::convert(&ctx, &input, &output, to, driver.as_deref())?
        }
        Command::Demo => demo::demo()?,
        Command::Completions { shell } => completion::registration(
            &shell.to_string(),
            &completion::completer_path(),
            &mut std::io::stdout(),
        )?,
        Command::Manpage { command } => manpage(command.as_deref())?,
        Command::Worker { step, target } => worker(&ctx, &step, &target)?,
    }
    Ok(true)
}

/// `drvctl manpage [COMMAND]`: roff for man(1), e.g. `drvctl manpage | man -l -`.
fn manpage(name: Option<&str>) -> CliResult {
    let mut cmd = Cli::command();
    cmd.build();
    let page = match name {
        None => cmd,
        Some(name) => {
            cmd.get_subcommands().find(|s| !s.is_hide_set() && s.get_name() == name).cloned().ok_or_else(
                || {
                    let names: Vec<&str> =
                        cmd.get_subcommands().filter(|s| !s.is_hide_set()).map(|s| s.get_name()).collect();
                    CliError::Usage(format!("no command {name:?} (commands: {})", names.join(", ")))
                },
            )?
        }
    };
    clap_mangen::Man::new(page).render(&mut std::io::stdout())?;
    Ok(())
}

/// The child side of [`child::run`]: one step, one report on the report channel.
fn worker(ctx: &Ctx, step: &str, target: &str) -> CliResult {
    // First, before any driver is loaded: the report channel leaves the environment.
    // SAFETY: drvctl is single-threaded up to here (parsing arguments and setting up
    // the call log start no thread), so nothing reads the environment meanwhile.
    let mut reporter = unsafe { child::Reporter::take() };
    if let Some(section) = step.strip_prefix("probe:") {
        reporter.report(&probe::probe(ctx, section, target, false))?;
    } else if let Some(section) = step.strip_prefix("probe-load:") {
        reporter.report(&probe::probe(ctx, section, target, true))?;
    } else if let Some(section) = step.strip_prefix("probe-batch:") {
        probe::serve_batch(ctx, section, target, false, &mut reporter)?;
    } else if let Some(section) = step.strip_prefix("probe-load-batch:") {
        probe::serve_batch(ctx, section, target, true, &mut reporter)?;
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

/// Signal dispositions drvctl wants, set at start-up.
///
/// It dies quietly on a closed pipe (`drvctl list | head`), as Unix tools do, instead of
/// panicking on the failed write: Rust ignores SIGPIPE by default. SIGINT, SIGTERM and
/// SIGHUP also stop the driver running in a child, and the command unwinds before
/// drvctl dies of them ([`child::catch_signals`]).
#[cfg(unix)]
fn signal_dispositions() {
    child::catch_signals();
    // SAFETY: restoring the default disposition of SIGPIPE at start-up, before any
    // thread exists, is a plain libc call with no memory-safety implications.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // A write past the file-size limit (RLIMIT_FSIZE) then fails with EFBIG, which the
    // registry reports and undoes, instead of killing drvctl halfway (SIGXFSZ).
    // SAFETY: as above.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
}

/// Ctrl-C, Ctrl-Break and the console closing stop the driver running in a child,
/// and the command unwinds before drvctl exits ([`child::catch_signals`]).
#[cfg(windows)]
fn signal_dispositions() {
    child::catch_signals();
}

/// Whether the raw command line asks for JSON (`--json` before any `--`), for errors
/// found before clap could say so; and the subcommand it names, if any.
fn json_request(args: &[String]) -> Option<String> {
    let words = args.iter().skip(1).take_while(|a| *a != "--");
    if !words.clone().any(|a| a == "--json") {
        return None;
    }
    let names: Vec<String> = Cli::command().get_subcommands().map(|s| s.get_name().to_string()).collect();
    Some(words.into_iter().find(|a| names.contains(a)).cloned().unwrap_or_else(|| "drvctl".into()))
}

/// Prints a failure: the one line on stderr, and with `--json` the error document on
/// stdout too (unless the command printed its own, with the error in it), so a
/// program reading stdout always gets exactly one JSON document.
fn fail(json_command: Option<&str>, message: &str, exit_code: u8) -> ExitCode {
    eprintln!("drvctl: {message}");
    if let Some(command) = json_command.filter(|_| !output::json_printed()) {
        println!("{}", output::json_error(command, message, exit_code));
    }
    ExitCode::from(exit_code)
}

/// drvctl's command line, named in usage lines as it was run; on Windows without
/// the `.exe`, as it is typed.
fn command(args: &[String]) -> clap::Command {
    let cmd = Cli::command();
    if !cfg!(windows) {
        return cmd;
    }
    match args.first().and_then(|a| std::path::Path::new(a).file_stem()?.to_str()) {
        Some(stem) => cmd.bin_name(stem.to_string()),
        None => cmd,
    }
}

/// The argument the manager starts its host processes with (`PROGRAM --channel FD`).
#[cfg(target_os = "linux")]
const HOST_FLAG: &str = "--channel";

fn main() -> ExitCode {
    // drvctl is the host program of the drivers it isolates ([`rules::host_program`]):
    // before anything else (no signal handlers of drvctl's), serve the channel.
    #[cfg(target_os = "linux")]
    if std::env::args_os().nth(1).is_some_and(|a| a == HOST_FLAG) {
        return drvproc_host::host_process_main();
    }
    signal_dispositions();
    // A shell asking for completions (COMPLETE=bash drvctl -- ...) is answered here.
    clap_complete::CompleteEnv::with_factory(Cli::command).complete();
    let args: Vec<String> = std::env::args_os().map(|a| a.to_string_lossy().into_owned()).collect();
    let cli = match command(&args).try_get_matches_from(&args).and_then(|m| Cli::from_arg_matches(&m)) {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            let json = json_request(&args);
            if json.is_none()
                || matches!(
                    e.kind(),
                    ErrorKind::DisplayHelp
                        | ErrorKind::DisplayVersion
                        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
                )
            {
                e.exit();
            }
            let _ = e.print();
            // clap's first paragraph, on one line: "the following required arguments
            // were not provided: <TARGET>".
            let rendered = e.render().to_string();
            let message = rendered
                .lines()
                .take_while(|l| !l.trim().is_empty())
                .map(str::trim)
                .collect::<Vec<_>>()
                .join(" ");
            let message = message.trim_start_matches("error: ");
            println!("{}", output::json_error(json.as_deref().unwrap_or("drvctl"), message, 2));
            return ExitCode::from(2);
        }
    };
    style::init(cli.color);
    let ansi = style::decide(cli.color, |n| std::env::var(n).ok(), std::io::stderr().is_terminal());
    output::init(cli.quiet, cli.verbose, ansi);
    let json_command = cli.command.json().then(|| cli.command.name());
    let mut result = run(cli);
    // A command that handles a child's failure itself (doctor, list) still stops.
    if let Some(signal) = child::interrupted()
        && !matches!(result, Err(CliError::Interrupted(_)))
    {
        result = Err(CliError::Interrupted(signal));
    }
    let code = match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => fail(json_command, &e.to_string(), e.exit_code()),
    };
    // Everything the command held (a registry edit and its lock) is released by now.
    match child::interrupted() {
        Some(signal) => child::die_of(signal),
        None => code,
    }
}
