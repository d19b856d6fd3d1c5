//! `list` and `doctor` of a large registry finish, and every entry gets its own
//! verdict: entries whose files are missing are told apart without running
//! anything, and the drivers that do run are probed in batches in which a crash or
//! a hang is blamed on the driver that caused it, the others keeping theirs.
#![cfg(all(target_os = "linux", target_arch = "x86_64"))]

mod common;
mod diagnose_samples;

use std::fmt::Write as _;
use std::path::Path;

use common::{Scratch, lib, run};
use diagnose_samples::{c_library, trace_copy};
use serde_json::Value;

/// How many entries point at files that do not exist.
const MISSING: usize = 20_000;

/// A library exporting `DriverProc` that aborts as soon as it is mapped.
fn aborts_when_mapped(dir: &Path) -> String {
    let source = "#include <stdlib.h>\n\
         __attribute__((constructor)) static void boom(void) { abort(); }\n\
         long DriverProc(unsigned long i, void *h, unsigned m, long a, long b) { return 1; }\n";
    c_library(dir, "mapabort", source).display().to_string()
}

/// The registry: the missing entries, with the drivers that run among them (in the
/// order of `drivers`) after the first quarter.
fn registry(s: &Scratch, drivers: &[(&str, String)]) {
    let mut text = String::from("[Drivers32]\n");
    for i in 0..MISSING {
        if i == MISSING / 4 {
            for (alias, value) in drivers {
                writeln!(text, "{alias}={value}").unwrap();
            }
        }
        writeln!(text, "gone.{i}=missing/libgone{i}.so").unwrap();
    }
    s.write_config(&text);
}

/// Runs drvctl and returns its exit code and JSON document.
fn document(cmd: std::process::Command) -> (i32, Value) {
    let (code, out, err) = run(cmd);
    let v = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: stderr {err}"));
    (code, v)
}

/// The entry of `alias` in a document.
fn entry<'a>(v: &'a Value, alias: &str) -> &'a Value {
    v["entries"].as_array().unwrap().iter().find(|e| e["alias"] == alias).unwrap()
}

/// Every missing entry says so, in file order.
fn assert_missing(v: &Value, s: &Scratch) {
    let entries = v["entries"].as_array().unwrap();
    let gone: Vec<&Value> =
        entries.iter().filter(|e| e["alias"].as_str().unwrap().starts_with("gone.")).collect();
    assert_eq!(gone.len(), MISSING);
    let dir = s.dir.path().display();
    for (i, e) in gone.iter().enumerate() {
        assert_eq!(e["alias"], format!("gone.{i}"));
        assert_eq!(e["problem"], format!("{dir}/missing/libgone{i}.so does not exist"), "{e}");
    }
}

#[test]
fn list_of_a_large_registry_blames_only_the_crashing_driver() {
    let s = Scratch::new();
    let d = s.dir.path();
    let sample = lib("drvsample").display().to_string();
    let drivers = vec![
        ("first", sample.clone()),
        // DRV_LOAD is not sent by list: mapping it is all list does, and that works.
        ("load.aborts", trace_copy(d, "crashes", "ABORT=DRV_LOAD\n").display().to_string()),
        ("second", sample.clone()),
        ("map.aborts", aborts_when_mapped(d)),
        ("third", sample.clone()),
    ];
    registry(&s, &drivers);
    let (code, v) = document(s.drvctl(&["list", "--json"]));
    assert_eq!(code, 0);
    assert_eq!(v["entries"].as_array().unwrap().len(), MISSING + drivers.len());
    assert_missing(&v, &s);
    for alias in ["first", "load.aborts", "second", "third"] {
        let e = entry(&v, alias);
        assert_eq!((&e["problem"], &e["loadable"]), (&Value::Null, &Value::Bool(true)), "{alias}: {e}");
    }
    let e = entry(&v, "map.aborts");
    let problem = e["problem"].as_str().unwrap();
    assert!(
        problem
            .starts_with("the driver crashed when probed in a child process: killed by signal 6 (SIGABRT)"),
        "{problem}"
    );
}

#[test]
fn doctor_of_a_large_registry_blames_each_crash_and_hang_on_its_driver() {
    let s = Scratch::new();
    let d = s.dir.path();
    let sample = lib("drvsample").display().to_string();
    let drivers = vec![
        ("first", sample.clone()),
        ("load.aborts", trace_copy(d, "crashes", "ABORT=DRV_LOAD\n").display().to_string()),
        ("second", sample.clone()),
        ("load.hangs", trace_copy(d, "hangs", "HANG=DRV_LOAD\n").display().to_string()),
        ("third", sample.clone()),
        ("map.aborts", aborts_when_mapped(d)),
        ("fourth", sample.clone()),
    ];
    registry(&s, &drivers);
    let (code, v) = document(s.drvctl(&["doctor", "--json", "--timeout", "1"]));
    assert_eq!(code, 1);
    assert_eq!(
        (v["total"].as_u64(), v["broken"].as_u64()),
        (Some(MISSING as u64 + 7), Some(MISSING as u64 + 3))
    );
    assert_missing(&v, &s);
    for alias in ["first", "second", "third", "fourth"] {
        let e = entry(&v, alias);
        assert_eq!((&e["problem"], &e["load"]), (&Value::Null, &Value::from("ok")), "{alias}: {e}");
    }
    let crashed = "the driver crashed when probed in a child process: killed by signal 6 (SIGABRT)";
    for alias in ["load.aborts", "map.aborts"] {
        let problem = entry(&v, alias)["problem"].as_str().unwrap();
        assert!(problem.starts_with(crashed), "{alias}: {problem}");
    }
    assert_eq!(entry(&v, "load.hangs")["problem"], "the driver did not answer within 1 s (hang)");
}
