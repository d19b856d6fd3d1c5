//! `isolate`: marks an alias so that every program opening it through the driver
//! manager (C clients through `OpenDriver` included, unchanged) hosts the driver in
//! a process of its own, or in a host group's process, where a crash or a hang
//! fails the call instead of the program.
//!
//! The marker is a line `ALIAS=1` (or `ALIAS=group:NAME`) of the registry file's
//! own section `[drvproc.isolate]` ([`drvproc_host::ISOLATE_SECTION`]), written
//! through the same locked, atomic edit as `install`; Windows and Wine ignore the
//! section. It takes effect at the driver's next load: a module loaded already
//! stays as it is, and so does a driver file a program hosts already.

use drvproc_host::{ISOLATE_SECTION, Isolation};

use crate::context::Ctx;
use crate::error::{CliError, CliResult, failed};
use crate::output;
use crate::probe;

/// `drvctl isolate ALIAS on|off [--group NAME] [--section S]`. Turning the marker
/// on needs ALIAS registered in SECTION; turning it off also works for an alias
/// removed since (whose marker was left behind). `group` goes with on only: off
/// removes the marker, whatever group it named.
pub fn isolate(ctx: &Ctx, alias: &str, on: bool, group: Option<&str>, section: &str) -> CliResult {
    let wanted = match (on, group) {
        (true, Some(name)) => Isolation::Group(name.to_string()),
        (true, None) => Isolation::Own,
        (false, None) => Isolation::Off,
        (false, Some(_)) => {
            return Err(CliError::Usage(
                "--group goes with on (off removes the marker, with its group)".to_string(),
            ));
        }
    };
    let registry = probe::existing_registry(ctx)?;
    let registered = registry.lookup(section, alias)?.is_some();
    let marked = registry.is_isolated(alias)?;
    if !registered && (on || !marked) {
        return Err(failed!(
            "{alias}: no such alias in [{section}] of {}; nothing was changed",
            registry.describe(section)
        ));
    }
    let before = registry.set_isolation(alias, &wanted)?;
    let path = registry.path().display();
    if before == wanted {
        match &wanted {
            Isolation::Off => println!("{alias}: was not isolated"),
            Isolation::Own => println!("{alias}: already isolated"),
            Isolation::Group(name) => println!("{alias}: already isolated in host group {name}"),
        }
        return Ok(());
    }
    match &wanted {
        Isolation::Off => {
            output::note(&format!("{alias} removed from [{ISOLATE_SECTION}] of {path}"));
            println!("{alias}: no longer isolated: it runs in the program's process from its next load");
        }
        Isolation::Own => {
            output::note(&format!("[{ISOLATE_SECTION}] {alias}=1 written to {path}"));
            println!("{alias}: isolated: it runs in a host process of its own from its next load");
        }
        Isolation::Group(name) => {
            output::note(&format!("[{ISOLATE_SECTION}] {alias}=group:{name} written to {path}"));
            println!(
                "{alias}: isolated in host group {name}: it runs in that group's host process from its next load"
            );
        }
    }
    Ok(())
}
