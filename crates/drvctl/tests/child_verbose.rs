//! `-v` shows the manager's call log also for the commands that run the driver in a
//! child drvctl: the child logs, and drvctl relays its stderr as it arrives.

mod common;

use common::{Scratch, lib, path_str, run};

/// The message names of the `drvproc::call` lines in `err`, in order.
fn calls(err: &str) -> Vec<&str> {
    err.lines()
        .filter(|l| l.contains("drvproc::call"))
        .filter_map(|l| l.split("msg=").nth(1)?.split_whitespace().next())
        .collect()
}

#[test]
fn install_remove_and_configure_log_the_calls() {
    let s = Scratch::new();
    let sample = lib("drvsample");
    let (code, _, err) = run(s.drvctl(&["-v", "install", "a", path_str(&sample)]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        calls(&err),
        ["DRV_LOAD", "DRV_ENABLE", "DRV_OPEN", "DRV_INSTALL", "DRV_CLOSE", "DRV_DISABLE", "DRV_FREE"],
        "{err}"
    );
    let (code, _, err) = run(s.drvctl(&["-v", "configure", "a"]));
    assert_eq!(code, 0, "{err}");
    assert!(calls(&err).contains(&"DRV_QUERYCONFIGURE"), "{err}");
    let (code, _, err) = run(s.drvctl(&["-v", "remove", "a"]));
    assert_eq!(code, 0, "{err}");
    assert!(calls(&err).contains(&"DRV_REMOVE"), "{err}");

    // Without -v, none of it.
    let (code, _, err) = run(s.drvctl(&["install", "b", path_str(&sample)]));
    assert_eq!((code, calls(&err)), (0, vec![]), "{err}");
}

#[test]
fn check_and_doctor_log_the_calls() {
    let s = Scratch::new();
    let sample = lib("drvsample");
    s.write_config(&format!("[Drivers32]\na={}\n", sample.display()));
    let (code, _, err) = run(s.drvctl(&["-v", "doctor"]));
    assert_eq!(code, 0, "{err}");
    assert!(calls(&err).starts_with(&["DRV_LOAD", "DRV_ENABLE", "DRV_OPEN"]), "{err}");
    let (code, _, err) = run(s.drvctl(&["-v", "check", path_str(&sample)]));
    assert_eq!(code, 0, "{err}");
    assert!(calls(&err).starts_with(&["DRV_LOAD"]), "{err}");
    assert!(calls(&err).contains(&"DRV_QUERYCONFIGURE"), "{err}");
}
