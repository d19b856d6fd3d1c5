//! `isolate`: marks an alias so that every program opening it through the driver
//! manager (C clients through `OpenDriver` included, unchanged) hosts the driver in
//! a process of its own, where a crash or a hang fails the call instead of the
//! program.
//!
//! The marker is a line `ALIAS=1` of the registry file's own section
//! `[drvproc.isolate]` ([`drvproc_host::ISOLATE_SECTION`]), written through the same
//! locked, atomic edit as `install`; Windows and Wine ignore the section. It takes
//! effect at the driver's next load: a module loaded already stays as it is.

use drvproc_host::ISOLATE_SECTION;

use crate::context::Ctx;
use crate::error::{CliResult, failed};
use crate::output;
use crate::probe;

/// `drvctl isolate ALIAS on|off [--section S]`. Turning the marker on needs ALIAS
/// registered in SECTION; turning it off also works for an alias removed since
/// (whose marker was left behind).
pub fn isolate(ctx: &Ctx, alias: &str, on: bool, section: &str) -> CliResult {
    let registry = probe::existing_registry(ctx)?;
    let registered = registry.lookup(section, alias)?.is_some();
    let marked = registry.is_isolated(alias)?;
    if !registered && (on || !marked) {
        return Err(failed!(
            "{alias}: no such alias in [{section}] of {}; nothing was changed",
            registry.describe(section)
        ));
    }
    let before = registry.set_isolated(alias, on)?;
    let path = registry.path().display();
    match (on, before) {
        (true, false) => {
            output::note(&format!("[{ISOLATE_SECTION}] {alias}=1 written to {path}"));
            println!("{alias}: isolated: it runs in a host process of its own from its next load");
        }
        (true, true) => println!("{alias}: already isolated"),
        (false, true) => {
            output::note(&format!("{alias} removed from [{ISOLATE_SECTION}] of {path}"));
            println!("{alias}: no longer isolated: it runs in the program's process from its next load");
        }
        (false, false) => println!("{alias}: was not isolated"),
    }
    Ok(())
}
