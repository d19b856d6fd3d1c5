//! The schema of docs/json.md, field by field: every `--json` document drvctl
//! prints against the bundled drivers has exactly the documented fields, each of the
//! documented JSON type, the envelope first; and the documentation's own examples
//! are documents of the same schema.

mod common;

use common::*;
use serde_json::{Value, json};

/// A field's documented type: `"string"`, `"bool"`, `"int"` (any integer), `"u64"`
/// (an unsigned integer: handles, ids, counts), `"one"` (the number 1), alternatives
/// joined by `|` (`"string|null"`); `[T]`: an array of T; an object: exactly these
/// fields, in this order where the order is documented (the envelope's two).
fn conforms(value: &Value, schema: &Value, at: &str) -> Result<(), String> {
    match schema {
        Value::String(kinds) => {
            let ok = kinds.split('|').any(|kind| match kind {
                "string" => value.is_string(),
                "bool" => value.is_boolean(),
                "null" => value.is_null(),
                "int" => value.is_i64() || value.is_u64(),
                "u64" => value.is_u64(),
                "one" => value == &json!(1),
                other => panic!("unknown kind {other}"),
            });
            if ok { Ok(()) } else { Err(format!("{at}: {value} is not {kinds}")) }
        }
        Value::Array(elem) => {
            let items = value.as_array().ok_or_else(|| format!("{at}: {value} is not an array"))?;
            items.iter().enumerate().try_for_each(|(i, v)| conforms(v, &elem[0], &format!("{at}[{i}]")))
        }
        Value::Object(fields) => {
            let object = value.as_object().ok_or_else(|| format!("{at}: {value} is not an object"))?;
            let mut want: Vec<&String> = fields.keys().collect();
            let mut got: Vec<&String> = object.keys().collect();
            if want.first().is_some_and(|k| *k == "version") && got[..] != want[..] {
                // The envelope comes first, in this order.
                if got.get(..2) != want.get(..2) {
                    return Err(format!("{at}: the document starts with {:?}, not version, command", &got));
                }
            }
            want.sort();
            got.sort();
            if want != got {
                return Err(format!("{at}: fields {got:?}, documented {want:?}"));
            }
            fields.iter().try_for_each(|(k, s)| conforms(&object[k], s, &format!("{at}.{k}")))
        }
        other => panic!("bad schema {other}"),
    }
}

/// The envelope's two fields, then the payload's.
fn envelope(payload: Value) -> Value {
    let mut doc = json!({"version": "one", "command": "string"});
    doc.as_object_mut().unwrap().extend(payload.as_object().unwrap().clone());
    doc
}

fn error_object() -> Value {
    json!({"message": "string", "exit_code": "u64"})
}

/// A registry entry as `list` reports it.
fn list_entry() -> Value {
    json!({
        "section": "string", "alias": "string", "value": "string", "file": "string",
        "path": "string|null", "format": "string|null", "loadable": "bool", "driver_proc": "bool",
        "problem": "string|null", "fix": "string|null",
    })
}

fn schema(command: &str) -> Value {
    match command {
        "list" => {
            let mut entry = list_entry();
            entry.as_object_mut().unwrap().insert("isolated".into(), json!("bool"));
            entry.as_object_mut().unwrap().insert("host_group".into(), json!("string|null"));
            envelope(json!({"config": "string", "sections": ["string"], "entries": [entry]}))
        }
        "doctor" => {
            let mut entry = list_entry();
            entry.as_object_mut().unwrap().insert("load".into(), json!("string|null"));
            entry.as_object_mut().unwrap().insert("fix_command".into(), json!("string|null"));
            let mut doc = envelope(json!({
                "config": "string",
                "entries": [entry],
                "warnings": [{"line": "u64", "message": "string"}],
                "total": "u64",
                "broken": "u64",
            }));
            doc.as_object_mut().unwrap().insert(
                "isolation".into(),
                json!({
                    "host_program": "string", "host_program_found": "string|null",
                    "landlock_abi": "u64|null", "landlock_missing": "string|null",
                }),
            );
            doc
        }
        "check" => envelope(json!({
            "target": "string",
            "rules": [{"rule": "string", "checks": "string", "pass": "bool", "evidence": "string"}],
            "passed": "u64",
            "total": "u64",
        })),
        "trace" => envelope(json!({
            "target": "string",
            "steps": [{
                "step": "string", "ok": "bool", "result": "string",
                "calls": [{
                    "msg": "string", "code": "u64", "id": "u64", "hdrvr": "u64",
                    "l1": "int", "l2": "int", "ret": "int",
                }],
            }],
        })),
        "send" => envelope(
            json!({"target": "string", "msg": "string", "code": "u64", "l1": "int", "l2": "int", "answer": "int"}),
        ),
        other => panic!("no schema for {other}"),
    }
}

/// `doctor`'s schema as this platform prints it: `isolation` is Linux-only.
fn doctor_here() -> Value {
    let mut doc = schema("doctor");
    if !cfg!(target_os = "linux") {
        doc.as_object_mut().unwrap().remove("isolation");
    }
    doc
}

/// `schema` with an `error` object added (a document that failed part-way).
fn with_error(mut schema: Value) -> Value {
    schema.as_object_mut().unwrap().insert("error".into(), error_object());
    schema
}

fn error_schema() -> Value {
    envelope(json!({"error": error_object()}))
}

fn assert_conforms(value: &Value, schema: &Value) {
    if let Err(e) = conforms(value, schema, "$") {
        panic!("{e}\nin {}", serde_json::to_string_pretty(value).unwrap());
    }
}

/// Runs drvctl and parses stdout as exactly one JSON document.
fn document(cmd: std::process::Command) -> (i32, Value, String) {
    let (code, out, err) = run(cmd);
    let v: Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: stdout {out:?}, stderr {err:?}"));
    (code, v, err)
}

fn registry() -> Scratch {
    let s = Scratch::new();
    s.write_config(&format!(
        "[Drivers32]\nmsacm.sample={}\ntrace={} rate=8000\ngone=/nonexistent/libgone.so\n",
        lib("drvsample").display(),
        lib("drvtrace").display()
    ));
    s
}

#[test]
fn list_follows_the_schema() {
    let s = registry();
    let (code, v, err) = document(s.drvctl(&["list", "--json"]));
    assert_eq!(code, 0, "{err}");
    assert_conforms(&v, &schema("list"));
    assert_eq!(v["command"], "list");
    assert_eq!(v["config"], path_str(&s.config()));
    assert_eq!(v["sections"], json!(["Drivers32"]));
    let aliases: Vec<&str> =
        v["entries"].as_array().unwrap().iter().map(|e| e["alias"].as_str().unwrap()).collect();
    assert_eq!(aliases, ["msacm.sample", "trace", "gone"]);
    assert_eq!(v["entries"][1]["value"], format!("{} rate=8000", lib("drvtrace").display()));
    assert_eq!(v["entries"][0]["problem"], Value::Null);
    assert!(v["entries"][2]["problem"].is_string(), "{v}");

    // An empty section: the same document, with no entries.
    let (code, v, err) = document(s.drvctl(&["list", "--section", "MCI", "--json"]));
    assert_eq!((code, &v["entries"], &v["sections"]), (0, &json!([]), &json!(["MCI"])), "{err}");
    assert_conforms(&v, &schema("list"));
}

#[test]
fn doctor_follows_the_schema() {
    let s = registry();
    let (code, v, err) = document(s.drvctl(&["doctor", "--json", "--timeout", "5"]));
    assert_eq!(code, 1, "one entry is broken: {err}");
    assert_conforms(&v, &doctor_here());
    assert_eq!((v["total"].as_u64(), v["broken"].as_u64()), (Some(3), Some(1)));
    assert_eq!(v["entries"][0]["load"], "ok");
    assert_eq!(v["warnings"], json!([]));
    // The command the text output prints for a broken entry; none for a healthy one.
    let (_, text, _) = run(s.drvctl(&["doctor", "--timeout", "5"]));
    let printed = text.lines().find(|l| l.contains("remove the entry: `")).unwrap();
    let printed = printed.split('`').nth(1).unwrap();
    assert!(printed.ends_with(" remove --section Drivers32 gone"), "{printed}");
    assert_eq!(v["entries"][2]["fix_command"], printed, "{text}");
    assert_eq!(
        (&v["entries"][0]["fix_command"], &v["entries"][1]["fix_command"]),
        (&Value::Null, &Value::Null)
    );

    // No driver entries: exit 0, with and without --json.
    s.write_config("[386Enh]\nwoafont=dosapp.fon\n");
    let (code, v, _) = document(s.drvctl(&["doctor", "--json"]));
    assert_eq!(code, 0);
    assert_conforms(&v, &doctor_here());
    assert_eq!((v["total"].as_u64(), v["broken"].as_u64(), &v["entries"]), (Some(0), Some(0), &json!([])));
}

#[test]
fn check_follows_the_schema() {
    let (code, v, err) =
        document(drvctl(&["check", "--json", path_str(&lib("drvsample")), "--config", "/nonexistent/x.ini"]));
    assert_eq!(code, 0, "{err}");
    assert_conforms(&v, &schema("check"));
    assert_eq!(v["target"], path_str(&lib("drvsample")));
    assert_eq!((v["passed"].as_u64(), v["total"].as_u64()), (Some(9), Some(9)));
    assert_eq!(v["rules"].as_array().unwrap().len(), 9);

    // A driver that cannot be loaded: one error document, the reason once.
    let (code, v, err) =
        document(drvctl(&["check", "--json", "/nonexistent/libnone.so", "--config", "/nonexistent/x.ini"]));
    assert_eq!(code, 1);
    assert_conforms(&v, &error_schema());
    assert_eq!(v["command"], "check");
    let message = v["error"]["message"].as_str().unwrap();
    assert!(message.starts_with("cannot check: "), "{message}");
    assert_eq!(err, format!("drvctl: {message}\n"));
}

#[test]
fn trace_follows_the_schema_and_handles_are_numbers() {
    let sample = lib("drvsample");
    let (code, v, err) = document(drvctl(&["trace", path_str(&sample), "--json", "--config", "/x/y.ini"]));
    assert_eq!(code, 0, "{err}");
    assert_conforms(&v, &schema("trace"));
    assert_eq!(v["target"], path_str(&sample));
    let steps = v["steps"].as_array().unwrap();
    assert!(steps.iter().all(|s| s["ok"] == true), "{v}");
    // The handle `open` returned is the number every call of that instance carries.
    let handle = steps[0]["result"].as_str().unwrap().strip_prefix("handle 0x").unwrap();
    let handle = u64::from_str_radix(handle, 16).unwrap();
    assert_ne!(handle, 0);
    let open = steps[0]["calls"].as_array().unwrap().iter().find(|c| c["msg"] == "DRV_OPEN").unwrap();
    assert_eq!(open["hdrvr"].as_u64(), Some(handle), "{open}");
    assert_eq!(open["code"].as_u64(), Some(3));
}

#[test]
fn a_failed_trace_is_one_document_with_its_error() {
    let s = Scratch::new();
    let script = s.dir.path().join("script");
    std::fs::write(&script, "open\nsend 9 DRV_USER+2\nclose 1\n").unwrap();
    let sample = lib("drvsample");
    let (code, v, err) =
        document(s.drvctl(&["trace", path_str(&sample), "--script", path_str(&script), "--json"]));
    assert_eq!(code, 1);
    assert_conforms(&v, &with_error(schema("trace")));
    let steps: Vec<(&str, bool)> = v["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["step"].as_str().unwrap(), s["ok"].as_bool().unwrap()))
        .collect();
    assert_eq!(steps, [("open #1", true), ("send #9 DRV_USER+2", false), ("close leftovers", true)]);
    assert_eq!(v["steps"][1]["result"], "failed: instance #9 is not open");
    assert_eq!(
        v["error"],
        json!({"message": "send #9 DRV_USER+2 failed: instance #9 is not open", "exit_code": 1})
    );
    assert_eq!(err, "drvctl: send #9 DRV_USER+2 failed: instance #9 is not open\n");
}

#[test]
fn send_follows_the_schema() {
    let sample = lib("drvsample");
    let (code, v, err) = document(drvctl(&[
        "send",
        path_str(&sample),
        "DRV_USER+3",
        "-1",
        "0x10",
        "--json",
        "--config",
        "/x/y.ini",
    ]));
    assert_eq!(code, 0, "{err}");
    assert_conforms(&v, &schema("send"));
    assert_eq!(
        v,
        json!({"version": 1, "command": "send", "target": path_str(&sample), "msg": "DRV_USER+3",
               "code": 0x4003, "l1": -1, "l2": 16, "answer": 0})
    );
    // A failure is the error document.
    let (code, v, _) = document(drvctl(&["send", "/nonexistent/libx.so", "DRV_USER", "--json"]));
    assert_eq!(code, 1);
    assert_conforms(&v, &error_schema());
    assert_eq!(v["command"], "send");
}

/// The examples in docs/json.md, each with the command it shows.
fn doc_examples() -> Vec<Value> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/json.md")).unwrap();
    text.split("```json\n")
        .skip(1)
        .map(|block| {
            let body = &block[..block.find("```").unwrap()];
            serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
        })
        .collect()
}

/// The arrays of a schema (`trace.steps`, `trace.steps[].calls`, ...).
fn array_paths(schema: &Value, at: &str, out: &mut Vec<String>) {
    match schema {
        Value::Array(elem) => {
            out.push(at.to_string());
            array_paths(&elem[0], &format!("{at}[]"), out);
        }
        Value::Object(fields) => fields.iter().for_each(|(k, s)| array_paths(s, &format!("{at}.{k}"), out)),
        _ => {}
    }
}

/// The arrays of a document that hold at least one element.
fn filled_arrays(value: &Value, at: &str, out: &mut Vec<String>) {
    match value {
        Value::Array(items) => {
            if !items.is_empty() {
                out.push(at.to_string());
            }
            items.iter().for_each(|v| filled_arrays(v, &format!("{at}[]"), out));
        }
        Value::Object(fields) => fields.iter().for_each(|(k, v)| filled_arrays(v, &format!("{at}.{k}"), out)),
        _ => {}
    }
}

/// Every example in the documentation is a document of the schema above (the same
/// fields as drvctl prints, of the same types), every command has one, and every
/// array is shown with an element somewhere, so its elements' fields are checked.
#[test]
fn the_documented_examples_follow_the_schema() {
    let (mut filled, mut shown) = (Vec::new(), Vec::new());
    for v in doc_examples() {
        let command = v["command"].as_str().unwrap().to_string();
        let schema = if v.get("error").is_none() {
            schema(&command)
        } else if v.as_object().unwrap().len() == 3 {
            error_schema()
        } else {
            with_error(schema(&command))
        };
        assert_conforms(&v, &schema);
        filled_arrays(&v, &command, &mut filled);
        shown.push(command);
    }
    for command in ["list", "doctor", "check", "trace", "send"] {
        let mut arrays = Vec::new();
        array_paths(&schema(command), command, &mut arrays);
        assert!(shown.iter().any(|c| c == command), "docs/json.md has no example of {command}: {shown:?}");
        for a in arrays {
            assert!(filled.contains(&a), "no example in docs/json.md shows an element of {a}");
        }
    }
}
