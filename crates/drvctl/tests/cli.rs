//! drvctl end to end: the real binary against the sample, trace and broken drivers.

mod common;

use common::*;

#[test]
fn demo_shows_the_whole_lifecycle() {
    let (code, out, err) = run(drvctl(&["demo"]));
    assert_eq!(code, 0, "{err}");
    let lifecycle = ["DRV_LOAD", "DRV_ENABLE", "DRV_OPEN"];
    let teardown = ["DRV_CLOSE", "DRV_DISABLE", "DRV_FREE"];
    let expected: Vec<&str> = [
        // install: open, DRV_INSTALL, close
        &lifecycle[..],
        &["DRV_INSTALL"],
        &teardown[..],
        // two opens through the alias
        &lifecycle[..],
        &["DRV_OPEN", "DRV_QUERYCONFIGURE", "DRV_USER+1", "DRV_CLOSE"],
        &teardown[..],
        // remove: open, DRV_REMOVE, close
        &lifecycle[..],
        &["DRV_REMOVE"],
        &teardown[..],
    ]
    .concat();
    assert_eq!(messages(&out), expected, "{out}");
    assert!(out.contains("two instances, one module: 2 instances, 1 module loaded"), "{out}");
    assert!(out.ends_with("registry now: \"[Drivers32]\\n\"\n"), "{out}");
    assert!(!out.contains('\x1b'), "no colour when not on a terminal");
}

#[test]
fn install_list_configure_send_remove() {
    let s = Scratch::new();
    let sample = lib("drvsample");
    let (code, out, err) =
        run(s.drvctl(&["install", "msacm.sample", path_str(&sample), "rate=8000", "--", "--x"]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, format!("installed [Drivers32] msacm.sample = {} rate=8000 --x\n", sample.display()));
    assert_eq!(s.read_config(), format!("[Drivers32]\nmsacm.sample={} rate=8000 --x\n", sample.display()));

    let (code, _, err) = run(s.drvctl(&["install", "msacm.sample", path_str(&sample)]));
    assert_eq!(code, 1);
    assert_eq!(
        err,
        format!(
            "drvctl: msacm.sample is already registered in [Drivers32] as \"{} rate=8000 --x\"; use --force to replace it\n",
            sample.display()
        )
    );
    let (code, _, _) = run(s.drvctl(&["install", "msacm.sample", path_str(&sample), "--force"]));
    assert_eq!(code, 0);
    assert_eq!(s.read_config(), format!("[Drivers32]\nmsacm.sample={}\n", sample.display()));

    let (code, out, _) = run(s.drvctl(&["list"]));
    assert_eq!(code, 0);
    let format = if cfg!(windows) { "PE32+ x86-64 DLL" } else { "ELF" };
    assert!(out.contains(&format!("msacm.sample  {p}  ok: {p} ({format}", p = sample.display())), "{out}");
    let (_, json, _) = run(s.drvctl(&["list", "--json"]));
    let parsed: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(parsed["entries"].as_array().unwrap().len(), 1, "{json}");
    let entry = &parsed["entries"][0];
    assert_eq!(entry["alias"], "msacm.sample");
    assert_eq!(entry["driver_proc"], true);
    assert_eq!(entry["problem"], serde_json::Value::Null);

    let (code, out, _) = run(s.drvctl(&["configure", "msacm.sample"]));
    assert_eq!(
        (code, out.as_str()),
        (0, "msacm.sample has no configuration (DRV_QUERYCONFIGURE answered 0)\n")
    );
    let (code, out, _) = run(s.drvctl(&["send", "msacm.sample", "DRV_INSTALL"]));
    assert_eq!((code, out.as_str()), (0, "DRV_INSTALL answered 1 (0x1)\n"));
    let (code, out, _) =
        run(s.drvctl(&["send", "MSACM.SAMPLE", "0x4003", "-1", "0x10", "--section", "drivers32"]));
    assert_eq!((code, out.as_str()), (0, "DRV_USER+3 answered 0 (0x0)\n"));

    let (code, out, _) = run(s.drvctl(&["remove", "msacm.sample"]));
    assert_eq!(code, 0);
    assert_eq!(out, format!("removed [Drivers32] msacm.sample = {}\n", sample.display()));
    assert_eq!(s.read_config(), "[Drivers32]\n");
    let (code, _, err) = run(s.drvctl(&["remove", "msacm.sample"]));
    assert_eq!(code, 1);
    assert!(err.starts_with("drvctl: msacm.sample: no such alias in [Drivers32] of "), "{err}");
}

#[test]
fn install_follows_the_drivers_answer() {
    let s = Scratch::new();
    let trace = lib("drvtrace");
    let mut cmd = s.drvctl(&["install", "t", path_str(&trace)]);
    cmd.env("DRVTRACE_ANSWER", "DRV_INSTALL:0");
    let (code, _, err) = run(cmd);
    assert_eq!(code, 1);
    assert_eq!(
        err,
        "drvctl: t: the driver refused the installation (DRV_INSTALL answered 0, DRVCNF_CANCEL); nothing was registered\n"
    );
    assert_eq!(s.read_config(), "", "nothing written");

    let mut cmd = s.drvctl(&["install", "t", path_str(&trace), "--section", "MCI"]);
    cmd.env("DRVTRACE_ANSWER", "DRV_INSTALL:2");
    let (code, out, _) = run(cmd);
    assert_eq!(code, 0);
    assert!(out.contains("restart required"), "{out}");
    assert_eq!(s.read_config(), format!("[MCI]\nt={}\n", trace.display()));

    // The driver's DRV_REMOVE answer decides, unless --force.
    let mut cmd = s.drvctl(&["remove", "t", "--section", "mci"]);
    cmd.env("DRVTRACE_ANSWER", "DRV_REMOVE:0");
    let (code, _, err) = run(cmd);
    assert_eq!(code, 1);
    assert!(
        err.contains("the driver refused removal (DRV_REMOVE answered 0, DRVCNF_CANCEL); the entry was kept"),
        "{err}"
    );
    assert!(s.read_config().contains("t="));
    let mut cmd = s.drvctl(&["remove", "t", "--section", "mci", "--force"]);
    cmd.env("DRVTRACE_ANSWER", "DRV_REMOVE:0");
    assert_eq!(run(cmd).0, 0);
    assert_eq!(s.read_config(), "[MCI]\n");
}

/// A driver that cannot be opened has no one to tell: `remove` removes its entry and
/// says why `DRV_REMOVE` was not sent, without `--force`. The file named is the one
/// the manager looked for: on Windows a path from the root is on the registry file's
/// drive.
#[test]
fn remove_of_an_unopenable_driver_says_why_it_was_not_told() {
    let s = Scratch::new();
    s.write_config("; mine\n[Drivers32]\ngone=/nonexistent/gone.so\n");
    let (code, out, err) = run(s.drvctl(&["remove", "gone"]));
    let looked_for = format!("{}/nonexistent/gone.so", drive_of(&s.config()));
    assert_eq!(
        (code, out.as_str(), err.as_str()),
        (
            0,
            format!(
                "removed [Drivers32] gone = /nonexistent/gone.so (DRV_REMOVE was not sent: {looked_for} does not exist)\n"
            )
            .as_str(),
            ""
        )
    );
    assert_eq!(s.read_config(), "; mine\n[Drivers32]\n", "comments kept");
}

#[test]
fn configure_reports_the_drivers_answer() {
    let s = Scratch::new();
    let trace = lib("drvtrace");
    s.write_config(&format!("[Drivers32]\ncfg={}\n", trace.display()));
    let mut cmd = s.drvctl(&["configure", "cfg"]);
    cmd.env("DRVTRACE_ANSWER", "DRV_QUERYCONFIGURE:1,DRV_CONFIGURE:2");
    let (code, out, _) = run(cmd);
    assert_eq!(
        (code, out.as_str()),
        (0, "cfg: configured; restart required (DRV_CONFIGURE answered 2, DRVCNF_RESTART)\n")
    );
}

#[test]
fn errors_are_one_line_with_the_right_exit_code() {
    let s = Scratch::new();
    // A codec name nothing provides (Wine does ship imaadp32.acm).
    let codec = if cfg!(windows) { "nosuch32.acm" } else { "imaadp32.acm" };
    let (code, _, err) = run(s.drvctl(&["send", codec, "DRV_QUERYCONFIGURE"]));
    assert_eq!(code, 1);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with(&format!("drvctl: {codec}: not found (as a file in ")), "{err}");
    let (code, _, err) = run(s.drvctl(&["send", path_str(&lib("drvsample")), "DRV_NOPE"]));
    assert_eq!(code, 2);
    assert_eq!(
        err,
        "drvctl: unknown message \"DRV_NOPE\": expected a DRV_* name, BASE+n (e.g. DRV_USER+3) or a number\n"
    );
    let (code, _, _) = run(drvctl(&["frobnicate"]));
    assert_eq!(code, 2, "usage errors exit 2");
    // A line without '=' is skipped, as Windows skips it, and named with its number.
    s.write_config("[Drivers32]\nbroken line\n");
    let (code, _, err) = run(s.drvctl(&["list"]));
    assert_eq!(code, 0);
    assert_eq!(
        err,
        format!("{} line 2: not a key=value entry, skipped: \"broken line\"\n", s.config().display())
    );
}

#[test]
fn trace_prints_every_message_in_order() {
    let sample = lib("drvsample");
    let (code, out, _) = run(drvctl(&["trace", path_str(&sample), "--config", "/nonexistent/system.ini"]));
    assert_eq!(code, 0);
    assert_eq!(
        messages(&out),
        [
            "DRV_LOAD",
            "DRV_ENABLE",
            "DRV_OPEN",
            "DRV_OPEN",
            "DRV_QUERYCONFIGURE",
            "DRV_USER+1",
            "DRV_CLOSE",
            "DRV_CLOSE",
            "DRV_DISABLE",
            "DRV_FREE"
        ]
    );
    assert!(out.contains("> send #2 DRV_USER+1: answer 0\n    DRV_USER+1           id=0x2 "), "{out}");

    let s = Scratch::new();
    let script = s.dir.path().join("script");
    std::fs::write(&script, "open\nsend 1 DRV_USER+7 3 4\n# the leftover instance is closed for us\n")
        .unwrap();
    let (code, json, _) =
        run(s.drvctl(&["trace", path_str(&sample), "--script", path_str(&script), "--json"]));
    assert_eq!(code, 0);
    let document: serde_json::Value = serde_json::from_str(&json).unwrap();
    let steps = &document["steps"];
    assert_eq!(steps.as_array().unwrap().len(), 3, "{json}");
    assert_eq!(steps[1]["step"], "send #1 DRV_USER+7");
    assert_eq!(steps[1]["calls"][0]["msg"], "DRV_USER+7");
    assert_eq!(steps[1]["calls"][0]["l1"], 3);
    assert_eq!(steps[2]["step"], "close leftovers");
    assert_eq!(steps[2]["calls"][2]["msg"], "DRV_FREE");

    std::fs::write(&script, "open\nsend 9 DRV_USER\n").unwrap();
    let (code, _, err) = run(s.drvctl(&["trace", path_str(&sample), "--script", path_str(&script)]));
    assert_eq!(code, 1);
    assert!(err.ends_with(": instance #9 is not open\n"), "{err}");
    std::fs::write(&script, "open\nwiggle\n").unwrap();
    let (code, _, err) = run(s.drvctl(&["trace", path_str(&sample), "--script", path_str(&script)]));
    assert_eq!(
        (code, err.as_str()),
        (2, "drvctl: script line 2: unknown step \"wiggle\" (open, send, close): \"wiggle\"\n")
    );
}

/// Each shell's script calls drvctl back for completions (so they include aliases).
#[test]
fn completions_for_each_shell() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let (code, out, _) = run(drvctl(&["completions", shell]));
        assert_eq!(code, 0);
        assert!(out.contains("drvctl") && out.contains("COMPLETE"), "{shell}: {out}");
    }
}

/// The drive a path is on (`C:`), or nothing where paths have no drives.
fn drive_of(path: &std::path::Path) -> String {
    match path.components().next() {
        Some(std::path::Component::Prefix(prefix)) if cfg!(windows) => {
            prefix.as_os_str().to_string_lossy().into_owned()
        }
        _ => String::new(),
    }
}
