//! `install`, `remove` and `configure`: a change to the registry and the driver's
//! consent to it (spec §11), done so that neither happens without the other.
//!
//! The order is what makes that hold. Everything that can be checked without the
//! driver is checked first: the alias, section and value are validated, the
//! registry file is locked (so a concurrent `install` of the same alias waits, and
//! the "already registered" check cannot go stale) and proven writable. Only then is
//! the driver asked, in a child process (see [`conversation`]), so that a driver that
//! crashes, exits or hangs in `DRV_INSTALL` is reported as such. Should the write
//! still fail after the driver agreed, the driver is told the opposite
//! (`DRV_REMOVE` after an install, `DRV_INSTALL` after a removal) and the output says
//! so.
//!
//! The lock is held while the driver runs. A driver that edits this same registry
//! file from `DRV_INSTALL` would wait for it until its time runs out; drivers keep
//! their own settings elsewhere, so this costs nothing in practice.
//!
//! On Windows with no `--config` (nor `$DRVPROC_CONFIG`) the entry is a value of the
//! registry key `HKLM\...\CurrentVersion\<section>`, as Windows installers record
//! drivers. The registry has no lock to hold: the checks are made before the driver
//! is asked and the value is written after, so of two installs of one alias at
//! once the later write wins. An entry found only in `system.ini` is removed from
//! the file.

use std::path::Path;

use drvproc::consts::{DRVCNF_CANCEL, DRVCNF_OK, DRVCNF_RESTART};
use drvproc_host::{EditOptions, Registry, RegistryEdit, SystemKey};

use crate::child::{Death, End, Outcome};
use crate::commands::drvcnf;
use crate::context::Ctx;
use crate::conversation::{self, Answer, Talk};
use crate::diagnose;
use crate::error::{CliResult, failed};
use crate::output;
use crate::probe;

/// The value to record for FILE: paths become absolute (the registry is read from
/// other directories); a bare name found in the search path stays bare.
fn entry_file(ctx: &Ctx, file: &Path) -> CliResult<String> {
    let text = file.to_str().ok_or_else(|| failed!("{}: not valid UTF-8", file.display()))?;
    let absolute = |p: &Path| -> CliResult<String> {
        match absolute_path(p) {
            Ok(canonical) => Ok(canonical.to_string_lossy().into_owned()),
            Err(e) => Err(failed!(
                "{}",
                diagnose::file(p).problem.unwrap_or_else(|| format!("{}: {e}", p.display()))
            )),
        }
    };
    let value = if drvproc_host::is_path(text) {
        absolute(file)?
    } else {
        let manager = ctx.manager();
        if manager.locate_file(text).is_some() {
            text.to_string()
        } else if file.is_file() {
            absolute(file)?
        } else {
            return Err(failed!("{text}: not found {}", manager.search_description()));
        }
    };
    if value.contains(' ') {
        return Err(failed!(
            "{value}: the registry splits \"file args\" at the first space, so a driver path cannot contain spaces \
             (link or copy it to a path without)"
        ));
    }
    Ok(value)
}

/// `p` made absolute, for a file that exists. On Unix with its links resolved; on
/// Windows without (`canonicalize` gives `\\?\C:\...` names there, which some
/// programs reading the registry do not take).
fn absolute_path(p: &Path) -> std::io::Result<std::path::PathBuf> {
    if cfg!(windows) { p.metadata().and_then(|_| std::path::absolute(p)) } else { p.canonicalize() }
}

/// A change of the registry being prepared: an edit of the registry file (locked),
/// or of one value of Windows' registry key.
enum Change {
    File(RegistryEdit),
    Key { key: SystemKey, pending: Option<(String, String, Option<String>)> },
}

impl Change {
    /// Prepares an install (`create`: the file may be created) or a removal of
    /// `alias` in `section`.
    fn begin(ctx: &Ctx, create: bool, section: &str, alias: &str) -> CliResult<Change> {
        let registry = if create { ctx.registry()? } else { probe::existing_registry(ctx)? };
        if let Some(key) = registry.system_key() {
            // A removal takes the entry from where lookups find it: the key, else
            // the file.
            if create || key.get(section, alias)?.is_some() {
                return Ok(Change::Key { key: *key, pending: None });
            }
        }
        let create_dirs = create && probe::is_default_location(registry.path());
        Ok(Change::File(registry.edit(EditOptions { create, create_dirs })?))
    }

    /// The value `alias` has now: for the key, as lookups find it (the key, else
    /// `system.ini`, which the new value would hide).
    fn current(&self, ctx: &Ctx, section: &str, alias: &str) -> CliResult<Option<String>> {
        match self {
            Change::File(edit) => Ok(edit.document().get(section, alias).map(str::to_string)),
            Change::Key { .. } => Ok(ctx.registry()?.lookup(section, alias)?),
        }
    }

    fn insert(&mut self, section: &str, alias: &str, value: &str) -> CliResult<()> {
        match self {
            Change::File(edit) => {
                edit.insert(section, alias, value, true)?;
            }
            Change::Key { pending, .. } => {
                *pending = Some((section.into(), alias.into(), Some(value.into())))
            }
        }
        Ok(())
    }

    fn remove(&mut self, section: &str, alias: &str) {
        match self {
            Change::File(edit) => {
                edit.remove(section, alias);
                // Its isolation marker goes with the alias's last entry, so that a
                // later alias of the same name starts unmarked.
                let doc = edit.document();
                let registered = doc
                    .sections()
                    .into_iter()
                    .filter(|s| !s.eq_ignore_ascii_case(drvproc_host::ISOLATE_SECTION))
                    .any(|s| doc.get(s, alias).is_some());
                if !registered {
                    let _ = edit.set_isolated(alias, false);
                }
            }
            Change::Key { pending, .. } => *pending = Some((section.into(), alias.into(), None)),
        }
    }

    /// Where the entry is written, for the last line of output: empty for the
    /// file (named by the user), the key's path otherwise.
    fn place(&self, section: &str, preposition: &str) -> String {
        match self {
            Change::File(_) => String::new(),
            Change::Key { key, .. } => format!(" {preposition} {}", key.key_path(section)),
        }
    }

    /// Writes the change; says once that the registry file was created.
    fn commit(self) -> CliResult<()> {
        match self {
            Change::File(edit) => {
                let done = edit.commit()?;
                if done.created {
                    output::note(&format!("created the registry file {}", done.path.display()));
                }
            }
            Change::Key { key, pending: Some((section, alias, Some(value))) } => {
                key.set(&section, &alias, &value)?;
            }
            Change::Key { key, pending: Some((section, alias, None)) } => {
                key.remove(&section, &alias)?;
            }
            Change::Key { pending: None, .. } => {}
        }
        Ok(())
    }
}

/// What a conversation came to, as the driver's answer or the sentence saying why
/// there is none.
fn answer_of(outcome: Outcome<Answer>, message: &str) -> Result<isize, String> {
    match outcome {
        Outcome::Reported(Answer::Answered(answer)) => Ok(answer),
        Outcome::Reported(Answer::AnsweredThenFailed(answer, e)) => {
            output::note(&format!("the driver answered {message}, then closing it failed: {e}"));
            Ok(answer)
        }
        Outcome::Reported(Answer::CannotOpen(why)) => Err(why),
        Outcome::Reported(Answer::NotConfigurable) => Err(format!("the driver did not take {message}")),
        Outcome::Died(death) => Err(died(&death)),
        Outcome::TimedOut(after, during) => Err(format!(
            "the driver did not answer within {} s{} (hang); it was stopped",
            after.as_secs(),
            during.map_or(String::new(), |d| format!(" during {d}"))
        )),
    }
}

/// "the driver exited (status 0) during DRV_INSTALL", "the driver crashed: killed by
/// signal 6 (SIGABRT) during DRV_REMOVE".
fn died(death: &Death) -> String {
    match death.end {
        End::Signal(_) | End::Exception(_) => format!("the driver crashed: {death}"),
        _ => format!("the driver {death}"),
    }
}

pub fn install(
    ctx: &Ctx,
    alias: &str,
    file: &Path,
    args: &[String],
    section: &str,
    force: bool,
    timeout: u64,
) -> CliResult {
    let timeout = crate::commands::timeout(timeout, "the driver may take")?;
    let mut value = entry_file(ctx, file)?;
    if !args.is_empty() {
        value = format!("{value} {}", args.join(" "));
    }
    Registry::validate_entry(section, alias, &value)?;
    let mut edit = Change::begin(ctx, true, section, alias)?;
    if !force && let Some(existing) = edit.current(ctx, section, alias)? {
        // The value as it is written: a Windows path's backslashes are not escapes.
        return Err(failed!(
            "{alias} is already registered in [{section}] as \"{existing}\"; use --force to replace it"
        ));
    }
    let talk = Talk::Install { value: value.clone(), section: section.into(), alias: alias.into() };
    let answer = answer_of(conversation::converse(ctx, &talk, timeout)?, "DRV_INSTALL")
        .map_err(|why| failed!("{alias}: {why}; nothing was registered"))?;
    match answer {
        DRVCNF_OK | DRVCNF_RESTART => {}
        DRVCNF_CANCEL => {
            return Err(failed!(
                "{alias}: the driver refused the installation (DRV_INSTALL answered 0, DRVCNF_CANCEL); \
                 nothing was registered"
            ));
        }
        other => {
            return Err(failed!(
                "{alias}: DRV_INSTALL answered {other}, which is {}; nothing was registered",
                drvcnf(other)
            ));
        }
    }
    edit.insert(section, alias, &value)?;
    let place = edit.place(section, "in");
    if let Err(e) = edit.commit() {
        // The driver agreed to an installation that did not happen: take it back.
        let undo = Talk::Remove { alias: alias.into(), section: section.into(), value: Some(value) };
        let undone = match answer_of(conversation::converse(ctx, &undo, timeout)?, "DRV_REMOVE") {
            Ok(answer) => format!("DRV_REMOVE was sent to undo DRV_INSTALL (it answered {answer})"),
            Err(why) => format!("DRV_REMOVE could not undo DRV_INSTALL: {why}"),
        };
        return Err(failed!("{alias}: the driver agreed, but the registry was not written: {e}; {undone}"));
    }
    println!("installed [{section}] {alias} = {value}{place}");
    if answer == DRVCNF_RESTART {
        println!(
            "restart required: the driver says the installation takes effect after a restart (DRVCNF_RESTART)"
        );
    }
    Ok(())
}

/// Removes an entry, telling the driver first (`DRV_REMOVE`) when it can be told.
///
/// A driver that cannot be opened (no file, not a library, no `DriverProc`,
/// `DRV_LOAD` or `DRV_OPEN` refused, a crash or hang while opening it) has no one to
/// tell: its entry is removed, and the output says why `DRV_REMOVE` was not sent.
/// `--force` is for a driver that opens and then refuses `DRV_REMOVE`, or crashes or
/// hangs in it: its entry is removed anyway.
pub fn remove(ctx: &Ctx, alias: &str, section: &str, force: bool, timeout: u64) -> CliResult {
    let timeout = crate::commands::timeout(timeout, "the driver may take")?;
    let mut edit = Change::begin(ctx, false, section, alias)?;
    let Some(value) = edit.current(ctx, section, alias)? else {
        return Err(failed!("{alias}: no such alias in [{section}] of {}", ctx.describe(section)?));
    };
    let answer = match probe::value_problem(&value) {
        Some(why) => Err(Untold::Unreachable(why)),
        None => {
            let talk = Talk::Remove { alias: alias.into(), section: section.into(), value: None };
            match conversation::converse(ctx, &talk, timeout)? {
                Outcome::Reported(Answer::CannotOpen(why)) => Err(Untold::Unreachable(why)),
                Outcome::Died(death) if death.during.as_deref() == Some(conversation::OPENING) => {
                    Err(Untold::Unreachable(died(&death)))
                }
                Outcome::TimedOut(after, during) if during.as_deref() == Some(conversation::OPENING) => {
                    Err(Untold::Unreachable(format!(
                        "the driver did not finish opening within {} s (hang)",
                        after.as_secs()
                    )))
                }
                other => answer_of(other, "DRV_REMOVE").map_err(Untold::Failed),
            }
        }
    };
    let told = matches!(answer, Ok(a) if a != DRVCNF_CANCEL);
    let mut said = String::new();
    match answer {
        Err(Untold::Unreachable(why)) => said = format!(" (DRV_REMOVE was not sent: {why})"),
        Err(Untold::Failed(why)) if !force => {
            return Err(failed!("{alias}: {why}; the entry was kept (use --force to remove it anyway)"));
        }
        Err(Untold::Failed(why)) => said = format!(" ({why}; removed anyway, --force)"),
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
    edit.remove(section, alias);
    let place = edit.place(section, "from");
    if let Err(e) = edit.commit() {
        let mut undone = String::new();
        if told {
            // The driver agreed to a removal that did not happen: take it back.
            let undo = Talk::Install { value, section: section.into(), alias: alias.into() };
            undone = match answer_of(conversation::converse(ctx, &undo, timeout)?, "DRV_INSTALL") {
                Ok(answer) => format!("; DRV_INSTALL was sent to undo DRV_REMOVE (it answered {answer})"),
                Err(why) => format!("; DRV_INSTALL could not undo DRV_REMOVE: {why}"),
            };
        }
        return Err(failed!("{alias}: the entry was not removed: {e}{undone}"));
    }
    println!("removed [{section}] {alias} = {}{place}{said}", probe::shown(&value));
    Ok(())
}

/// Why `DRV_REMOVE` got no answer.
enum Untold {
    /// The driver could not be opened: there is no one to tell.
    Unreachable(String),
    /// It was opened and then crashed, exited or hung.
    Failed(String),
}

pub fn configure(ctx: &Ctx, alias: &str, section: &str, timeout: u64) -> CliResult {
    let timeout = crate::commands::timeout(timeout, "the driver may take")?;
    let talk = Talk::Configure { alias: alias.into(), section: section.into() };
    let answer = match conversation::converse(ctx, &talk, timeout)? {
        Outcome::Reported(Answer::NotConfigurable) => {
            println!("{alias} has no configuration (DRV_QUERYCONFIGURE answered 0)");
            return Ok(());
        }
        // The manager's words already name the alias.
        Outcome::Reported(Answer::CannotOpen(why)) => return Err(failed!("{why}")),
        other => answer_of(other, "DRV_CONFIGURE").map_err(|why| failed!("{alias}: {why}"))?,
    };
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
