//! `doctor` end to end: one line per driver entry, the diagnosis of each broken one
//! and its fix, and a registry left as it was.
#![cfg(all(target_os = "linux", target_arch = "x86_64"))]

mod common;
mod diagnose_samples;

use common::*;

#[test]
fn doctor_diagnoses_each_entry_with_a_fix() {
    let s = Scratch::new();
    std::fs::write(s.dir.path().join("imaadp32.acm"), diagnose_samples::pe_dll(false)).unwrap();
    std::fs::write(s.dir.path().join("notes.txt"), b"hello").unwrap();
    let sample = lib("drvsample");
    let trace = lib("drvtrace");
    s.write_config(&format!(
        "[drivers32]\r\nmsacm.imaadpcm=imaadp32.acm\r\ngood={}\r\nmissing=msg711.acm\r\ntext=notes.txt\r\nhelper=libm.so.6\r\n\
         refuses={}\r\n[386enh]\r\nwoafont=dosapp.fon\r\n",
        sample.display(),
        trace.display()
    ));
    let before = s.read_config();
    let mut cmd = s.drvctl(&["doctor"]);
    cmd.env("DRVTRACE_ANSWER", "DRV_LOAD:0");
    let (code, out, _) = run(cmd);
    assert_eq!(code, 1, "{out}");
    let d = s.dir.path().display();
    let remove = |alias: &str| {
        format!(
            "or remove the entry: `drvctl --config {} remove --section drivers32 {alias}`",
            s.config().display()
        )
    };
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        format!(
            "broken [drivers32] msacm.imaadpcm = imaadp32.acm: {d}/imaadp32.acm is a Windows DLL (PE32, x86); \
             this machine loads ELF shared libraries (64-bit, x86-64)"
        )
    );
    assert_eq!(
        lines[1],
        format!(
            "       fix: install a native build of the driver, or run it under Wine; {}",
            remove("msacm.imaadpcm")
        )
    );
    assert_eq!(
        lines[2],
        format!("ok     [drivers32] good = {p}: loads and opens ({p})", p = sample.display())
    );
    assert!(
        lines[3].starts_with("broken [drivers32] missing = msg711.acm: msg711.acm: not found in "),
        "{out}"
    );
    assert_eq!(
        lines[5],
        format!(
            "broken [drivers32] text = notes.txt: {d}/notes.txt is not a shared library (it has no ELF, PE or Mach-O header)"
        )
    );
    assert_eq!(
        lines[7],
        "broken [drivers32] helper = libm.so.6: libm.so.6 exports no DriverProc: it is a shared library but not an \
         installable driver"
    );
    assert_eq!(
        lines[8],
        format!("       fix: register the driver's own library, not a helper library; {}", remove("helper"))
    );
    assert_eq!(
        lines[9],
        format!(
            "broken [drivers32] refuses = {}: {}: the driver refused DRV_LOAD",
            trace.display(),
            trace.display()
        )
    );
    assert_eq!(lines.last().unwrap(), &"6 entries, 5 broken", "[386enh] is not a driver section");
    assert_eq!(s.read_config(), before, "doctor changes nothing");

    s.write_config(&format!("[Drivers32]\ngood={}\n", sample.display()));
    let (code, out, _) = run(s.drvctl(&["doctor"]));
    assert_eq!(code, 0, "{out}");
    assert!(out.ends_with("1 entry, 0 broken\n"));
}
