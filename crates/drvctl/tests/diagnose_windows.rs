//! On Windows a driver is a PE32+ DLL: such a file is native, an ELF library is the
//! foreign one, and a 32-bit DLL needs a 32-bit host. Every command words it the
//! same, as on Unix (see diagnose_cli.rs), with Windows' words.
#![cfg(all(windows, target_arch = "x86_64"))]

mod common;
mod diagnose_samples;

use std::path::{Path, PathBuf};

use common::{Scratch, path_str, run};
use diagnose_samples::{elf_header, pe_dll};

const HOST: &str = "this machine loads Windows DLLs (64-bit, x86-64)";

/// Each kind of file: its name, how to make it, what it is in words, and the fix.
fn cases(dir: &Path) -> Vec<(PathBuf, String, &'static str)> {
    let at = |name: &str| dir.join(name);
    let mut cases = Vec::new();
    let mut add = |p: PathBuf, words: String, fix: &'static str| {
        cases.push((p.clone(), format!("{} {words}", p.display()), fix))
    };
    let p = at("pe32.dll");
    std::fs::write(&p, pe_dll(false)).unwrap();
    add(
        p,
        "is a 32-bit Windows DLL (PE32, x86), which only a 32-bit process can load; this drvctl is 64-bit"
            .into(),
        "install the 64-bit (x64) build of the driver",
    );
    let p = at("pe64.dll");
    std::fs::write(&p, pe_dll(true)).unwrap();
    add(
        p,
        "exports no DriverProc: it is a shared library but not an installable driver".into(),
        "register the driver's own library, not a helper library",
    );
    let p = at("elf64.so");
    std::fs::write(&p, elf_header(true, 62)).unwrap();
    add(
        p,
        format!("is a 64-bit ELF shared library for x86-64 (a Linux or Unix library); {HOST}"),
        "install the Windows build of the driver (a DLL)",
    );
    let p = at("notes.dll");
    std::fs::write(&p, "MZ is how this text file starts\n").unwrap();
    add(
        p,
        "is not a shared library (it starts with \"MZ\" but has no PE header)".into(),
        "replace it with the driver library, or fix the entry",
    );
    add(at("missing.dll"), "does not exist".into(), "install the driver file there, or fix the entry");
    let p = at("dir.dll");
    std::fs::create_dir(&p).unwrap();
    add(
        p,
        "is a directory, not a driver library".into(),
        "replace it with the driver library, or fix the entry",
    );
    cases
}

#[test]
fn every_command_says_the_same_about_a_file() {
    let s = Scratch::new();
    for (path, words, fix) in cases(s.dir.path()) {
        let p = path_str(&path);
        s.write_config(&format!("[drivers32]\nk={p}\n"));

        for target in [p, "k"] {
            let (code, out, err) = run(s.drvctl(&["send", target, "DRV_USER"]));
            assert_eq!((code, out.as_str(), err.as_str()), (1, "", format!("drvctl: {words}\n").as_str()));
        }

        let (code, json, _) = run(s.drvctl(&["list", "--json"]));
        assert_eq!(code, 0);
        let listed: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(listed["entries"][0]["problem"], words.as_str(), "{json}");
        assert_eq!(listed["entries"][0]["fix"], fix, "{json}");

        let (code, out, err) = run(s.drvctl(&["check", p, "--timeout", "2"]));
        assert_eq!(
            (code, out.as_str(), err.as_str()),
            (1, "", format!("drvctl: cannot check: {words}\n").as_str())
        );
    }
}
