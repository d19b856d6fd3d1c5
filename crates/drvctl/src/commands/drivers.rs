//! `list`: the registered drivers and the state of each.

use std::time::Duration;

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
        entries.extend(probe::check_entries(ctx, s, &doc.entries(s), false, PROBE_TIMEOUT, &mut |_| {}));
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
