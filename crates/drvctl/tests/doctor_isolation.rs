//! `doctor` says whether drivers can be isolated here: the host program a manager
//! would start, and the kernel's Landlock sandbox or why there is none.
#![cfg(target_os = "linux")]

mod common;

use common::*;

/// The kernel's Landlock ABI, asked directly; `None` without Landlock.
fn landlock_abi() -> Option<i64> {
    // SAFETY: with a null attribute, size 0 and LANDLOCK_CREATE_RULESET_VERSION (1),
    // the system call only returns a number.
    let v = unsafe { libc::syscall(libc::SYS_landlock_create_ruleset, std::ptr::null::<u8>(), 0usize, 1u32) };
    (v > 0).then_some(v)
}

fn healthy_registry() -> Scratch {
    let s = Scratch::new();
    s.write_config(&format!("[Drivers32]\ngood={}\n", lib("drvsample").display()));
    s
}

#[test]
fn doctor_names_the_host_program_and_the_sandbox() {
    let s = healthy_registry();
    let host = env!("CARGO_BIN_EXE_drvctl");
    let mut cmd = s.drvctl(&["doctor"]);
    cmd.env("DRVPROC_HOSTD", host);
    let (code, out, err) = run(cmd);
    assert_eq!(code, 0, "{out}{err}");
    let lines: Vec<&str> = out.lines().collect();
    let sandbox = match landlock_abi() {
        Some(abi) => format!("sandbox: Landlock ABI {abi}"),
        None => "sandbox: no new privileges only, files not confined (".into(),
    };
    assert!(lines[1].starts_with(&format!("ok     isolation: host program {host}; {sandbox}")), "{out}");
    assert_eq!(lines.len(), 3, "{out}");
    assert_eq!(lines[2], "1 entry, 0 broken");

    let mut cmd = s.drvctl(&["doctor", "--json"]);
    cmd.env("DRVPROC_HOSTD", host);
    let (code, out, _) = run(cmd);
    assert_eq!(code, 0, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let isolation = &v["isolation"];
    assert_eq!((&isolation["host_program"], &isolation["host_program_found"]), (&host.into(), &host.into()));
    match landlock_abi() {
        Some(abi) => assert_eq!(
            (&isolation["landlock_abi"], &isolation["landlock_missing"]),
            (&abi.into(), &serde_json::Value::Null)
        ),
        None => {
            assert_eq!(isolation["landlock_abi"], serde_json::Value::Null);
            assert!(isolation["landlock_missing"].as_str().unwrap().contains("Landlock"), "{out}");
        }
    }
}

/// A missing host program is said, and is not a broken entry.
#[test]
fn doctor_says_when_there_is_no_host_program() {
    let s = healthy_registry();
    let mut cmd = s.drvctl(&["doctor"]);
    cmd.env("DRVPROC_HOSTD", "/nonexistent/drvproc-hostd");
    let (code, out, err) = run(cmd);
    assert_eq!(code, 0, "{out}{err}");
    let line = out.lines().nth(1).unwrap();
    assert!(
        line.starts_with(
            "absent isolation: no host program /nonexistent/drvproc-hostd (install drvproc-hostd beside \
             the application or on PATH, or name it with DRVPROC_HOSTD); sandbox: "
        ),
        "{out}"
    );
    let mut cmd = s.drvctl(&["doctor", "--json"]);
    cmd.env("DRVPROC_HOSTD", "/nonexistent/drvproc-hostd");
    let v: serde_json::Value = serde_json::from_str(&run(cmd).1).unwrap();
    assert_eq!(v["isolation"]["host_program_found"], serde_json::Value::Null);
    assert_eq!(v["broken"], 0);
}
