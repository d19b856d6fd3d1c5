//! `drvctl check` on drivers that crash or hang in a message: a crash is reported
//! with the signal and, from the rule run again with the driver hosted in a process
//! of its own, the message it died on; a hang as the timeout.
#![cfg(target_os = "linux")]

mod common;
mod diagnose_samples;

use common::*;
use diagnose_samples::trace_copy;

fn check_json(driver: &std::path::Path, timeout: &str, env: &[(&str, &str)]) -> (i32, serde_json::Value) {
    let mut cmd =
        drvctl(&["check", "--json", "--timeout", timeout, path_str(driver), "--config", "/x/y.ini"]);
    cmd.envs(env.iter().copied());
    let (code, out, err) = run(cmd);
    (code, serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}{err}")))
}

/// (rule, evidence) of every failed rule.
fn failures(v: &serde_json::Value) -> Vec<(String, String)> {
    v["rules"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["pass"] == false)
        .map(|r| (r["rule"].as_str().unwrap().into(), r["evidence"].as_str().unwrap().into()))
        .collect()
}

const SEGV_QUERYCONFIGURE: &str = "the driver crashed the process: killed by signal 11 (SIGSEGV) during \
    DRV_QUERYCONFIGURE: drvtrace: crashing with a segmentation fault on DRV_QUERYCONFIGURE as configured";

#[test]
fn a_segfault_names_the_signal_and_the_message() {
    let dir = tempfile::tempdir().unwrap();
    let driver = trace_copy(dir.path(), "segv", "SEGV=DRV_QUERYCONFIGURE\n");
    let (code, v) = check_json(&driver, "5", &[]);
    assert_eq!(code, 1, "a failed rule: exit status 1\n{v}");
    assert_eq!(
        failures(&v),
        [("routing".into(), SEGV_QUERYCONFIGURE.into()), ("threads".into(), SEGV_QUERYCONFIGURE.into())]
    );
    assert_eq!((v["passed"].as_u64(), v["total"].as_u64()), (Some(7), Some(9)));

    let (code, out, err) = run(drvctl(&["check", path_str(&driver), "--config", "/x/y.ini"]));
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains(&format!("       {:<12} {SEGV_QUERYCONFIGURE}\n", "")), "{out}");
    assert!(out.ends_with("7 of 9 rules pass\n"), "{out}");
}

/// Without a host program the crash is reported as the rule's child saw it.
#[test]
fn without_a_host_program_the_crash_is_still_reported() {
    let dir = tempfile::tempdir().unwrap();
    let driver = trace_copy(dir.path(), "segv", "SEGV=DRV_QUERYCONFIGURE\n");
    let (code, v) = check_json(&driver, "5", &[("DRVPROC_HOSTD", "/nonexistent/drvproc-hostd")]);
    assert_eq!(code, 1, "{v}");
    let said = "the driver crashed the process: killed by signal 11 (SIGSEGV): \
                drvtrace: crashing with a segmentation fault on DRV_QUERYCONFIGURE as configured";
    assert_eq!(failures(&v), [("routing".into(), said.into()), ("threads".into(), said.into())]);
}

/// A hang is the timeout; a crash in another rule of the same driver is named.
#[test]
fn a_hang_is_a_timeout_and_a_crash_beside_it_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let driver = trace_copy(dir.path(), "hang", "HANG=DRV_QUERYCONFIGURE\nABORT=0x000D\n");
    let start = std::time::Instant::now();
    let (code, v) = check_json(&driver, "1", &[]);
    assert_eq!(code, 1, "{v}");
    let hung = "no answer within 1 s: the driver hangs".to_string();
    assert_eq!(
        failures(&v),
        [
            ("routing".into(), hung.clone()),
            (
                "defaults".into(),
                "the driver crashed the process: killed by signal 6 (SIGABRT) during 0x000D (undefined): \
                 drvtrace: aborting on 0x000D (undefined) as configured"
                    .into()
            ),
            ("threads".into(), hung),
        ]
    );
    assert!(start.elapsed() < std::time::Duration::from_secs(5), "took {:?}", start.elapsed());
}
