//! Probing a registry entry: is the file there, is it a loadable library of this
//! machine, does it export `DriverProc`, does it accept `DRV_LOAD`. Mapping a
//! library runs its code, so [`check_entries`] decides what it can from the files
//! and probes the rest in child processes (see [`crate::child`]), in batches;
//! `list` and `doctor` share it and its report.

mod batch;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use drvproc_host::{DriverManager, IniDocument, LoadError, OpenError, Registry};

pub use batch::serve_batch;

use crate::context::Ctx;
use crate::diagnose;
use crate::error::{CliResult, failed};

/// The longest alias or value taken as an entry. A longer one cannot be passed on a
/// command line (Linux limits one argument to 128 KiB), nor is it a file name.
pub const MAX_ENTRY_BYTES: usize = 128 * 1024;

/// What a probe found about one entry.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ProbeReport {
    /// The file part of the entry.
    pub file: String,
    /// Where it was found (`None`: not in the search path; the system loader may
    /// still find a bare name).
    pub path: Option<String>,
    /// "ELF 64-bit x86-64", "PE32+ x86-64 DLL", ...
    pub format: Option<String>,
    /// The library mapped.
    pub loadable: bool,
    /// It exports `DriverProc`.
    pub driver_proc: bool,
    /// With `probe-load`: `Some("ok")` or why opening it failed.
    pub load: Option<String>,
    /// The first problem, if any.
    pub problem: Option<String>,
    /// How to fix it.
    pub fix: Option<String>,
}

impl ProbeReport {
    fn fail(mut self, problem: String, fix: impl Into<String>) -> Self {
        self.problem = Some(problem);
        self.fix = Some(fix.into());
        self
    }
}

/// One entry of the registry and what probing it found: a line of `list` and of
/// `doctor`, and their JSON.
#[derive(Clone, Debug, Serialize)]
pub struct EntryReport {
    pub section: String,
    pub alias: String,
    pub value: String,
    #[serde(flatten)]
    pub probe: ProbeReport,
}

impl EntryReport {
    /// Whether a command line can name this entry's alias (for `remove`).
    pub fn alias_is_nameable(&self) -> bool {
        alias_problem(&self.alias).is_none()
    }

    /// The entry as `list --json` shows it: `list` never opens a driver, so it has
    /// no `load` (docs/json.md).
    pub fn listed(&self) -> ListedEntry<'_> {
        let p = &self.probe;
        ListedEntry {
            section: &self.section,
            alias: &self.alias,
            value: &self.value,
            file: &p.file,
            path: p.path.as_deref(),
            format: p.format.as_deref(),
            loadable: p.loadable,
            driver_proc: p.driver_proc,
            problem: p.problem.as_deref(),
            fix: p.fix.as_deref(),
        }
    }
}

/// An entry of `list --json`: an [`EntryReport`] without `load`.
#[derive(Serialize)]
pub struct ListedEntry<'a> {
    section: &'a str,
    alias: &'a str,
    value: &'a str,
    file: &'a str,
    path: Option<&'a str>,
    format: Option<&'a str>,
    loadable: bool,
    driver_proc: bool,
    problem: Option<&'a str>,
    fix: Option<&'a str>,
}

/// A line of the registry file that reading skipped.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Warning {
    /// The line, from 1.
    pub line: usize,
    /// Why it was skipped.
    pub message: String,
}

/// The lines of `doc` that reading skipped, as Windows skips them (`doctor`
/// reports them, `list` notes them), so every command reports them alike.
pub fn registry_warnings(doc: &IniDocument) -> Vec<Warning> {
    doc.warnings()
        .iter()
        .map(|w| Warning { line: w.line, message: format!("{}: {:?}", w.reason, w.text) })
        .collect()
}

/// Probes the entry `alias` of `section`; with `load`, also opens and closes it.
///
/// The file is located as `open` of the alias locates it (a relative path is
/// relative to the registry file, a bare name is searched for), diagnosed from its
/// headers ([`diagnose::file`]), and mapped by [`drvproc_host::probe_library`], the
/// manager's own loader, so an entry is called loadable exactly when `open` would
/// map it.
pub fn probe(ctx: &Ctx, section: &str, alias: &str, load: bool) -> ProbeReport {
    let manager = ctx.manager();
    match read_registry(&manager) {
        Ok(doc) => probe_entry(ctx, &manager, &doc, section, alias, load),
        Err(report) => *report,
    }
}

/// The document of the manager's registry, or the report every entry gets when
/// there is none.
fn read_registry(manager: &DriverManager) -> Result<Arc<IniDocument>, Box<ProbeReport>> {
    let Some(registry) = manager.registry() else {
        return Err(Box::new(
            ProbeReport::default()
                .fail("no registry file".into(), "pass --config PATH or set DRVPROC_CONFIG"),
        ));
    };
    registry.read().map_err(|e| Box::new(ProbeReport::default().fail(e.to_string(), "fix the registry file")))
}

/// [`probe`] of one entry of `doc` (the manager's registry, read once for a batch).
fn probe_entry(
    ctx: &Ctx,
    manager: &DriverManager,
    doc: &IniDocument,
    section: &str,
    alias: &str,
    load: bool,
) -> ProbeReport {
    let Some(value) = doc.get(section, alias) else {
        let path = manager.registry().map_or(String::new(), |r| r.path().display().to_string());
        return ProbeReport::default().fail(
            format!("no alias {alias} in [{section}] of {path}"),
            "list the entries with drvctl list --all",
        );
    };
    if let Some(problem) = value_problem(value) {
        return ProbeReport::default().fail(problem, "fix the entry");
    }
    let (report, target) = match inspect(manager, value) {
        Inspection::Known(report) => return report,
        Inspection::Unknown { report, target } => (report, target),
    };
    map_and_open(ctx, manager, report, &target, section, alias, load)
}

/// What is known about an entry before any of its code runs.
enum Inspection {
    /// The entry's report is complete: the file is missing, not a library, for
    /// another machine, or without a `DriverProc` export.
    Known(ProbeReport),
    /// Only mapping `target` (in a child) can tell the rest.
    Unknown { report: ProbeReport, target: PathBuf },
}

/// Locates and diagnoses the file of `value` (which [`value_problem`] accepted)
/// from the file system and its headers, without loading it.
fn inspect(manager: &DriverManager, value: &str) -> Inspection {
    let (file, _args) = drvproc_host::split_entry(value);
    let mut report = ProbeReport { file: file.to_string(), ..Default::default() };
    let path = manager.registry().and_then(|r| r.entry_path(file)).or_else(|| manager.locate_file(file));
    if let Some(p) = &path {
        report.path = Some(p.display().to_string());
        let diagnosis = diagnose::file(p);
        report.format = diagnosis.format;
        report.driver_proc = diagnosis.driver_proc == Some(true);
        if let Some(problem) = diagnosis.problem {
            return Inspection::Known(report.fail(problem, diagnosis.fix.unwrap_or("fix the entry")));
        }
    }
    Inspection::Unknown { report, target: path.unwrap_or_else(|| PathBuf::from(file)) }
}

/// The part of a probe that runs the driver's code: maps `target` and, with `load`,
/// opens and closes the alias.
fn map_and_open(
    ctx: &Ctx,
    manager: &DriverManager,
    mut report: ProbeReport,
    target: &Path,
    section: &str,
    alias: &str,
    load: bool,
) -> ProbeReport {
    let file = report.file.clone();
    let shown = target.display().to_string();
    match drvproc_host::probe_library(target) {
        Ok(()) => {
            report.loadable = true;
            report.driver_proc = true;
        }
        Err(LoadError::NoDriverProc) => {
            report.loadable = true;
            report.driver_proc = false;
            return report.fail(diagnose::no_driver_proc(&shown), diagnose::FIX_NO_DRIVER_PROC);
        }
        Err(LoadError::NotFound { loader_said }) => {
            let said = loader_said.map_or(String::new(), |m| format!(": {m}"));
            return report.fail(
                format!("{file}: not found {}{said}", manager.search_description()),
                format!("put {file} in a directory of DRVPROC_PATH or beside the registry file"),
            );
        }
        Err(LoadError::NotLoadable { message }) => {
            return report.fail(
                format!("{shown}: cannot load: {}", diagnose::loader_words(&shown, &message)),
                diagnose::fix_dependencies(&shown),
            );
        }
    }
    if load {
        match manager.open(alias, Some(section)) {
            Ok(instance) => {
                drop(instance);
                report.load = Some("ok".into());
            }
            Err(e) => {
                let fix = match e {
                    OpenError::LoadRefused { .. } => "see the driver's documentation for what it needs",
                    OpenError::OpenRefused { .. } => {
                        "the driver refuses plain opens (lParam2 = 0); drvctl check shows which rules it breaks"
                    }
                    _ => "drvctl check on the driver shows what fails",
                };
                let problem = diagnose::explain_open_error(ctx, alias, Some(section), &e);
                report.load = Some(problem.clone());
                return report.fail(problem, fix);
            }
        }
    }
    report
}

/// Why an alias cannot be named on a command line, if it cannot.
fn alias_problem(alias: &str) -> Option<String> {
    if alias.contains('\0') {
        Some("the alias contains a NUL byte".into())
    } else if alias.len() > MAX_ENTRY_BYTES {
        Some(format!("the alias is {} bytes long (more than 128 KiB)", alias.len()))
    } else {
        None
    }
}

/// Why a value cannot be a driver entry, if it cannot: no file name holds a NUL
/// byte, and none with its arguments is longer than [`MAX_ENTRY_BYTES`].
pub fn value_problem(value: &str) -> Option<String> {
    if value.contains('\0') {
        Some("the value contains a NUL byte, which no file name can".into())
    } else if value.len() > MAX_ENTRY_BYTES {
        Some(format!(
            "the value is {} bytes long (more than 128 KiB), which no file name and arguments are",
            value.len()
        ))
    } else {
        None
    }
}

/// Probes `entries` (alias, value) of `section`, in file order; with `load`, each
/// is also opened and closed.
///
/// What the file system and the headers tell (an unnameable alias, an impossible
/// value, a missing file, a directory, not a library, another machine's library, no
/// `DriverProc`) is decided here, without a child. Only the rest runs code, in
/// batches, each in one child process ([`batch`]); a crash or hang becomes the
/// problem of the entry the child was probing, and a child that cannot be started
/// is the problem of its entries, not the end of the listing. `timeout` is per
/// entry. `progress` hears how many entries are decided, before each child.
pub fn check_entries(
    ctx: &Ctx,
    section: &str,
    entries: &[(&str, &str)],
    load: bool,
    timeout: Duration,
    progress: &mut dyn FnMut(usize),
) -> Vec<EntryReport> {
    let manager = ctx.manager();
    let mut reports: Vec<Option<ProbeReport>> = Vec::with_capacity(entries.len());
    let mut unknown = Vec::new();
    for (i, &(alias, value)) in entries.iter().enumerate() {
        let report = if let Some(problem) = alias_problem(alias) {
            let config = ctx.config.clone().unwrap_or_default();
            let line =
                ctx.registry().ok().and_then(|r| r.read().ok()).and_then(|d| d.line_of(section, alias));
            let place = line.map_or("the entry".into(), |n| format!("line {n}"));
            Some(failed_entry(
                value,
                problem,
                format!("delete {place} of {} with a text editor", config.display()),
            ))
        } else if let Some(problem) = value_problem(value) {
            Some(failed_entry(value, problem, "fix the entry".into()))
        } else {
            match inspect(&manager, value) {
                Inspection::Known(report) => Some(report),
                Inspection::Unknown { .. } => {
                    unknown.push(i);
                    None
                }
            }
        };
        reports.push(report);
    }
    batch::probe_in_children(ctx, section, entries, &unknown, load, timeout, &mut reports, progress);
    entries
        .iter()
        .zip(reports)
        .map(|(&(alias, value), probe)| EntryReport {
            section: section.into(),
            alias: alias.into(),
            value: value.into(),
            // Every unknown entry gets a report from its batch.
            probe: probe.unwrap_or_else(|| failed_entry(value, "not probed".into(), "try again".into())),
        })
        .collect()
}

/// The report of an entry whose probe failed before anything about its file was
/// known.
fn failed_entry(value: &str, problem: String, fix: String) -> ProbeReport {
    ProbeReport {
        file: drvproc_host::split_entry(value).0.to_string(),
        problem: Some(problem),
        fix: Some(fix),
        ..Default::default()
    }
}

/// The registry file, which must exist: reading a missing file as empty would
/// make a mistyped `--config` look like an empty registry.
pub fn existing_registry(ctx: &Ctx) -> CliResult<Registry> {
    let registry = ctx.registry()?;
    let path = registry.path();
    match registry.exists() {
        Ok(true) => Ok(registry),
        Ok(false) => {
            // The path is absolute already (see `Ctx::new`).
            let shown = path.display();
            let origin = origin_of(path);
            let dir = path.parent().filter(|d| !d.as_os_str().is_empty() && !d.exists());
            match dir {
                // install would refuse to create a directory it was not told to: say so.
                Some(dir) if origin != DEFAULT_LOCATION => Err(failed!(
                    "the registry file {shown} does not exist, nor does its directory {} ({origin}); check the path",
                    dir.display()
                )),
                _ => Err(failed!(
                    "the registry file {shown} does not exist ({origin}); install a driver to create it"
                )),
            }
        }
        // "<path>: <what the system said>".
        Err(e) => Err(failed!("the registry file {e}")),
    }
}

/// Whether `path` is the default registry location (not named by `--config` or
/// `DRVPROC_CONFIG`): only there may a first install create missing directories.
pub fn is_default_location(path: &Path) -> bool {
    origin_of(path) == DEFAULT_LOCATION
}

/// Where the registry path came from, in words.
fn origin_of(path: &Path) -> &'static str {
    // drvctl makes the registry path absolute; the variables may hold relative ones.
    let absolute = |p: PathBuf| std::path::absolute(&p).unwrap_or(p);
    let path = absolute(path.to_path_buf());
    let env = std::env::var_os("DRVPROC_CONFIG").filter(|v| !v.is_empty()).map(PathBuf::from);
    if env.map(absolute).as_deref() == Some(&path) {
        "named by DRVPROC_CONFIG"
    } else if Registry::default_path().map(absolute).as_deref() == Some(&path) {
        DEFAULT_LOCATION
    } else {
        "named by --config"
    }
}

const DEFAULT_LOCATION: &str = "the default location";

/// An alias or value as shown in a line of text: quoted with escapes when it holds
/// control characters, and cut short when it is long.
pub fn shown(text: &str) -> String {
    const LONG: usize = 200;
    const KEEP: usize = 64;
    let escaped = |t: &str| {
        if t.chars().any(char::is_control) { format!("{t:?}") } else { t.to_string() }
    };
    if text.len() <= LONG {
        return escaped(text);
    }
    let mut cut = KEEP;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}... ({} bytes)", escaped(&text[..cut]), text.len())
}

/// "1 entry", "2 entries".
pub fn entries(n: usize) -> String {
    format!("{n} {}", if n == 1 { "entry" } else { "entries" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_shown_escaped_and_short() {
        assert_eq!(shown("x.so a"), "x.so a");
        assert_eq!(shown("a\0b"), "\"a\\0b\"");
        let long = "é".repeat(300);
        assert_eq!(shown(&long), format!("{}... (600 bytes)", "é".repeat(32)));
        assert_eq!(
            (entries(1), entries(0), entries(2)),
            ("1 entry".into(), "0 entries".into(), "2 entries".into())
        );
    }
}
