//! One diagnosis of a driver file, worded the same by every command that meets it:
//! `send`, `trace`, `list`, `doctor`, `check`, `install` and `remove`. The headers are parsed, never
//! guessed from the first bytes, and no loader text stands in for them.
#![cfg(all(target_os = "linux", target_arch = "x86_64"))]

mod common;
mod diagnose_samples;

use std::path::{Path, PathBuf};

use common::{Scratch, path_str, run};
use diagnose_samples::{c_library, elf_header, fifo, pe_dll};

const HOST: &str = "this machine loads ELF shared libraries (64-bit, x86-64)";

/// Each kind of file: its name, how to make it, and what it is, in words.
fn cases(dir: &Path) -> Vec<(PathBuf, String)> {
    let at = |name: &str| dir.join(name);
    let mut cases = Vec::new();
    let mut add = |p: PathBuf, words: String| cases.push((p.clone(), format!("{} {words}", p.display())));

    let p = at("notes.dll");
    std::fs::write(&p, "MZ is how this text file starts\n").unwrap();
    add(p, "is not a shared library (it starts with \"MZ\" but has no PE header)".into());
    let p = at("pe32.dll");
    std::fs::write(&p, pe_dll(false)).unwrap();
    add(p, format!("is a Windows DLL (PE32, x86); {HOST}"));
    let p = at("pe64.dll");
    std::fs::write(&p, pe_dll(true)).unwrap();
    add(p, format!("is a Windows DLL (PE32+, x86-64); {HOST}"));
    let p = at("elf32.so");
    std::fs::write(&p, elf_header(false, 3)).unwrap();
    add(p, format!("is a 32-bit ELF shared library for x86; {HOST}"));
    let p = at("arm64.so");
    std::fs::write(&p, elf_header(true, 183)).unwrap();
    add(p, format!("is a 64-bit ELF shared library for aarch64; {HOST}"));
    let p = at("empty.so");
    std::fs::write(&p, "").unwrap();
    add(p, "is an empty file, not a driver library".into());
    let p = at("dir.so");
    std::fs::create_dir(&p).unwrap();
    add(p, "is a directory, not a driver library".into());
    let p = at("fifo.so");
    fifo(&p);
    add(p, "is a named pipe (FIFO), not a driver library".into());
    add(at("missing.so"), "does not exist".into());
    let p = at("loop.so");
    std::os::unix::fs::symlink(&p, &p).unwrap();
    add(p, "is a symbolic link loop (too many levels of symbolic links)".into());
    let p = at("dangling.so");
    std::os::unix::fs::symlink(at("gone.so"), &p).unwrap();
    add(p, format!("is a symbolic link to {}, which does not exist", at("gone.so").display()));
    let p = c_library(dir, "helper", "int helper(void) { return 1; }\n");
    add(p, "exports no DriverProc: it is a shared library but not an installable driver".into());
    cases
}

#[test]
fn every_command_says_the_same_about_a_file() {
    let s = Scratch::new();
    for (path, words) in cases(s.dir.path()) {
        let p = path_str(&path);
        s.write_config(&format!("[drivers32]\nk={p}\n"));

        for target in [p, "k"] {
            let (code, out, err) = run(s.drvctl(&["send", target, "DRV_USER"]));
            assert_eq!((code, out.as_str(), err.as_str()), (1, "", format!("drvctl: {words}\n").as_str()));
        }

        let (code, out, err) = run(s.drvctl(&["trace", p]));
        assert_eq!(code, 1);
        assert_eq!(out, format!("> open #1: failed: {words}\n"));
        assert_eq!(err, format!("drvctl: open #1 failed: {words}\n"));

        let (code, json, _) = run(s.drvctl(&["list", "--json"]));
        assert_eq!(code, 0);
        let listed: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(listed["entries"][0]["problem"], words.as_str(), "{json}");

        let (code, out, _) = run(s.drvctl(&["doctor", "--timeout", "2"]));
        assert_eq!(code, 1);
        assert_eq!(
            out.lines().next(),
            Some(format!("broken [drivers32] k = {p}: {words}").as_str()),
            "{out}"
        );

        let (code, out, err) = run(s.drvctl(&["check", p, "--timeout", "2"]));
        assert_eq!(
            (code, out.as_str(), err.as_str()),
            (1, "", format!("drvctl: cannot check: {words}\n").as_str())
        );

        let before = s.read_config();
        let (code, out, err) = run(s.drvctl(&["install", "new.alias", p]));
        assert_eq!((code, out.as_str()), (1, ""), "{err}");
        assert!(err.starts_with("drvctl: ") && err.contains(&words) && err.lines().count() == 1, "{err}");
        assert_eq!(s.read_config(), before, "nothing was registered");

        let (code, out, err) = run(s.drvctl(&["remove", "k", "--section", "drivers32"]));
        assert_eq!(
            (code, out.as_str(), err.as_str()),
            (0, format!("removed [drivers32] k = {p} (DRV_REMOVE was not sent: {words})\n").as_str(), "")
        );
        assert_eq!(s.read_config(), "[drivers32]\n");
    }
}

/// A loader's refusal that the headers cannot foresee (an unresolved symbol) keeps
/// the loader's words, once, after the file's name.
#[test]
fn loader_failures_name_the_file_once() {
    let s = Scratch::new();
    let lib = c_library(
        s.dir.path(),
        "unresolved",
        "extern int no_such_symbol_anywhere(void);\nint helper(void) { return no_such_symbol_anywhere(); }\n\
         long DriverProc(unsigned long i, void *h, unsigned m, long a, long b) { return m == 1 || m == 4; }\n",
    );
    let p = path_str(&lib);
    let (code, out, err) = run(s.drvctl(&["trace", p]));
    assert_eq!(code, 1);
    let words = format!("{p}: cannot load: {p}: undefined symbol: no_such_symbol_anywhere");
    assert_ne!(out, format!("> open #1: failed: {words}\n"), "the loader's copy of the path is dropped");
    assert_eq!(out.matches(p).count(), 1, "{out}");
    assert_eq!(err.matches(p).count(), 1, "{err}");
    assert!(err.ends_with(": cannot load: undefined symbol: no_such_symbol_anywhere\n"), "{err}");
}
