//! `drvctl check` end to end, including drivers that crash, abort, panic and hang
//! (each in a child process).

mod common;

use common::*;

fn rule_results(json: &str) -> Vec<(String, bool)> {
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    v["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["rule"].as_str().unwrap().to_string(), r["pass"].as_bool().unwrap()))
        .collect()
}

const RULES: [&str; 9] =
    ["load", "open", "instances", "routing", "defaults", "close-order", "unload", "reload", "threads"];

#[test]
fn the_sample_drivers_pass() {
    let (code, out, err) =
        run(drvctl(&["check", path_str(&lib("drvsample")), "--config", "/nonexistent/x.ini"]));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.ends_with("9 of 9 rules pass\n"), "{out}");
    assert_eq!(err, "", "no progress lines when stderr is not a terminal");
}

/// The C sample is built with the host's C compiler, which a Windows test under Wine
/// cannot run.
#[cfg(unix)]
#[test]
fn the_c_sample_passes() {
    let dir = tempfile::tempdir().unwrap();
    let c_sample = drvproc_capi_tests::build_c_sample(dir.path());
    let (code, json, _) =
        run(drvctl(&["check", "--json", path_str(&c_sample), "--config", "/nonexistent/x.ini"]));
    assert_eq!(code, 0, "{json}");
    assert!(rule_results(&json).iter().all(|(_, pass)| *pass), "{json}");
}

#[test]
fn the_broken_driver_fails_exactly_the_rules_it_breaks() {
    let (code, json, _) =
        run(drvctl(&["check", "--json", path_str(&lib("drvbroken")), "--config", "/nonexistent/x.ini"]));
    assert_eq!(code, 1);
    let failed: Vec<String> =
        rule_results(&json).into_iter().filter(|(_, pass)| !pass).map(|(r, _)| r).collect();
    assert_eq!(failed, ["defaults", "reload"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(
        v["rules"][4]["evidence"]
            .as_str()
            .unwrap()
            .starts_with("0x000D (undefined) answered 1, DefDriverProc answers 0")
    );
    assert_eq!((v["passed"].as_u64(), v["total"].as_u64()), (Some(7), Some(9)));
    assert_eq!(v["rules"][7]["evidence"], "the second DRV_LOAD, after DRV_FREE, answered 0");
}

/// How an abort ends the process: SIGABRT, or on Windows Rust's fast fail.
const ABORTED: &str = if cfg!(windows) {
    "the driver crashed the process: ended by exception 0xC0000409 (fast fail: the process aborted itself)"
} else {
    "the driver crashed the process: killed by signal 6 (SIGABRT)"
};

#[test]
fn crashing_drivers_cannot_take_drvctl_down() {
    let trace = lib("drvtrace");
    for (var, msg, evidence) in
        [("DRVTRACE_ABORT", "DRV_OPEN", ABORTED), ("DRVTRACE_PANIC", "DRV_LOAD", ABORTED)]
    {
        let mut cmd = drvctl(&["check", "--json", path_str(&trace), "--config", "/nonexistent/x.ini"]);
        cmd.env(var, msg);
        let (code, json, _) = run(cmd);
        assert_eq!(code, 1, "{var}");
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        for r in v["rules"].as_array().unwrap() {
            assert_eq!(r["pass"], false, "{var}: {r}");
            assert!(r["evidence"].as_str().unwrap().starts_with(evidence), "{var}: {r}");
        }
        assert_eq!(v["rules"].as_array().unwrap().len(), RULES.len());
    }
}

#[test]
fn hanging_drivers_time_out() {
    let mut cmd =
        drvctl(&["check", "--json", "--timeout", "1", path_str(&lib("drvtrace")), "--config", "/x/y.ini"]);
    cmd.env("DRVTRACE_HANG", "DRV_QUERYCONFIGURE");
    let (code, json, _) = run(cmd);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let hung: Vec<&str> = v["rules"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["evidence"] == "no answer within 1 s: the driver hangs")
        .map(|r| r["rule"].as_str().unwrap())
        .collect();
    assert_eq!(hung, ["routing", "threads"], "the rules that send DRV_QUERYCONFIGURE");
}

/// Colours appear only on a terminal, and `NO_COLOR` turns them off there too. The
/// terminal is a pseudo-terminal from util-linux's `script`.
#[cfg(unix)]
#[test]
fn colour_only_on_a_terminal_without_no_color() {
    let sample = lib("drvsample");
    let command =
        format!("{} check {} --config /nonexistent/x.ini", env!("CARGO_BIN_EXE_drvctl"), sample.display());
    let on_tty = |no_color: bool| {
        let mut cmd = std::process::Command::new("script");
        cmd.args(["-qec", &command, "/dev/null"]);
        if no_color {
            cmd.env("NO_COLOR", "1");
        } else {
            cmd.env_remove("NO_COLOR");
        }
        run(cmd).1
    };
    let coloured = on_tty(false);
    assert!(coloured.contains("\x1b[32mPASS\x1b[0m"), "{coloured:?}");
    let plain = on_tty(true);
    assert!(plain.contains("PASS") && !plain.contains("\x1b[32m"), "{plain:?}");
    let (_, piped, _) = run(drvctl(&["check", path_str(&sample), "--config", "/nonexistent/x.ini"]));
    assert!(!piped.contains('\x1b'), "{piped:?}");
}
