//! `list`: the registered drivers and the state of each.

use std::time::Duration;

use drvproc_host::{EntrySource, Isolation, Registry};
use serde::Serialize;

use crate::context::Ctx;
use crate::error::CliResult;
use crate::output;
use crate::probe;
use crate::style;

/// How long a probe of one entry may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// `list --json` (docs/json.md).
#[derive(Serialize)]
struct ListDocument<'a> {
    config: String,
    /// On Windows by default: the registry key read before `config`.
    #[serde(skip_serializing_if = "Option::is_none")]
    system_key: Option<&'static str>,
    sections: &'a [String],
    entries: Vec<Listed<'a>>,
}

/// An entry of `list --json`, with where it is recorded when the registry has two
/// sources: `"key"` or `"file"`.
#[derive(Serialize)]
struct Listed<'a> {
    #[serde(flatten)]
    entry: probe::ListedEntry<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<&'static str>,
    /// Marked to be hosted in a process other than the program's (`drvctl isolate`).
    isolated: bool,
    /// The host group its marker names (`drvctl isolate ALIAS on --group NAME`);
    /// null when it names none.
    host_group: Option<&'a str>,
}

/// Where each entry comes from; `None` for each when the registry is one file.
fn sources(registry: &Registry, entries: &[probe::EntryReport]) -> CliResult<Vec<Option<EntrySource>>> {
    if registry.system_key().is_none() {
        return Ok(vec![None; entries.len()]);
    }
    let mut sources = Vec::with_capacity(entries.len());
    for e in entries {
        sources.push(registry.source_of(&e.section, &e.alias)?);
    }
    Ok(sources)
}

pub fn list(ctx: &Ctx, section: &str, all: bool, json: bool) -> CliResult {
    let registry = probe::existing_registry(ctx)?;
    let doc = registry.read()?;
    // Skipped lines are not what `list` reports, but the reader should know.
    for w in probe::registry_warnings(&doc) {
        output::note(&format!("{} line {}: {}", registry.path().display(), w.line, w.message));
    }
    // The isolation markers' section holds no drivers.
    let sections: Vec<String> = if all {
        doc.sections()
            .iter()
            .filter(|s| !s.eq_ignore_ascii_case(drvproc_host::ISOLATE_SECTION))
            .map(|s| s.to_string())
            .collect()
    } else {
        vec![section.to_string()]
    };
    let mut entries = Vec::new();
    for s in &sections {
        entries.extend(probe::check_entries(ctx, s, &doc.entries(s), false, PROBE_TIMEOUT, &mut |_| {}));
    }
    let key = registry.system_key().copied();
    let sources = sources(&registry, &entries)?;
    let mut isolated = Vec::with_capacity(entries.len());
    for e in &entries {
        isolated.push(registry.isolation(&e.alias)?);
    }
    let mut sourced: Vec<_> =
        entries.into_iter().zip(sources).zip(isolated).map(|((e, s), i)| (e, s, i)).collect();
    if json {
        let document = ListDocument {
            config: registry.path().display().to_string(),
            system_key: key.map(|_| drvproc_host::SYSTEM_KEY),
            sections: &sections,
            entries: sourced
                .iter()
                .map(|(e, source, isolated)| Listed {
                    entry: e.listed(),
                    source: source.map(|s| match s {
                        EntrySource::SystemKey => "key",
                        EntrySource::File => "file",
                    }),
                    isolated: isolated.is_on(),
                    host_group: isolated.group(),
                })
                .collect(),
        };
        output::print_json("list", &document)?;
        return Ok(());
    }
    if sourced.is_empty() {
        let place = match key {
            Some(_) => format!("{} and {}", drvproc_host::SYSTEM_KEY, registry.path().display()),
            None => registry.path().display().to_string(),
        };
        println!(
            "no entries in {} of {place}",
            sections.iter().map(|s| format!("[{s}]")).collect::<Vec<_>>().join(", "),
        );
        return Ok(());
    }
    // With two sources, each section lists the key's entries, then the file's.
    sourced.sort_by_key(|(e, source, _)| {
        (sections.iter().position(|s| *s == e.section), *source != Some(EntrySource::SystemKey))
    });
    let aliases: Vec<String> = sourced.iter().map(|(e, _, _)| probe::shown(&e.alias)).collect();
    let width = aliases.iter().map(String::len).max().unwrap_or(0);
    let mut current = None;
    for ((e, source, isolated), alias) in sourced.iter().zip(&aliases) {
        if current != Some((&e.section, *source)) {
            match (source, &key) {
                (Some(EntrySource::SystemKey), Some(key)) => {
                    println!("[{}] in {}", e.section, key.key_path(&e.section))
                }
                (Some(EntrySource::File), _) => println!("[{}] in {}", e.section, registry.path().display()),
                _ => println!("[{}]", e.section),
            }
            current = Some((&e.section, *source));
        }
        let status = match &e.probe.problem {
            None => style::pass(&format!(
                "ok: {} ({}, exports DriverProc)",
                e.probe.path.as_deref().unwrap_or("found by the system loader"),
                e.probe.format.as_deref().unwrap_or("library")
            )),
            Some(p) => style::fail(p),
        };
        let marker = match isolated {
            Isolation::Off => String::new(),
            Isolation::Own => "  [isolated]".to_string(),
            Isolation::Group(name) => format!("  [isolated, group {name}]"),
        };
        println!("  {alias:<width$}  {}  {status}{marker}", probe::shown(&e.value));
    }
    Ok(())
}
