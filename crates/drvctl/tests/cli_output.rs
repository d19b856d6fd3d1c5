//! What drvctl prints and where: quiet and verbose modes, colour, JSON errors, the
//! manual page and shell completion.

mod common;

use common::*;

/// `drvctl ARGS` on a pseudo-terminal (util-linux's `script`), with `env` set; returns
/// what the terminal showed. Unix only, as are the tests that use it.
#[cfg(unix)]
fn on_tty(args: &[&str], env: &[(&str, &str)]) -> String {
    let mut command = String::from(env!("CARGO_BIN_EXE_drvctl"));
    for a in args {
        command.push_str(" '");
        command.push_str(a);
        command.push('\'');
    }
    let mut cmd = std::process::Command::new("script");
    cmd.args(["-qec", &command, "/dev/null"]);
    for var in ["NO_COLOR", "CLICOLOR_FORCE", "DRVPROC_CONFIG"] {
        cmd.env_remove(var);
    }
    cmd.envs(env.iter().copied());
    run(cmd).1
}

/// A registry with the sample driver registered as `good`.
fn with_sample() -> Scratch {
    let s = Scratch::new();
    s.write_config(&format!("[Drivers32]\ngood={}\n", lib("drvsample").display()));
    s
}

const GREEN: &str = "\x1b[32m";

#[test]
fn color_follows_the_flag_then_no_color_then_clicolor_force() {
    let s = with_sample();
    let piped = |args: &[&str], env: &[(&str, &str)]| {
        let mut cmd = s.drvctl(args);
        cmd.env_remove("NO_COLOR").env_remove("CLICOLOR_FORCE");
        cmd.envs(env.iter().copied());
        let (code, out, err) = run(cmd);
        assert_eq!(code, 0, "{err}");
        out
    };
    assert!(!piped(&["list"], &[]).contains('\x1b'), "auto: no colour in a pipe");
    assert!(piped(&["list"], &[("CLICOLOR_FORCE", "1")]).contains(GREEN), "CLICOLOR_FORCE forces it");
    assert!(!piped(&["list"], &[("CLICOLOR_FORCE", "0")]).contains('\x1b'), "CLICOLOR_FORCE=0 does not");
    assert!(
        !piped(&["list"], &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]).contains('\x1b'),
        "NO_COLOR wins over CLICOLOR_FORCE"
    );
    assert!(piped(&["--color", "always", "list"], &[("NO_COLOR", "1")]).contains(GREEN), "the flag wins");
    assert!(piped(&["list", "--color=always"], &[]).contains(GREEN), "a global option goes anywhere");

    // A terminal of util-linux's `script`: Unix only.
    #[cfg(unix)]
    {
        let config = path_str(&s.config()).to_string();
        assert!(on_tty(&["--config", &config, "list"], &[]).contains(GREEN), "auto: colour on a terminal");
        assert!(!on_tty(&["--config", &config, "--color", "never", "list"], &[]).contains('\x1b'));
        assert!(!on_tty(&["--config", &config, "list"], &[("NO_COLOR", "1")]).contains('\x1b'));
    }

    let (code, _, err) = run(s.drvctl(&["--color", "sometimes", "list"]));
    assert_eq!(code, 2);
    assert!(err.contains("[possible values: auto, always, never]"), "{err}");
}

/// `-v` shows every call the manager makes into the driver, on stderr; `-vv` also
/// the manager's own events; without it stderr stays empty.
#[test]
fn verbose_shows_the_managers_call_log() {
    let sample = lib("drvsample");
    let (code, out, err) = run(drvctl(&["send", path_str(&sample), "DRV_QUERYCONFIGURE"]));
    assert_eq!((code, out.as_str(), err.as_str()), (0, "DRV_QUERYCONFIGURE answered 0 (0x0)\n", ""));

    let (code, out, err) = run(drvctl(&["-v", "send", path_str(&sample), "DRV_QUERYCONFIGURE"]));
    assert_eq!((code, out.as_str()), (0, "DRV_QUERYCONFIGURE answered 0 (0x0)\n"), "{err}");
    let calls: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("drvproc::call"))
        .map(|l| l.split("msg=").nth(1).unwrap_or("").split_whitespace().next().unwrap_or(""))
        .collect();
    assert_eq!(
        calls,
        ["DRV_LOAD", "DRV_ENABLE", "DRV_OPEN", "DRV_QUERYCONFIGURE", "DRV_CLOSE", "DRV_DISABLE", "DRV_FREE"],
        "{err}"
    );
    assert!(err.lines().all(|l| l.contains("drvproc::call")), "-v: only the call log\n{err}");

    let (code, _, err) = run(drvctl(&["-vv", "send", path_str(&sample), "DRV_QUERYCONFIGURE"]));
    assert_eq!(code, 0);
    assert!(err.contains("DriverProc{driver="), "-vv: the span, with the driver's path\n{err}");
    assert!(err.contains("drvproc::call: close"), "-vv: each call's end\n{err}");
}

#[test]
fn quiet_and_verbose_exclude_each_other() {
    let sample = lib("drvsample");
    let (code, out, err) = run(drvctl(&["-q", "send", path_str(&sample), "DRV_QUERYCONFIGURE"]));
    assert_eq!((code, out.as_str(), err.as_str()), (0, "DRV_QUERYCONFIGURE answered 0 (0x0)\n", ""));
    let (code, _, err) = run(drvctl(&["-q", "-v", "send", path_str(&sample), "DRV_USER"]));
    assert_eq!(code, 2);
    assert!(err.contains("'--quiet' cannot be used with '--verbose"), "{err}");
}

/// Progress lines are for a person watching a terminal: a pipe gets none.
#[cfg(unix)]
#[test]
fn progress_only_on_a_terminal() {
    let sample = lib("drvsample");
    let (code, _, err) = run(drvctl(&["check", path_str(&sample), "--config", "/nonexistent/x.ini"]));
    assert_eq!((code, err.as_str()), (0, ""));
    let shown = on_tty(&["check", path_str(&sample), "--config", "/nonexistent/x.ini"], &[]);
    assert!(shown.contains("checking "), "{shown:?}");
    let shown = on_tty(&["-q", "check", path_str(&sample), "--config", "/nonexistent/x.ini"], &[]);
    assert!(!shown.contains("checking "), "{shown:?}");
}

/// With `--json`, a failure is JSON on stdout too (stderr keeps the one line).
#[test]
fn json_errors_are_json() {
    let s = Scratch::new();
    let sample = lib("drvsample");
    let script = s.dir.path().join("script");
    std::fs::write(&script, "open\nwiggle\n").unwrap();
    let (code, out, err) =
        run(s.drvctl(&["trace", path_str(&sample), "--script", path_str(&script), "--json"]));
    assert_eq!(code, 2);
    let message = "script line 2: unknown step \"wiggle\" (open, send, close): \"wiggle\"";
    assert_eq!(err, format!("drvctl: {message}\n"));
    let v: serde_json::Value = serde_json::from_str(&out).expect("stdout is one JSON document");
    assert_eq!(
        v,
        serde_json::json!({"version": 1, "command": "trace", "error": {"message": message, "exit_code": 2}})
    );

    let missing = s.dir.path().join("missing");
    let (code, out, _) =
        run(s.drvctl(&["trace", path_str(&sample), "--json", "--script", path_str(&missing)]));
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["version"], 1);
    assert_eq!(v["error"]["exit_code"], 1);
    assert!(v["error"]["message"].as_str().unwrap().starts_with(path_str(&missing)), "{v}");

    // A command line clap refuses, with --json in it.
    let (code, out, err) = run(drvctl(&["check", "--json"]));
    assert_eq!(code, 2, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["command"], "check");
    assert_eq!(v["error"]["exit_code"], 2);
    assert!(v["error"]["message"].as_str().unwrap().contains("<TARGET>"), "{v}");

    // Without --json, stdout stays empty.
    let (code, out, _) = run(s.drvctl(&["trace", path_str(&sample), "--script", path_str(&script)]));
    assert_eq!((code, out.as_str()), (2, ""));
}

#[test]
fn manpage_for_drvctl_and_each_command() {
    let (code, out, err) = run(drvctl(&["manpage"]));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(".TH drvctl 1 "), "{out}");
    assert!(out.contains("drvctl\\-install(1)") || out.contains("install"), "{out}");
    let (code, out, _) = run(drvctl(&["manpage", "install"]));
    assert_eq!(code, 0);
    assert!(out.contains(".TH drvctl-install 1 ") || out.contains(".TH drvctl\\-install 1 "), "{out}");
    assert!(out.contains("\\-\\-section"), "{out}");
    let (code, _, err) = run(drvctl(&["manpage", "frobnicate"]));
    assert_eq!(code, 2);
    assert!(err.contains("frobnicate"), "{err}");
}

/// A registry with aliases in two sections.
fn two_sections() -> Scratch {
    let s = Scratch::new();
    s.write_config("[Drivers32]\nmsacm.a=liba.so\nmsacm.b=libb.so x\nvidc.c=libc.so\n[MCI]\nmci.d=libd.so\n");
    s
}

/// Shells with dynamic completion ask drvctl for the aliases of the registry.
#[test]
fn completion_offers_the_registrys_aliases() {
    let s = two_sections();
    let complete = |words: &[&str], config_env: bool| {
        let mut cmd = drvctl(&["--"]);
        cmd.arg("drvctl").args(words).env("COMPLETE", "fish");
        if config_env {
            cmd.env("DRVPROC_CONFIG", s.config());
        }
        let (code, out, err) = run(cmd);
        assert_eq!(code, 0, "{err}");
        // Options are offered too when nothing is typed yet; the aliases come first.
        out.lines()
            .map(|l| l.split('\t').next().unwrap().to_string())
            .filter(|c| !c.starts_with('-'))
            .collect::<Vec<_>>()
    };
    assert_eq!(complete(&["remove", "msacm."], true), ["msacm.a", "msacm.b"]);
    assert_eq!(complete(&["configure", ""], true), ["msacm.a", "msacm.b", "vidc.c"]);
    assert_eq!(complete(&["remove", "--section", "MCI", ""], true), ["mci.d"]);
    let config = path_str(&s.config()).to_string();
    assert_eq!(complete(&["--config", &config, "send", "v"], false), ["vidc.c"]);
    assert!(complete(&["check", "ms"], true).contains(&"msacm.a".to_string()));
}

/// `drvctl completions bash` prints the script a bash user sources; completing with
/// it yields the aliases. Unix: bash.
#[cfg(unix)]
#[test]
fn bash_completion_script_completes_aliases() {
    let s = two_sections();
    let script = r#"
source <("$DRVCTL" completions bash)
COMP_WORDS=(drvctl remove msacm.)
COMP_CWORD=2
COMP_TYPE=9
_clap_complete_drvctl drvctl msacm. remove
printf '%s\n' "${COMPREPLY[@]}"
"#;
    let mut cmd = std::process::Command::new("bash");
    cmd.args(["-c", script])
        .env("DRVCTL", env!("CARGO_BIN_EXE_drvctl"))
        .env("DRVPROC_CONFIG", s.config())
        .env_remove("COMPLETE");
    let (code, out, err) = run(cmd);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().collect::<Vec<_>>(), ["msacm.a", "msacm.b"], "{err}");
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let (code, out, err) = run(drvctl(&["completions", shell]));
        assert_eq!(code, 0, "{err}");
        assert!(out.contains("COMPLETE"), "{shell}: {out}");
    }
}
