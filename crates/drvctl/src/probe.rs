//! Probing a registry entry: is the file there, is it a loadable library of this
//! machine, does it export `DriverProc`, does it accept `DRV_LOAD`. Runs in a child
//! (see [`crate::child`]): mapping a library runs its code.

use std::path::Path;

use serde::{Deserialize, Serialize};

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

/// Probes the entry `value` (`file args`); with `load`, also opens and closes it.
pub fn probe(ctx: &Ctx, value: &str, load: bool) -> ProbeReport {
    let (file, _args) = drvproc_host::split_entry(value);
    let manager = ctx.manager();
    let mut report = ProbeReport { file: file.to_string(), ..Default::default() };
    let path = manager.locate_file(file);
    if let Some(p) = &path {
        report.path = Some(p.display().to_string());
        if !p.is_file() {
            return report.fail(
                format!("{} does not exist", p.display()),
                "install the driver file there, or fix or remove the entry",
            );
        }
        match filekind::inspect(p) {
            Ok(FileKind::Pe) => {
                report.format = Some("Windows PE".into());
                return report.fail(
                    format!(
                        "{} is a Windows DLL (PE image); this machine loads ELF {} libraries",
                        p.display(),
                        filekind::host_machine().map_or("native".into(), filekind::machine_name)
                    ),
                    "install a native build of the driver, or run it under Wine",
                );
            }
            Ok(FileKind::Elf { machine, bits }) => {
                report.format = Some(format!("ELF {} {bits}-bit", filekind::machine_name(machine)));
                if let Some(host) = filekind::host_machine()
                    && host != machine
                {
                    return report.fail(
                        format!(
                            "{} is built for {}; this machine needs {}",
                            p.display(),
                            filekind::machine_name(machine),
                            filekind::machine_name(host)
                        ),
                        "install the build of the driver for this machine's architecture",
                    );
                }
            }
            Ok(FileKind::Other) => {
                report.format = Some("not a library".into());
                return report
                    .fail(format!("{} is not a shared library", p.display()), "fix or remove the entry");
            }
            Err(e) => return report.fail(format!("{}: {e}", p.display()), "check the file's permissions"),
        }
    }
    let target = path.as_deref().unwrap_or(Path::new(file));
    // SAFETY: mapping the driver runs its initialisers; this runs in a child process
    // precisely so that a misbehaving library cannot harm drvctl.
    let library = match unsafe { libloading::Library::new(target) } {
        Ok(l) => l,
        Err(e) => {
            let detail = std::error::Error::source(&e).map_or(e.to_string(), |s| s.to_string());
            return if path.is_none() && detail.contains("No such file") {
                report.fail(
                    format!("{file}: not found {}", manager.search_description()),
                    format!("put {file} in a directory of DRVPROC_PATH or beside the registry file"),
                )
            } else {
                report.fail(
                    format!("cannot load: {detail}"),
                    format!("check the library's dependencies (ldd {})", target.display()),
                )
            };
        }
    };
    report.loadable = true;
    // SAFETY: only the symbol's presence is checked; it is not called here.
    report.driver_proc = unsafe { library.get::<drvproc::DriverProc>(b"DriverProc\0") }.is_ok();
    drop(library);
    if !report.driver_proc {
        return report.fail(
            "no DriverProc export: not an installable driver".into(),
            "register the driver's own library, not a helper library",
        );
    }
    if load {
        match manager.open(value, None) {
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
