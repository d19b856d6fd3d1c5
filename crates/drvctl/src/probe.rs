//! Probing a registry entry: is the file there, is it a loadable library of this
//! machine, does it export `DriverProc`, does it accept `DRV_LOAD`. Runs in a child
//! (see [`crate::child`]): mapping a library runs its code.

use std::path::Path;

use serde::{Deserialize, Serialize};

use drvproc_host::LoadError;

use crate::context::Ctx;
use crate::filekind::{self, FileKind};

/// What a probe found about one entry.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ProbeReport {
    /// The file part of the entry.
    pub file: String,
    /// Where it was found (`None`: not in the search path; the system loader may
    /// still find a bare name).
    pub path: Option<String>,
    /// "ELF x86-64 64-bit", "Windows PE", ...
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

/// Probes the entry `alias` of `section`; with `load`, also opens and closes it.
///
/// The file is located as `open` of the alias locates it (a relative path is
/// relative to the registry file, a bare name is searched for) and mapped by
/// [`drvproc_host::probe_library`], the manager's own loader, so an entry is called
/// loadable exactly when `open` would map it.
pub fn probe(ctx: &Ctx, section: &str, alias: &str, load: bool) -> ProbeReport {
    let manager = ctx.manager();
    let Some(registry) = manager.registry() else {
        return ProbeReport::default()
            .fail("no registry file".into(), "pass --config PATH or set DRVPROC_CONFIG");
    };
    let value = match registry.lookup(section, alias) {
        Ok(Some(value)) => value,
        Ok(None) => {
            return ProbeReport::default().fail(
                format!("no alias {alias} in [{section}] of {}", registry.path().display()),
                "list the entries with `drvctl list --all`",
            );
        }
        Err(e) => return ProbeReport::default().fail(e.to_string(), "fix the registry file"),
    };
    let (file, _args) = drvproc_host::split_entry(&value);
    let mut report = ProbeReport { file: file.to_string(), ..Default::default() };
    let path = registry.entry_path(file).or_else(|| manager.locate_file(file));
    let mut regular = true;
    if let Some(p) = &path {
        report.path = Some(p.display().to_string());
        match std::fs::metadata(p) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return report.fail(
                    format!("{} does not exist", p.display()),
                    "install the driver file there, or fix or remove the entry",
                );
            }
            Err(e) => return report.fail(format!("{}: {e}", p.display()), "check the file's permissions"),
            // Not a file to read the header of; the loader says what it is.
            Ok(meta) if !meta.is_file() => regular = false,
            Ok(_) => {
                if let Some((problem, fix)) = check_header(&mut report, p) {
                    return report.fail(problem, fix);
                }
            }
        }
    }
    let target = path.as_deref().unwrap_or(Path::new(file));
    match drvproc_host::probe_library(target) {
        Ok(()) => {
            report.loadable = true;
            report.driver_proc = true;
        }
        Err(LoadError::NoDriverProc) => {
            report.loadable = true;
            return report.fail(
                "no DriverProc export: not an installable driver".into(),
                "register the driver's own library, not a helper library",
            );
        }
        Err(LoadError::NotFound { loader_said }) => {
            let said = loader_said.map_or(String::new(), |m| format!(": {m}"));
            return report.fail(
                format!("{file}: not found {}{said}", manager.search_description()),
                format!("put {file} in a directory of DRVPROC_PATH or beside the registry file"),
            );
        }
        Err(e @ LoadError::NotLoadable { .. }) if !regular => {
            return report
                .fail(e.to_string(), "replace it with the driver library, or fix or remove the entry");
        }
        Err(e @ LoadError::NotLoadable { .. }) => {
            return report
                .fail(e.to_string(), format!("check the library's dependencies (ldd {})", target.display()));
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
                    drvproc_host::OpenError::LoadRefused { .. } => {
                        "see the driver's documentation for what it needs"
                    }
                    drvproc_host::OpenError::OpenRefused { .. } => {
                        "the driver refuses plain opens (lParam2 = 0); `drvctl check` shows which rules it breaks"
                    }
                    _ => "run `drvctl check` on the driver",
                };
                report.load = Some(e.to_string());
                return report.fail(e.to_string(), fix);
            }
        }
    }
    report
}

/// Reads the first bytes of the regular file `p` and notes its format: the problem
/// and its fix when it is a Windows DLL, a library for another architecture or not a
/// library at all.
fn check_header(report: &mut ProbeReport, p: &Path) -> Option<(String, &'static str)> {
    match filekind::inspect(p) {
        Ok(FileKind::Pe) => {
            report.format = Some("Windows PE".into());
            let host = filekind::host_machine().map_or("native".into(), filekind::machine_name);
            Some((
                format!(
                    "{} is a Windows DLL (PE image); this machine loads ELF {host} libraries",
                    p.display()
                ),
                "install a native build of the driver, or run it under Wine",
            ))
        }
        Ok(FileKind::Elf { machine, bits }) => {
            report.format = Some(format!("ELF {} {bits}-bit", filekind::machine_name(machine)));
            let host = filekind::host_machine().filter(|&host| host != machine)?;
            Some((
                format!(
                    "{} is built for {}; this machine needs {}",
                    p.display(),
                    filekind::machine_name(machine),
                    filekind::machine_name(host)
                ),
                "install the build of the driver for this machine's architecture",
            ))
        }
        Ok(FileKind::Other) => {
            report.format = Some("not a library".into());
            Some((format!("{} is not a shared library", p.display()), "fix or remove the entry"))
        }
        Err(e) => Some((format!("{}: {e}", p.display()), "check the file's permissions")),
    }
}
