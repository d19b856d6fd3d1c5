//! drvctl with Windows' own registry, run under Wine: with no `--config` (nor
//! `DRVPROC_CONFIG`, nor `HOME`), `list` shows the aliases of the registry key
//! `HKLM\Software\Microsoft\Windows NT\CurrentVersion\Drivers32` and of
//! `%WINDIR%\system.ini` (Wine's codecs), each under its source, and `remove`
//! deletes the key's value. Each test uses its own aliases.
#![cfg(windows)]

use std::process::{Command, Output};

mod common;

const KEY: &str = r"HKLM\Software\Microsoft\Windows NT\CurrentVersion\Drivers32";
const SHOWN_KEY: &str = r"HKEY_LOCAL_MACHINE\Software\Microsoft\Windows NT\CurrentVersion\Drivers32";

fn reg(args: &[&str]) -> Output {
    Command::new("reg").args(args).output().expect("reg.exe")
}

fn reg_add(alias: &str, value: &str) {
    let out = reg(&["add", KEY, "/v", alias, "/d", value, "/f"]);
    assert!(out.status.success(), "reg add: {}", String::from_utf8_lossy(&out.stderr));
}

fn reg_has(alias: &str) -> bool {
    reg(&["query", KEY, "/v", alias]).status.success()
}

/// drvctl with no configuration named anywhere, and no HOME.
fn drvctl(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_drvctl"))
        .args(args)
        .env_remove("DRVPROC_CONFIG")
        .env_remove("HOME")
        .env_remove("XDG_CONFIG_HOME")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn windows_ini() -> String {
    format!(r"{}\system.ini", std::env::var("WINDIR").unwrap())
}

#[test]
fn list_shows_the_key_and_system_ini_each_under_its_source() {
    reg_add("drvproc.list.key", "listed.dll arg");
    let (ok, stdout, stderr) = drvctl(&["list"]);
    reg(&["delete", KEY, "/v", "drvproc.list.key", "/f"]);
    assert!(ok, "{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    let key_header = lines.iter().position(|l| *l == format!("[Drivers32] in {SHOWN_KEY}")).expect(&stdout);
    let file_header =
        lines.iter().position(|l| *l == format!("[Drivers32] in {}", windows_ini())).expect(&stdout);
    let ours = lines.iter().position(|l| l.trim_start().starts_with("drvproc.list.key ")).expect(&stdout);
    let mrle = lines.iter().position(|l| l.trim_start().starts_with("vidc.mrle ")).expect(&stdout);
    assert!(key_header < ours && ours < file_header && file_header < mrle, "{stdout}");
    assert!(lines[ours].contains("listed.dll arg"), "{stdout}");
    assert!(lines[mrle].contains("msrle32.dll"), "{stdout}");
}

#[test]
fn list_json_says_where_each_entry_is_recorded() {
    reg_add("drvproc.json.key", "json.dll");
    let (ok, stdout, stderr) = drvctl(&["list", "--json"]);
    reg(&["delete", KEY, "/v", "drvproc.json.key", "/f"]);
    assert!(ok, "{stderr}");
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(doc["config"], windows_ini());
    let entry = |alias: &str| {
        doc["entries"].as_array().unwrap().iter().find(|e| e["alias"] == alias).cloned().expect(alias)
    };
    assert_eq!(entry("drvproc.json.key")["source"], "key");
    assert_eq!(entry("vidc.mrle")["source"], "file");
}

#[test]
fn remove_deletes_the_key_value() {
    reg_add("drvproc.remove.key", r"C:\nowhere\gone.dll");
    // The driver cannot be opened: the entry goes (--force: whatever the driver says).
    let (ok, stdout, stderr) = drvctl(&["remove", "--force", "drvproc.remove.key"]);
    assert!(ok, "{stderr}");
    assert!(
        stdout.starts_with(&format!(
            r"removed [Drivers32] drvproc.remove.key = C:\nowhere\gone.dll from {SHOWN_KEY}"
        )),
        "{stdout}"
    );
    assert!(!reg_has("drvproc.remove.key"));
    let (ok, _, stderr) = drvctl(&["remove", "--force", "drvproc.remove.key"]);
    assert!(!ok);
    assert!(
        stderr.contains(&format!("no such alias in [Drivers32] of {SHOWN_KEY} and {}", windows_ini())),
        "{stderr}"
    );
}

/// A registry file named with --config, outside Wine's own.
fn scratch_config() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("system.ini");
    std::fs::write(&config, "[Drivers32]\ndrvproc.file.only=C:\\nowhere\\x.dll\n").unwrap();
    let config = config.to_str().unwrap().to_string();
    (dir, config)
}

#[test]
fn with_config_list_shows_the_file_only() {
    reg_add("drvproc.hidden.key", "hidden.dll");
    let (_dir, config) = scratch_config();
    let (ok, stdout, stderr) = drvctl(&["--config", &config, "list"]);
    reg(&["delete", KEY, "/v", "drvproc.hidden.key", "/f"]);
    assert!(ok, "{stderr}");
    assert!(stdout.starts_with("[Drivers32]\n  drvproc.file.only  C:\\nowhere\\x.dll  "), "{stdout}");
    assert!(!stdout.contains("vidc.mrle") && !stdout.contains("drvproc.hidden.key"), "{stdout}");
}

#[test]
fn with_config_remove_edits_the_file_not_the_key() {
    reg_add("drvproc.file.only", "key.dll");
    let (dir, config) = scratch_config();
    let (ok, _, stderr) = drvctl(&["--config", &config, "remove", "--force", "drvproc.file.only"]);
    let kept = reg_has("drvproc.file.only");
    reg(&["delete", KEY, "/v", "drvproc.file.only", "/f"]);
    assert!(ok, "{stderr}");
    assert!(kept, "the key's value of the same alias stays");
    assert_eq!(std::fs::read_to_string(dir.path().join("system.ini")).unwrap(), "[Drivers32]\n");
}

/// The value `reg query` shows for `alias` in the Drivers32 key.
fn reg_value(alias: &str) -> Option<String> {
    let out = reg(&["query", KEY, "/v", alias]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.lines()
        .find_map(|l| l.trim_start().strip_prefix(alias)?.trim_start().strip_prefix("REG_SZ"))
        .map(|v| v.trim().to_string())
}

#[test]
fn install_of_a_relative_file_records_its_plain_absolute_path_in_the_key() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(common::lib("drvsample"), dir.path().join("drvsample.dll")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_drvctl"))
        .args(["install", "drvproc.install.rel", "drvsample.dll"])
        .current_dir(dir.path())
        .env_remove("DRVPROC_CONFIG")
        .env_remove("HOME")
        .output()
        .unwrap();
    let value = reg_value("drvproc.install.rel");
    reg(&["delete", KEY, "/v", "drvproc.install.rel", "/f"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let expected = std::path::absolute(dir.path().join("drvsample.dll")).unwrap();
    assert_eq!(value.as_deref(), Some(expected.to_str().unwrap()));
}

#[test]
fn a_driver_that_aborts_in_drv_install_is_said_to_have_crashed_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let driver = dir.path().join("drvtrace.dll");
    std::fs::copy(common::lib("drvtrace"), &driver).unwrap();
    std::fs::write(dir.path().join("drvtrace.env"), "ABORT=DRV_INSTALL\n").unwrap();
    let (ok, _, stderr) = drvctl(&["install", "drvproc.install.abort", driver.to_str().unwrap()]);
    let kept = reg_has("drvproc.install.abort");
    reg(&["delete", KEY, "/v", "drvproc.install.abort", "/f"]);
    assert!(!ok && !kept, "{stderr}");
    assert!(stderr.contains("the driver crashed: ended by exception 0xC0000409"), "{stderr}");
    assert!(stderr.contains(" during DRV_INSTALL"), "{stderr}");
    assert!(stderr.trim_end().ends_with("; nothing was registered"), "{stderr}");
}

/// Shell completion offers the aliases drvctl itself would find: the key's too.
#[test]
fn completion_offers_the_keys_aliases() {
    reg_add("drvproc.complete.key", "x.dll");
    let out = Command::new(env!("CARGO_BIN_EXE_drvctl"))
        .args(["--", "drvctl", "send", "drvproc.complete"])
        .env("COMPLETE", "fish")
        .env_remove("DRVPROC_CONFIG")
        .env_remove("HOME")
        .output()
        .unwrap();
    reg(&["delete", KEY, "/v", "drvproc.complete.key", "/f"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let offered: Vec<&str> = stdout.lines().map(|l| l.split('\t').next().unwrap_or("").trim()).collect();
    assert_eq!(offered, ["drvproc.complete.key"], "{stdout}");
}
