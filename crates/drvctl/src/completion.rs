//! Shell completion that knows the registry: clap_complete's dynamic engine calls
//! drvctl back (`COMPLETE=bash drvctl -- drvctl remove ms`), and these functions
//! offer the aliases of the registry the command line names.

use std::ffi::{OsStr, OsString};
use std::path::PathBuf;

use clap_complete::engine::{CompletionCandidate, PathCompleter, ValueCompleter};
use clap_complete::env::Shells;

/// The `--config` and `--section` of the words being completed (as far as typed),
/// which drvctl sees as its own arguments after `--`.
fn typed_option(args: &[OsString], name: &str) -> Option<OsString> {
    let long = format!("--{name}");
    let with_eq = format!("--{name}=");
    let mut found = None;
    let mut words = args.iter();
    while let Some(word) = words.next() {
        if word == OsStr::new(&long) {
            found = words.next().cloned();
        } else if let Some(value) = word.to_str().and_then(|w| w.strip_prefix(&with_eq)) {
            found = Some(value.into());
        }
    }
    found
}

/// The aliases of the registry, with their values as descriptions: of `--section`
/// if typed, else of `[Drivers32]`. Nothing when there is no readable registry:
/// completion must never fail loudly.
fn registry_aliases(args: &[OsString]) -> Vec<CompletionCandidate> {
    // The registry drvctl itself would read (on Windows by default: the key, then
    // system.ini, merged).
    let registry = match typed_option(args, "config") {
        Some(config) => Some(drvproc_host::Registry::new(PathBuf::from(config))),
        None => drvproc_host::Registry::default_registry(),
    };
    let section = typed_option(args, "section")
        .and_then(|s| s.into_string().ok())
        .unwrap_or_else(|| drvproc_host::DRIVERS32.to_string());
    let Some(doc) = registry.and_then(|r| r.read().ok()) else {
        return Vec::new();
    };
    doc.entries(&section)
        .into_iter()
        .map(|(alias, value)| CompletionCandidate::new(alias).help(Some(value.to_string().into())))
        .collect()
}

/// Candidates for an ALIAS argument (clap filters them by what is typed).
pub fn aliases() -> Vec<CompletionCandidate> {
    registry_aliases(&std::env::args_os().collect::<Vec<_>>())
}

/// Candidates for a TARGET (an alias or a driver file): the matching aliases, then
/// files.
pub fn targets(current: &OsStr) -> Vec<CompletionCandidate> {
    let typed = current.to_string_lossy();
    let mut out: Vec<CompletionCandidate> = aliases()
        .into_iter()
        .filter(|c| c.get_value().to_string_lossy().starts_with(typed.as_ref()))
        .collect();
    out.extend(PathCompleter::any().complete(current));
    out
}

/// The script that makes SHELL ask drvctl for completions; `completer` is the
/// program the shell will run (this one).
pub fn registration(shell: &str, completer: &str, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    let shells = Shells::builtins();
    let shell = shells
        .completer(shell)
        .ok_or_else(|| std::io::Error::other(format!("no dynamic completion for {shell}")))?;
    shell.write_registration("COMPLETE", "drvctl", "drvctl", completer, out)
}

/// How the shell should run drvctl: as typed when found through `PATH` (so an
/// upgrade is picked up), else by its absolute path.
pub fn completer_path() -> String {
    let arg0 = std::env::args_os().next().map(PathBuf::from).unwrap_or_else(|| "drvctl".into());
    if arg0.components().count() > 1 {
        std::env::current_exe().unwrap_or(arg0).to_string_lossy().into_owned()
    } else {
        arg0.to_string_lossy().into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_as_typed() {
        let args: Vec<OsString> =
            ["drvctl", "--", "drvctl", "--config", "/a.ini", "remove", "--section=MCI", "x"]
                .iter()
                .map(OsString::from)
                .collect();
        assert_eq!(typed_option(&args, "config"), Some("/a.ini".into()));
        assert_eq!(typed_option(&args, "section"), Some("MCI".into()));
        assert_eq!(typed_option(&args[..3], "section"), None);
    }
}
