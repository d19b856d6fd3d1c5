//! `list`, `install`, `remove`, `configure`: the registry and the messages that go
//! with changing it (spec §11).

use std::path::Path;
use std::time::Duration;

use drvproc::config_info::ConfigInfoBuf;
use drvproc::consts::{DRVCNF_CANCEL, DRVCNF_OK, DRVCNF_RESTART};
use serde::Serialize;

use crate::commands::drvcnf;
use crate::context::Ctx;
use crate::diagnose;
use crate::error::{CliResult, failed};
use crate::output;
use crate::probe;
use crate::style;

/// How long a probe of one entry may take (`list`, `remove`).
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// `list --json` (docs/json.md).
#[derive(Serialize)]
struct ListDocument<'a> {
    config: String,
    sections: &'a [String],
    entries: Vec<probe::ListedEntry<'a>>,
}

pub fn list(ctx: &Ctx, section: &str, all: bool, json: bool) -> CliResult {
    let registry = probe::existing_registry(ctx)?;
    let doc = registry.read()?;
    // Skipped lines are not what `list` reports, but the reader should know.
    for w in probe::registry_warnings(&doc) {
        output::note(&format!("{} line {}: {}", registry.path().display(), w.line, w.message));
    }
    let sections: Vec<String> =
        if all { doc.sections().iter().map(|s| s.to_string()).collect() } else { vec![section.to_string()] };
    let mut entries = Vec::new();
    for s in &sections {
        for (alias, value) in doc.entries(s) {
            entries.push(probe::check_entry(ctx, s, alias, value, false, PROBE_TIMEOUT));
        }
    }
    if json {
        let document = ListDocument {
            config: registry.path().display().to_string(),
            sections: &sections,
            entries: entries.iter().map(probe::EntryReport::listed).collect(),
        };
        output::print_json("list", &document)?;
        return Ok(());
    }
    if entries.is_empty() {
        println!(
            "no entries in {} of {}",
            sections.iter().map(|s| format!("[{s}]")).collect::<Vec<_>>().join(", "),
            registry.path().display()
        );
        return Ok(());
    }
    let aliases: Vec<String> = entries.iter().map(|e| probe::shown(&e.alias)).collect();
    let width = aliases.iter().map(String::len).max().unwrap_or(0);
    let mut current = "";
    for (e, alias) in entries.iter().zip(&aliases) {
        if e.section != current {
            println!("[{}]", e.section);
            current = &e.section;
        }
        let status = match &e.probe.problem {
            None => style::pass(&format!(
                "ok: {} ({}, exports DriverProc)",
                e.probe.path.as_deref().unwrap_or("found by the system loader"),
                e.probe.format.as_deref().unwrap_or("library")
            )),
            Some(p) => style::fail(p),
        };
        println!("  {alias:<width$}  {}  {status}", probe::shown(&e.value));
    }
    Ok(())
}

/// The value to record for FILE: paths become absolute (the registry is read from
/// other directories); a bare name found in the search path stays bare.
fn entry_file(ctx: &Ctx, file: &Path) -> CliResult<String> {
    let text = file.to_str().ok_or_else(|| failed!("{}: not valid UTF-8", file.display()))?;
    let absolute = |p: &Path| -> CliResult<String> {
        let canonical = p.canonicalize().map_err(|e| failed!("{}: {e}", p.display()))?;
        Ok(canonical.to_string_lossy().into_owned())
    };
    let value = if text.contains('/') {
        absolute(file)?
    } else if ctx.manager().locate_file(text).is_some() {
        text.to_string()
    } else if file.is_file() {
        absolute(file)?
    } else {
        return Err(failed!("{text}: not found {}", ctx.manager().search_description()));
    };
    if value.contains(' ') {
        return Err(failed!(
            "{value}: the registry splits \"file args\" at the first space, so a driver path cannot contain spaces \
             (link or copy it to a path without)"
        ));
    }
    Ok(value)
}

pub fn install(
    ctx: &Ctx,
    alias: &str,
    file: &Path,
    args: &[String],
    section: &str,
    force: bool,
) -> CliResult {
    let registry = ctx.registry()?;
    if let Some(existing) = registry.lookup(section, alias)?
        && !force
    {
        return Err(failed!(
            "{alias} is already registered in [{section}] as {existing:?}; use --force to replace it"
        ));
    }
    let mut value = entry_file(ctx, file)?;
    if !args.is_empty() {
        value = format!("{value} {}", args.join(" "));
    }
    let manager = ctx.manager();
    let instance = manager.open(&value, None)?;
    let dci = ConfigInfoBuf::new(Some(section), Some(alias))?;
    let answer = instance.install(0, Some(&dci))?;
    instance.close()?;
    match answer {
        DRVCNF_OK | DRVCNF_RESTART => {
            registry.set_entry(section, alias, &value)?;
            println!("installed [{section}] {alias} = {value}");
            if answer == DRVCNF_RESTART {
                println!(
                    "restart required: the driver says the installation takes effect after a restart (DRVCNF_RESTART)"
                );
            }
            Ok(())
        }
        DRVCNF_CANCEL => Err(failed!(
            "{alias}: the driver refused the installation (DRV_INSTALL answered 0, DRVCNF_CANCEL); nothing was registered"
        )),
        other => Err(failed!(
            "{alias}: DRV_INSTALL answered {other}, which is {}; nothing was registered",
            drvcnf(other)
        )),
    }
}

/// Removes an entry, telling the driver first (`DRV_REMOVE`) when it can be told.
///
/// A driver that cannot be opened (no file, not a library, no `DriverProc`,
/// `DRV_LOAD` or `DRV_OPEN` refused, a crash or hang while opening it in a child
/// process) has no one to tell: its entry is removed, and the output says why
/// `DRV_REMOVE` was not sent. `--force` is for a driver that opens and refuses
/// `DRV_REMOVE`: its entry is removed anyway.
pub fn remove(ctx: &Ctx, alias: &str, section: &str, force: bool) -> CliResult {
    let registry = probe::existing_registry(ctx)?;
    let Some(value) = registry.lookup(section, alias)? else {
        return Err(failed!("{alias}: no such alias in [{section}] of {}", registry.path().display()));
    };
    // The driver is opened in this process only once a child has opened and closed
    // it without crashing or hanging.
    let unreachable = probe::value_problem(&value)
        .or_else(|| probe::check_entry(ctx, section, alias, &value, true, PROBE_TIMEOUT).probe.problem);
    let answer = match unreachable {
        Some(why) => Err(why),
        None => match ctx.manager().open(alias, Some(section)) {
            Ok(instance) => {
                let answer = instance.remove()?;
                instance.close()?;
                Ok(answer)
            }
            Err(e) => Err(diagnose::explain_open_error(ctx, alias, Some(section), &e)),
        },
    };
    let mut note = String::new();
    match answer {
        Err(why) => note = format!(" (DRV_REMOVE was not sent: {why})"),
        Ok(DRVCNF_CANCEL) if !force => {
            return Err(failed!(
                "{alias}: the driver refused removal (DRV_REMOVE answered 0, DRVCNF_CANCEL); the entry was kept \
                 (use --force to remove it anyway)"
            ));
        }
        Ok(DRVCNF_CANCEL) => {
            println!("the driver refused removal (DRVCNF_CANCEL); removing the entry anyway (--force)")
        }
        Ok(DRVCNF_RESTART) => {
            println!("restart required: the driver says the removal takes effect after a restart")
        }
        Ok(_) => {}
    }
    registry.remove_entry(section, alias)?;
    println!("removed [{section}] {alias} = {}{note}", probe::shown(&value));
    Ok(())
}

pub fn configure(ctx: &Ctx, alias: &str, section: &str) -> CliResult {
    let manager = ctx.manager();
    let instance = manager.open(alias, Some(section))?;
    if !instance.query_configure()? {
        println!("{alias} has no configuration (DRV_QUERYCONFIGURE answered 0)");
        return Ok(instance.close()?);
    }
    let dci = ConfigInfoBuf::new(Some(section), Some(alias))?;
    let answer = instance.configure(0, Some(&dci))?;
    instance.close()?;
    match answer {
        DRVCNF_OK => println!("{alias}: configured (DRV_CONFIGURE answered 1, DRVCNF_OK)"),
        DRVCNF_RESTART => {
            println!("{alias}: configured; restart required (DRV_CONFIGURE answered 2, DRVCNF_RESTART)")
        }
        DRVCNF_CANCEL => {
            println!("{alias}: configuration cancelled (DRV_CONFIGURE answered 0, DRVCNF_CANCEL)")
        }
        other => println!("{alias}: DRV_CONFIGURE answered {other} ({})", drvcnf(other)),
    }
    Ok(())
}
