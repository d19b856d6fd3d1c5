//! How drvctl reads its command line: options anywhere, driver arguments, numbers,
//! messages and trace scripts.

mod common;

use common::*;

/// An option after ARGS is drvctl's option, not a word for the driver.
#[test]
fn install_options_after_args_are_options() {
    let s = Scratch::new();
    let sample = lib("drvsample");
    let (code, out, err) = run(s.drvctl(&["install", "t", path_str(&sample), "x", "--section", "MCI"]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, format!("installed [MCI] t = {} x\n", sample.display()));
    assert_eq!(s.read_config(), format!("[MCI]\nt={} x\n", sample.display()));
}

/// Driver arguments that start with `-` go after `--`; without it drvctl refuses
/// them instead of guessing.
#[test]
fn install_driver_args_with_dashes_go_after_double_dash() {
    let s = Scratch::new();
    let sample = lib("drvsample");
    let (code, _, err) = run(s.drvctl(&["install", "t", path_str(&sample), "rate=8000", "--x"]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("unexpected argument '--x' found"), "{err}");
    assert!(err.contains("'-- --x'"), "the error says how to pass it: {err}");
    assert_eq!(s.read_config(), "", "nothing written");

    let (code, out, err) =
        run(s.drvctl(&["install", "t", path_str(&sample), "--force", "rate=8000", "--", "--x", "-y"]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, format!("installed [Drivers32] t = {} rate=8000 --x -y\n", sample.display()));
}

/// `--json` after the numbers is the option, not "not a number"; an unknown option
/// is a clear refusal; negative numbers still work (negative hex, which looks like
/// options, after `--`).
#[test]
fn send_refuses_unknown_options_and_takes_negative_numbers() {
    let sample = lib("drvsample");
    let (code, out, err) = run(drvctl(&["send", path_str(&sample), "DRV_USER+3", "--json"]));
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!((&v["msg"], &v["answer"]), (&serde_json::json!("DRV_USER+3"), &serde_json::json!(0)), "{out}");
    let (code, _, err) = run(drvctl(&["send", path_str(&sample), "DRV_USER", "1", "--bogus"]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("unexpected argument '--bogus' found"), "{err}");
    let (code, out, err) = run(drvctl(&["send", path_str(&sample), "DRV_USER+3", "-1", "-16"]));
    assert_eq!((code, out.as_str()), (0, "DRV_USER+3 answered 0 (0x0)\n"), "{err}");
    let (code, out, err) = run(drvctl(&["send", path_str(&sample), "DRV_USER+3", "--", "-1", "-0x10"]));
    assert_eq!((code, out.as_str()), (0, "DRV_USER+3 answered 0 (0x0)\n"), "{err}");
    let (code, _, err) = run(drvctl(&["send", path_str(&sample), "DRV_USER+3", "-0x10"]));
    assert_eq!(code, 2);
    assert!(err.contains("unexpected argument '-0' found"), "{err}");
    let (code, _, err) = run(drvctl(&["send", path_str(&sample), "DRV_USER+3", "ten"]));
    assert_eq!(code, 2);
    assert!(err.contains("invalid value 'ten' for '[L1]': not a number"), "{err}");
}

#[test]
fn send_says_out_of_range_for_a_message_over_32_bits() {
    let sample = lib("drvsample");
    let (code, _, err) = run(drvctl(&["send", path_str(&sample), "0x1FFFFFFFF"]));
    assert_eq!(code, 2);
    assert_eq!(
        err,
        "drvctl: message \"0x1FFFFFFFF\" is out of range: messages are 32-bit (0 to 0xFFFFFFFF)\n"
    );
    let (code, _, err) = run(drvctl(&["send", path_str(&sample), "DRV_USER+0xFFFFFFFF"]));
    assert_eq!(code, 2);
    assert!(err.contains("is out of range"), "{err}");
}

/// `#N`, the form trace itself prints, names an instance in a script.
#[test]
fn trace_scripts_take_instance_references() {
    let s = Scratch::new();
    let sample = lib("drvsample");
    let script = s.dir.path().join("script");
    std::fs::write(&script, "# two opens\nopen\nopen #2\nsend #1 DRV_USER+7 3 4 # note\nclose #2\nclose 1\n")
        .unwrap();
    let (code, json, err) =
        run(s.drvctl(&["trace", path_str(&sample), "--script", path_str(&script), "--json"]));
    assert_eq!(code, 0, "{err}");
    let document: serde_json::Value = serde_json::from_str(&json).unwrap();
    let steps = &document["steps"];
    let labels: Vec<&str> = steps.as_array().unwrap().iter().map(|s| s["step"].as_str().unwrap()).collect();
    assert_eq!(labels, ["open #1", "open #2", "send #1 DRV_USER+7", "close #2", "close #1"]);
}
