//! `doctor` prints one command per broken entry, and that command works: run as
//! printed, it exits 0 and the entry is gone. Healthy entries are left alone.
#![cfg(target_os = "linux")]

mod common;
mod diagnose_samples;

use std::path::Path;
use std::process::Command;

use common::{Scratch, lib, path_str, run, without_isolation, without_isolation_json};
use diagnose_samples::{c_library, pe_dll, trace_copy};

/// The command in a `fix:` line: the text between its last pair of backticks.
fn fix_command(out: &str, alias: &str) -> String {
    let mut lines = out.lines().skip_while(|l| !l.contains(&format!(" {alias} = ")));
    let broken = lines.next().unwrap_or_else(|| panic!("no line for {alias}: {out}"));
    assert!(broken.starts_with("broken "), "{out}");
    let fix = lines.next().unwrap_or_default();
    assert!(fix.starts_with("       fix: "), "{out}");
    assert_eq!(fix.matches('`').count(), 2, "exactly one command: {fix}");
    fix.split('`').nth(1).unwrap().to_string()
}

/// Runs `command` through the shell, as a user pasting it would, with drvctl on PATH.
fn shell(command: &str) -> (i32, String, String) {
    let bin = Path::new(env!("CARGO_BIN_EXE_drvctl")).parent().unwrap();
    let mut cmd = Command::new("sh");
    cmd.args(["-c", command]);
    cmd.env("PATH", format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default()));
    for var in ["DRVPROC_CONFIG", "DRVPROC_PATH"] {
        cmd.env_remove(var);
    }
    // The registry is named by the printed command alone: run it from elsewhere.
    cmd.current_dir("/");
    run(cmd)
}

#[test]
fn every_printed_fix_succeeds() {
    let s = Scratch::new();
    let d = s.dir.path();
    std::fs::write(d.join("gone.dll"), pe_dll(true)).unwrap();
    std::fs::write(d.join("empty.so"), "").unwrap();
    std::fs::create_dir(d.join("dir.so")).unwrap();
    let helper = c_library(d, "helper", "int helper(void) { return 1; }\n");
    let refuses = trace_copy(d, "refuses", "LOAD=0\n");
    let crashes = trace_copy(d, "crashes", "ABORT=DRV_LOAD\n");
    let hangs = trace_copy(d, "hangs", "HANG=DRV_LOAD\n");
    let good = lib("drvsample");
    let huge = "x".repeat(140 * 1024);
    let kinds: Vec<(&str, String)> = vec![
        ("missing", d.join("missing.so").display().to_string()),
        ("pe", d.join("gone.dll").display().to_string()),
        ("empty", d.join("empty.so").display().to_string()),
        ("directory", d.join("dir.so").display().to_string()),
        ("no.driverproc", helper.display().to_string()),
        ("bare", "msg711.acm".into()),
        ("refuses", refuses.display().to_string()),
        ("crashes", crashes.display().to_string()),
        ("hangs", hangs.display().to_string()),
        ("nul", format!("{}\0x.so", d.display())),
        ("huge", huge),
    ];
    let mut text = String::from("; kept\n[Drivers32]\n");
    for (alias, value) in &kinds {
        text.push_str(&format!("{alias}={value}\n"));
    }
    text.push_str(&format!("good={}\n", good.display()));
    s.write_config(&text);

    let (code, out, _) = run(s.drvctl(&["doctor", "--timeout", "2"]));
    assert_eq!(code, 1, "{out}");
    assert!(out.ends_with("12 entries, 11 broken\n"), "{out}");
    // A hang's fix waits no longer than doctor did.
    assert!(fix_command(&out, "hangs").contains(" --timeout 2 "), "{out}");
    for (alias, _) in &kinds {
        let command = fix_command(&out, alias);
        let (code, fixed, err) = shell(&command);
        assert_eq!(code, 0, "{alias}: `{command}` failed: {err}");
        assert!(fixed.contains("DRV_REMOVE was not sent: "), "{alias}: {fixed}");
        let after = s.read_config();
        assert!(!after.contains(&format!("\n{alias}=")), "{alias} is still there:\n{after}");
    }
    assert_eq!(s.read_config(), format!("; kept\n[Drivers32]\ngood={}\n", good.display()));
    let (code, out, _) = run(s.drvctl(&["doctor"]));
    assert_eq!(
        (code, without_isolation(&out).as_str()),
        (
            0,
            format!(
                "ok     [Drivers32] good = {p}: loads and opens ({p})\n1 entry, 0 broken\n",
                p = good.display()
            )
            .as_str()
        )
    );
}

/// A driver that can be opened is told: its refusal keeps the entry without
/// `--force`, as before.
#[test]
fn a_driver_that_can_be_told_is_still_asked() {
    let s = Scratch::new();
    let trace = trace_copy(s.dir.path(), "no", "ANSWER=DRV_REMOVE:0\n");
    s.write_config(&format!("[Drivers32]\nno={}\n", trace.display()));
    let (code, _, err) = run(s.drvctl(&["remove", "no"]));
    assert_eq!(code, 1);
    assert!(err.contains("the driver refused removal (DRV_REMOVE answered 0, DRVCNF_CANCEL)"), "{err}");
    let (code, out, _) = run(s.drvctl(&["remove", "no", "--force"]));
    assert_eq!(code, 0, "{out}");
    assert_eq!(s.read_config(), "[Drivers32]\n");
}

#[test]
fn doctor_and_list_refuse_a_registry_that_does_not_exist() {
    let s = Scratch::new();
    let config = s.config();
    for args in [&["doctor"][..], &["doctor", "--json"], &["list"], &["list", "--json"]] {
        let (code, out, err) = run(s.drvctl(args));
        let message = format!(
            "the registry file {} does not exist (named by --config); install a driver to create it",
            config.display()
        );
        // With --json the error is also the document on stdout.
        let document = if args.contains(&"--json") {
            let doc = serde_json::json!({
                "version": 1,
                "command": args[0],
                "error": {"message": message, "exit_code": 1},
            });
            format!("{doc}\n")
        } else {
            String::new()
        };
        assert_eq!(
            (code, out.as_str(), err.as_str()),
            (1, document.as_str(), format!("drvctl: {message}\n").as_str()),
            "{args:?}"
        );
    }
    let mut cmd = common::drvctl(&["doctor"]);
    cmd.env("DRVPROC_CONFIG", path_str(&config));
    let (_, _, err) = run(cmd);
    assert!(err.contains("(named by DRVPROC_CONFIG)"), "{err}");
}

#[test]
fn doctor_and_doctor_json_agree_on_an_empty_registry() {
    let s = Scratch::new();
    s.write_config("; nothing yet\n[386Enh]\nwoafont=dosapp.fon\n");
    let (code, out, _) = run(s.drvctl(&["doctor"]));
    assert_eq!(
        (code, without_isolation(&out).as_str()),
        (
            0,
            format!(
                "no driver entries in [Drivers32], [drivers], [MCI32], [MCI] of {}\n",
                s.config().display()
            )
            .as_str()
        )
    );
    let (code, out, _) = run(s.drvctl(&["doctor", "--json"]));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        without_isolation_json(v),
        serde_json::json!({
            "version": 1,
            "command": "doctor",
            "config": path_str(&s.config()),
            "entries": [],
            "warnings": [],
            "total": 0,
            "broken": 0,
        })
    );
}

#[test]
fn a_missing_registry_directory_is_not_something_install_creates() {
    let s = Scratch::new();
    let config = s.dir.path().join("typo").join("system.ini");
    let (code, _, err) = run(common::drvctl(&["--config", path_str(&config), "list"]));
    assert_eq!(code, 1);
    assert_eq!(
        err,
        format!(
            "drvctl: the registry file {} does not exist, nor does its directory {} (named by --config); check the path\n",
            config.display(),
            config.parent().unwrap().display()
        )
    );
    // A relative DRVPROC_CONFIG is still recognised as where the path came from.
    let mut cmd = common::drvctl(&["list"]);
    cmd.env("DRVPROC_CONFIG", "system.ini").current_dir(s.dir.path());
    let (code, _, err) = run(cmd);
    assert_eq!(code, 1);
    assert!(err.contains("(named by DRVPROC_CONFIG); install a driver to create it"), "{err}");
}
