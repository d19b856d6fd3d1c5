//! The JSON schema of docs/json.md: its examples are documents of the schema, and
//! the error documents drvctl prints are exactly as described.

mod common;

use common::*;
use serde_json::Value;

fn doc_examples() -> Vec<Value> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/json.md")).unwrap();
    let mut out = Vec::new();
    let mut rest = text.as_str();
    while let Some(start) = rest.find("```json\n") {
        let body = &rest[start + 8..];
        let end = body.find("```").unwrap();
        out.push(serde_json::from_str(&body[..end]).unwrap_or_else(|e| panic!("{e}: {}", &body[..end])));
        rest = &body[end..];
    }
    out
}

/// Every example starts with the envelope; errors have exactly `message` and
/// `exit_code`.
#[test]
fn documented_examples_follow_the_envelope() {
    let examples = doc_examples();
    assert!(examples.len() >= 6, "{examples:?}");
    for v in &examples {
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(keys[..2], ["version", "command"], "{v}");
        assert_eq!(v["version"], 1);
        if let Some(e) = v.get("error") {
            let mut fields: Vec<&String> = e.as_object().unwrap().keys().collect();
            fields.sort();
            assert_eq!(fields, ["exit_code", "message"]);
        }
    }
}

/// drvctl's error documents: the envelope first, then `error` and nothing else,
/// for a failure at run time (1) and for a refused command line (2).
#[test]
fn error_documents_have_the_documented_shape() {
    let sample = lib("drvsample");
    let check = |args: &[&str], command: &str, exit_code: i64| {
        let (code, out, err) = run(drvctl(args));
        assert_eq!(i64::from(code), exit_code, "{err}");
        let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out:?}"));
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["version", "command", "error"], "{v}");
        assert_eq!((v["version"].as_i64(), v["command"].as_str()), (Some(1), Some(command)));
        assert_eq!(v["error"]["exit_code"].as_i64(), Some(exit_code), "a number, as the exit code");
        let message = v["error"]["message"].as_str().unwrap();
        if exit_code == 1 {
            assert_eq!(err, format!("drvctl: {message}\n"), "the same line as on stderr");
        } else {
            // clap's own report on stderr (with usage); its first paragraph in JSON.
            assert!(err.starts_with("error: "), "{err}");
            assert!(!message.is_empty() && !message.contains('\n'), "{message:?}");
        }
    };
    check(&["trace", path_str(&sample), "--json", "--script", "/nonexistent/script"], "trace", 1);
    check(&["check", "--json"], "check", 2);
    check(&["--json"], "drvctl", 2);
    check(&["list", "--json", "--bogus"], "list", 2);
    check(&["doctor", "--json", "--timeout", "soon"], "doctor", 2);
}
