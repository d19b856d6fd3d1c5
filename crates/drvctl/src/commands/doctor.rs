//! `doctor`: every registered driver, probed in a child process, and for each
//! broken one a command that fixes it; and whether drivers can be isolated here.
//!
//! The probes run in batches of drvctl children ([`probe::check_entries`]), not in
//! host processes of drvctl's own manager, though both contain a driver's crash or
//! hang. The question doctor answers is whether an application opening an entry
//! gets a driver, and an application hosts it by default in its own process: the
//! child maps the file with the manager's own loader in that very way, so a
//! missing dependency, a foreign library or a missing `DriverProc` is told apart
//! in the loader's words, which a host process would only pass on as text. And one
//! child probes up to 64 entries, where hosting would start a process per entry.

use std::time::Duration;

use drvproc_host::Registry;
use serde::Serialize;

use crate::context::Ctx;
use crate::error::CliResult;
use crate::output::{self, end_progress, progress};
use crate::probe::{self, EntryReport, Warning};
use crate::style;

/// The sections holding drivers (Win32, Win16 and MCI).
const DRIVER_SECTIONS: [&str; 4] = ["Drivers32", "drivers", "MCI32", "MCI"];

/// `doctor --json` (docs/json.md).
#[derive(Serialize)]
struct DoctorDocument<'a> {
    config: String,
    entries: Vec<DoctorEntry<'a>>,
    warnings: Vec<Warning>,
    total: usize,
    broken: usize,
    /// Linux only: isolation is not available elsewhere.
    #[cfg(target_os = "linux")]
    isolation: Isolation,
}

/// Whether drivers can be hosted in processes of their own here (`DRVPROC_ISOLATE=1`
/// or an alias's isolation marker), and how far such a process is confined.
#[derive(Serialize)]
#[cfg(target_os = "linux")]
struct Isolation {
    /// The host program as a manager started by drvctl names it.
    host_program: String,
    /// Where it was found; `None`: nowhere, so isolated opens fail.
    host_program_found: Option<String>,
    /// The kernel's Landlock ABI version; `None`: no file confinement (see
    /// `landlock_missing`).
    landlock_abi: Option<i32>,
    /// Why the kernel offers no Landlock.
    landlock_missing: Option<String>,
}

#[cfg(target_os = "linux")]
impl Isolation {
    fn here() -> Isolation {
        let report = drvproc_host::isolation_report();
        let found = located(&report.host_program);
        let (landlock_abi, landlock_missing) = match report.landlock {
            Ok(abi) => (Some(abi), None),
            Err(why) => (None, Some(why)),
        };
        Isolation {
            host_program: report.host_program.display().to_string(),
            host_program_found: found.map(|p| p.display().to_string()),
            landlock_abi,
            landlock_missing,
        }
    }

    /// The line of the text output.
    fn line(&self) -> String {
        let sandbox = match (self.landlock_abi, &self.landlock_missing) {
            (Some(abi), _) => format!("sandbox: Landlock ABI {abi}"),
            (None, why) => format!(
                "sandbox: no new privileges only, files not confined ({})",
                why.as_deref().unwrap_or("no Landlock")
            ),
        };
        match &self.host_program_found {
            Some(path) => format!("{} isolation: host program {path}; {sandbox}", style::pass("ok    ")),
            None => format!(
                "{} isolation: no host program {} (install drvproc-hostd beside the application or on \
                 PATH, or name it with DRVPROC_HOSTD); {sandbox}",
                style::fail("absent"),
                self.host_program
            ),
        }
    }
}

/// Where `program` is: itself when it names a directory, else the first match on
/// `PATH`, as the manager's start of a host process resolves it.
#[cfg(target_os = "linux")]
fn located(program: &std::path::Path) -> Option<std::path::PathBuf> {
    if program.components().count() > 1 {
        return program.is_file().then(|| program.to_path_buf());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(program)).find(|p| p.is_file())
}

/// An entry of `doctor --json`: the probe's report, and the command the text
/// output prints to remove a broken entry.
#[derive(Serialize)]
struct DoctorEntry<'a> {
    #[serde(flatten)]
    entry: &'a EntryReport,
    fix_command: Option<String>,
}

/// Checks every driver entry; returns whether all are healthy. A registry with no
/// driver entries is healthy (in text and JSON alike); one that does not exist is
/// an error.
pub fn doctor(ctx: &Ctx, json: bool, timeout: u64) -> CliResult<bool> {
    let timeout = crate::commands::timeout(timeout, "per driver")?;
    let registry = probe::existing_registry(ctx)?;
    let doc = registry.read()?;
    let mut entries = Vec::new();
    for section in
        doc.sections().into_iter().filter(|s| DRIVER_SECTIONS.iter().any(|d| d.eq_ignore_ascii_case(s)))
    {
        let listed = doc.entries(section);
        let total = listed.len();
        entries.extend(probe::check_entries(ctx, section, &listed, true, timeout, &mut |done| {
            progress(&format!("checking [{section}]: {done} of {total} entries done..."))
        }));
    }
    end_progress();
    let broken = entries.iter().filter(|e| e.probe.problem.is_some()).count();
    let warnings = probe::registry_warnings(&doc);
    if json {
        let document = DoctorDocument {
            config: registry.path().display().to_string(),
            total: entries.len(),
            entries: entries
                .iter()
                .map(|e| DoctorEntry { entry: e, fix_command: remove_command(&registry, e, timeout) })
                .collect(),
            warnings,
            broken,
            #[cfg(target_os = "linux")]
            isolation: Isolation::here(),
        };
        output::print_json("doctor", &document)?;
        return Ok(broken == 0);
    }
    // Skipped lines are part of the diagnosis: on stdout with the entries.
    for w in &warnings {
        println!("{} {} line {}: {}", style::fail("warn  "), registry.path().display(), w.line, w.message);
    }
    // Before the summary, which stays the last line.
    #[cfg(target_os = "linux")]
    let isolation = Isolation::here().line();
    if entries.is_empty() {
        #[cfg(target_os = "linux")]
        println!("{isolation}");
        println!("no driver entries in [{}] of {}", DRIVER_SECTIONS.join("], ["), registry.path().display());
        return Ok(true);
    }
    for e in &entries {
        let entry = format!("[{}] {} = {}", e.section, probe::shown(&e.alias), probe::shown(&e.value));
        match &e.probe.problem {
            None => println!(
                "{} {entry}: loads and opens ({})",
                style::pass("ok    "),
                e.probe.path.as_deref().unwrap_or("system library path")
            ),
            Some(problem) => {
                println!("{} {entry}: {problem}", style::fail("broken"));
                println!("       fix: {}", fix_line(&registry, e, timeout));
            }
        }
    }
    #[cfg(target_os = "linux")]
    println!("{isolation}");
    println!("{}, {broken} broken", probe::entries(entries.len()));
    Ok(broken == 0)
}

/// The advice for a broken entry and the one command that removes it.
fn fix_line(registry: &Registry, e: &EntryReport, timeout: Duration) -> String {
    let advice = e.probe.fix.as_deref().unwrap_or("fix the entry");
    match remove_command(registry, e, timeout) {
        Some(command) => format!("{advice}; or remove the entry: `{command}`"),
        None => advice.to_string(),
    }
}

/// The command that removes a broken entry, as a shell line. `remove` succeeds
/// without `--force` for every entry doctor calls broken: a driver that cannot be
/// opened is not asked (see `registration::remove`). `None` for a healthy entry and
/// for an alias no command line can carry.
fn remove_command(registry: &Registry, e: &EntryReport, timeout: Duration) -> Option<String> {
    if e.probe.problem.is_none() || !e.alias_is_nameable() {
        return None;
    }
    let mut command = vec!["drvctl".to_string()];
    // The printed command must reach the same registry from any shell: name it
    // unless it is where drvctl looks by default.
    if !probe::is_default_location(registry.path()) {
        let path = std::path::absolute(registry.path()).unwrap_or_else(|_| registry.path().to_path_buf());
        command.extend(["--config".into(), quote(&path.to_string_lossy())]);
    }
    command.extend(["remove".into(), "--section".into(), quote(&e.section)]);
    if e.probe.problem.as_deref().is_some_and(|p| p.ends_with("(hang)")) {
        // remove waits as long as it is told for the driver to open; doctor has
        // already waited this long and seen it hang.
        command.extend(["--timeout".into(), timeout.as_secs().to_string()]);
    }
    if e.alias.starts_with('-') {
        // Not an option, whatever it looks like.
        command.push("--".into());
    }
    command.push(quote(&e.alias));
    Some(command.join(" "))
}

/// `text` as one POSIX shell word.
#[cfg(not(windows))]
fn quote(text: &str) -> String {
    let plain =
        !text.is_empty() && text.chars().all(|c| c.is_ascii_alphanumeric() || "._/+-=:,@%".contains(c));
    if plain { text.to_string() } else { format!("'{}'", text.replace('\'', "'\\''")) }
}

/// `text` as one word for cmd.exe and PowerShell: as it is when plain (paths with
/// backslashes and drive letters are), else in double quotes, a quote in it escaped
/// as the C runtime reads it (`\"`).
#[cfg(windows)]
fn quote(text: &str) -> String {
    let plain =
        !text.is_empty() && text.chars().all(|c| c.is_ascii_alphanumeric() || "._/\\+-=:,@".contains(c));
    if plain { text.to_string() } else { format!("\"{}\"", text.replace('"', "\\\"")) }
}

#[cfg(test)]
mod tests {
    use super::quote;

    /// The removal commands doctor prints are pasted into cmd.exe or PowerShell.
    #[cfg(windows)]
    #[test]
    fn windows_shell_words() {
        assert_eq!(quote(r"Z:\tmp\wine.ini"), r"Z:\tmp\wine.ini");
        assert_eq!(quote(r"C:\Program Files\x.ini"), r#""C:\Program Files\x.ini""#);
        assert_eq!(quote("vidc.mrle"), "vidc.mrle");
        assert_eq!(quote(""), r#""""#);
        assert_eq!(quote(r#"a"b"#), r#""a\"b""#);
    }

    #[cfg(not(windows))]
    #[test]
    fn shell_words() {
        assert_eq!(quote("msacm.imaadpcm"), "msacm.imaadpcm");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), "'it'\\''s'");
        assert_eq!(quote(""), "''");
        assert_eq!(quote("$HOME"), "'$HOME'");
    }
}
