//! `drvctl isolate ALIAS on|off [--group NAME]`: the registry file's
//! `[drvproc.isolate]` marker, written under the registry's lock, refused for an
//! alias that is not registered, and shown by `list`.

mod common;
mod diagnose_samples;

use common::{Scratch, path_str, run};
use diagnose_samples::trace_copy;

fn registered(s: &Scratch) -> String {
    let lib = trace_copy(s.dir.path(), "t", "");
    let text = format!("; codecs\n[Drivers32]\nvidc.t={}\n", path_str(&lib));
    s.write_config(&text);
    text
}

#[test]
fn on_and_off_write_and_remove_the_marker() {
    let s = Scratch::new();
    let before = registered(&s);
    let (code, out, err) = run(s.drvctl(&["isolate", "vidc.t", "on"]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "vidc.t: isolated: it runs in a host process of its own from its next load\n");
    assert_eq!(err, format!("[drvproc.isolate] vidc.t=1 written to {}\n", s.config().display()));
    assert_eq!(s.read_config(), format!("{before}[drvproc.isolate]\nvidc.t=1\n"));

    let (code, out, _) = run(s.drvctl(&["isolate", "VIDC.T", "on"]));
    assert_eq!((code, out.as_str()), (0, "VIDC.T: already isolated\n"), "aliases match in any case");

    let (code, out, err) = run(s.drvctl(&["-q", "isolate", "vidc.t", "off"]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "vidc.t: no longer isolated: it runs in the program's process from its next load\n");
    assert_eq!(err, "", "--quiet leaves the note out");
    assert!(!s.read_config().contains("vidc.t=1"), "{}", s.read_config());
    assert!(s.read_config().starts_with(&before), "the entries are untouched: {}", s.read_config());

    let (code, out, _) = run(s.drvctl(&["isolate", "vidc.t", "off"]));
    assert_eq!((code, out.as_str()), (0, "vidc.t: was not isolated\n"));
}

#[test]
fn an_alias_that_is_not_registered_is_refused_and_nothing_changes() {
    let s = Scratch::new();
    let before = registered(&s);
    for state in ["on", "off"] {
        let (code, out, err) = run(s.drvctl(&["isolate", "vidc.nope", state]));
        assert_eq!(code, 1, "{out}");
        assert_eq!(
            err,
            format!(
                "drvctl: vidc.nope: no such alias in [Drivers32] of {}; nothing was changed\n",
                s.config().display()
            )
        );
        assert_eq!(s.read_config(), before);
    }
    // Registered in another section only: --section says where to look.
    let (code, _, err) = run(s.drvctl(&["isolate", "vidc.t", "on", "--section", "MCI32"]));
    assert_eq!(code, 1);
    assert!(err.contains("no such alias in [MCI32]"), "{err}");
    let (code, _, err) = run(s.drvctl(&["isolate", "vidc.t", "maybe"]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("invalid value 'maybe'"), "{err}");
}

#[test]
fn a_marker_left_by_a_removed_alias_can_be_turned_off() {
    let s = Scratch::new();
    s.write_config("[Drivers32]\n[drvproc.isolate]\nvidc.gone=1\n");
    let (code, out, err) = run(s.drvctl(&["isolate", "vidc.gone", "off"]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "vidc.gone: no longer isolated: it runs in the program's process from its next load\n");
    assert!(!s.read_config().contains("vidc.gone"), "{}", s.read_config());
}

#[test]
fn removing_an_alias_removes_its_marker_with_its_last_entry() {
    let s = Scratch::new();
    let lib = trace_copy(s.dir.path(), "t", "");
    s.write_config(&format!(
        "[Drivers32]\nvidc.t={0}\n[MCI32]\nvidc.t={0}\n[drvproc.isolate]\nvidc.t=1\n",
        path_str(&lib)
    ));
    let (code, _, err) = run(s.drvctl(&["remove", "vidc.t", "--force"]));
    assert_eq!(code, 0, "{err}");
    assert!(
        s.read_config().contains("[drvproc.isolate]\nvidc.t=1"),
        "another section still has the alias: {}",
        s.read_config()
    );
    let (code, _, err) = run(s.drvctl(&["remove", "vidc.t", "--section", "MCI32", "--force"]));
    assert_eq!(code, 0, "{err}");
    assert!(!s.read_config().contains("vidc.t"), "{}", s.read_config());
}

#[test]
fn a_missing_registry_file_is_an_error() {
    let s = Scratch::new();
    let (code, _, err) = run(s.drvctl(&["isolate", "vidc.t", "on"]));
    assert_eq!(code, 1);
    assert!(err.contains(&format!("{}", s.config().display())), "{err}");
    assert!(!s.config().exists());
}

#[test]
fn list_shows_the_marker_and_not_the_markers_section() {
    let s = Scratch::new();
    registered(&s);
    let (code, _, err) = run(s.drvctl(&["isolate", "vidc.t", "on"]));
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = run(s.drvctl(&["list"]));
    assert_eq!(code, 0, "{err}");
    let line = out.lines().find(|l| l.trim_start().starts_with("vidc.t ")).unwrap_or_else(|| panic!("{out}"));
    assert!(line.ends_with("  [isolated]"), "{out}");
    assert!(line.contains("ok: "), "{out}");

    let (code, out, err) = run(s.drvctl(&["list", "--all"]));
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains("[drvproc.isolate]"), "the markers are not drivers:\n{out}");

    let (code, out, err) = run(s.drvctl(&["list", "--json"]));
    assert_eq!(code, 0, "{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["entries"][0]["alias"], "vidc.t");
    assert_eq!(doc["entries"][0]["isolated"], true);

    run(s.drvctl(&["isolate", "vidc.t", "off"]));
    let (_, out, _) = run(s.drvctl(&["list", "--json"]));
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["entries"][0]["isolated"], false);
    let (_, out, _) = run(s.drvctl(&["list"]));
    assert!(!out.contains("[isolated]"), "{out}");
}

/// The line of `list`'s output that shows `alias`.
fn listed(s: &Scratch, alias: &str) -> String {
    let (code, out, err) = run(s.drvctl(&["list"]));
    assert_eq!(code, 0, "{err}");
    let line = out.lines().find(|l| l.trim_start().starts_with(&format!("{alias} ")));
    line.unwrap_or_else(|| panic!("{out}")).to_string()
}

#[test]
fn on_with_a_group_writes_the_group_and_list_shows_it() {
    let s = Scratch::new();
    let before = registered(&s);
    let (code, out, err) = run(s.drvctl(&["isolate", "vidc.t", "on", "--group", "codecs"]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        "vidc.t: isolated in host group codecs: it runs in that group's host process from its next load\n"
    );
    assert_eq!(err, format!("[drvproc.isolate] vidc.t=group:codecs written to {}\n", s.config().display()));
    assert_eq!(s.read_config(), format!("{before}[drvproc.isolate]\nvidc.t=group:codecs\n"));
    let line = listed(&s, "vidc.t");
    assert!(line.ends_with("  [isolated, group codecs]"), "{line}");
    assert!(line.contains("ok: "), "{line}");

    let (code, out, _) = run(s.drvctl(&["isolate", "vidc.t", "on", "--group", "codecs"]));
    assert_eq!((code, out.as_str()), (0, "vidc.t: already isolated in host group codecs\n"));

    // Another group, then none: each replaces the marker.
    let (code, out, err) = run(s.drvctl(&["-q", "isolate", "vidc.t", "on", "--group", "video"]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        "vidc.t: isolated in host group video: it runs in that group's host process from its next load\n"
    );
    assert_eq!(s.read_config(), format!("{before}[drvproc.isolate]\nvidc.t=group:video\n"));
    let (code, out, err) = run(s.drvctl(&["isolate", "vidc.t", "on"]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "vidc.t: isolated: it runs in a host process of its own from its next load\n");
    assert_eq!(err, format!("[drvproc.isolate] vidc.t=1 written to {}\n", s.config().display()));
    assert_eq!(s.read_config(), format!("{before}[drvproc.isolate]\nvidc.t=1\n"));
    assert!(listed(&s, "vidc.t").ends_with("  [isolated]"));

    run(s.drvctl(&["isolate", "vidc.t", "on", "--group", "codecs"]));
    let (code, out, err) = run(s.drvctl(&["isolate", "vidc.t", "off"]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "vidc.t: no longer isolated: it runs in the program's process from its next load\n");
    assert_eq!(s.read_config(), format!("{before}[drvproc.isolate]\n"));
    assert!(!listed(&s, "vidc.t").contains("[isolated"));
}

#[test]
fn list_json_names_the_group() {
    let s = Scratch::new();
    registered(&s);
    let entry = |s: &Scratch| {
        let (code, out, err) = run(s.drvctl(&["list", "--json"]));
        assert_eq!(code, 0, "{err}");
        let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
        (doc["entries"][0]["isolated"].clone(), doc["entries"][0]["host_group"].clone())
    };
    assert_eq!(entry(&s), (false.into(), serde_json::Value::Null));
    run(s.drvctl(&["isolate", "vidc.t", "on", "--group", "codecs"]));
    assert_eq!(entry(&s), (true.into(), "codecs".into()));
    run(s.drvctl(&["isolate", "vidc.t", "on"]));
    assert_eq!(entry(&s), (true.into(), serde_json::Value::Null));
}

#[test]
fn a_bad_group_or_a_group_with_off_is_refused_and_nothing_changes() {
    let s = Scratch::new();
    let before = registered(&s);
    let (code, out, err) = run(s.drvctl(&["isolate", "vidc.t", "on", "--group", "a=b"]));
    assert_eq!((code, out.as_str()), (1, ""));
    assert_eq!(err, "drvctl: invalid host group \"a=b\": it contains '=', '[' or ']'\n");
    assert_eq!(s.read_config(), before);
    let (code, out, err) = run(s.drvctl(&["isolate", "vidc.t", "on", "--group", ""]));
    assert_eq!((code, out.as_str()), (1, ""));
    assert_eq!(err, "drvctl: invalid host group \"\": it is empty\n");
    assert_eq!(s.read_config(), before);

    s.write_config(&format!("{before}[drvproc.isolate]\nvidc.t=group:codecs\n"));
    let (code, out, err) = run(s.drvctl(&["isolate", "vidc.t", "off", "--group", "codecs"]));
    assert_eq!((code, out.as_str()), (2, ""));
    assert_eq!(err, "drvctl: --group goes with on (off removes the marker, with its group)\n");
    assert_eq!(s.read_config(), format!("{before}[drvproc.isolate]\nvidc.t=group:codecs\n"));
}
