//! `send` and `trace`: talking to a driver and showing what it receives.

use std::path::Path;

use drvproc::{LParam, LResult, parse_message};
use drvproc_host::Instance;
use serde::Serialize;

use crate::capture::{Call, Capture};
use crate::commands::parse_number;
use crate::context::Ctx;
use crate::diagnose;
use crate::error::{CliError, CliResult, failed};
use crate::output::{self, JsonError};

/// `send --json` (docs/json.md).
#[derive(Serialize)]
struct SendDocument<'a> {
    target: &'a str,
    msg: &'a str,
    code: u32,
    l1: LParam,
    l2: LParam,
    answer: LResult,
}

pub fn send(
    ctx: &Ctx,
    target: &str,
    msg: &str,
    l1: &str,
    l2: &str,
    section: Option<&str>,
    json: bool,
) -> CliResult {
    let code = parse_message(msg).map_err(|e| CliError::Usage(e.to_string()))?;
    let (l1, l2) = (parse_number(l1)?, parse_number(l2)?);
    let manager = ctx.manager();
    let instance = manager
        .open(target, section)
        .map_err(|e| failed!("{}", diagnose::explain_open_error(ctx, target, section, &e)))?;
    // SAFETY: the user chose the parameters; drvctl passes them through as winmm's
    // SendDriverMessage does (messages that expect pointers must be given 0).
    let answer = unsafe { instance.send(code, l1, l2) }?;
    instance.close()?;
    let msg = drvproc::message_name(code);
    if json {
        output::print_json("send", &SendDocument { target, msg: &msg, code, l1, l2, answer })?;
    } else {
        println!("{msg} answered {answer} ({answer:#x})");
    }
    Ok(())
}

/// One step of a trace script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Open the target; instances are numbered from 1 in order.
    Open {
        lparam2: LParam,
    },
    Send {
        instance: usize,
        msg: u32,
        l1: LParam,
        l2: LParam,
    },
    Close {
        instance: usize,
        l1: LParam,
        l2: LParam,
    },
}

/// The lifecycle traced when no script is given.
pub const DEFAULT_SCRIPT: &str = "\
# two instances, a configuration query, a custom message, both closes
open
open
send 1 DRV_QUERYCONFIGURE
send 2 DRV_USER+1 1 2
close 2
close 1
";

/// The text of a script line before its comment. A `#` starts a comment when it
/// starts the line or is not followed by a digit; `#N` (a digit after it) is an
/// instance reference, the form `trace` prints (`send #1 DRV_USER`).
fn strip_comment(line: &str) -> &str {
    if line.trim_start().starts_with('#') {
        return "";
    }
    let bytes = line.as_bytes();
    let end = (0..bytes.len())
        .find(|&i| bytes[i] == b'#' && !bytes.get(i + 1).is_some_and(u8::is_ascii_digit))
        .unwrap_or(line.len());
    &line[..end]
}

/// Parses a script; errors name the line.
pub fn parse_script(text: &str) -> CliResult<Vec<Step>> {
    let mut steps = Vec::new();
    let mut opens = 0;
    for (n, line) in text.lines().enumerate() {
        let line = strip_comment(line).trim();
        if line.is_empty() {
            continue;
        }
        let err = |why: String| CliError::Usage(format!("script line {}: {why}: {line:?}", n + 1));
        let words: Vec<&str> = line.split_whitespace().collect();
        let number = |i: usize| -> CliResult<isize> {
            words.get(i).map_or(Ok(0), |w| parse_number(w).map_err(|e| err(e.to_string())))
        };
        let instance_at = |i: usize| -> CliResult<usize> {
            let w = words.get(i).ok_or_else(|| err("expected an instance number".into()))?;
            w.strip_prefix('#')
                .unwrap_or(w)
                .parse::<usize>()
                .ok()
                .filter(|&i| i >= 1)
                .ok_or_else(|| err("bad instance number (N or #N, from 1)".into()))
        };
        let step = match words[0] {
            // `open #N [LPARAM2]`: the label trace prints; N must be the next number.
            "open" if words.get(1).is_some_and(|w| w.starts_with('#')) && words.len() <= 3 => {
                let n = instance_at(1)?;
                if n != opens + 1 {
                    return Err(err(format!("this open is #{}, not #{n}", opens + 1)));
                }
                Step::Open { lparam2: number(2)? }
            }
            "open" if words.len() <= 2 => Step::Open { lparam2: number(1)? },
            "send" if (3..=5).contains(&words.len()) => Step::Send {
                instance: instance_at(1)?,
                msg: parse_message(words[2]).map_err(|e| err(e.to_string()))?,
                l1: number(3)?,
                l2: number(4)?,
            },
            "close" if (2..=4).contains(&words.len()) => {
                Step::Close { instance: instance_at(1)?, l1: number(2)?, l2: number(3)? }
            }
            "open" | "send" | "close" => return Err(err("wrong number of arguments".into())),
            other => return Err(err(format!("unknown step {other:?} (open, send, close)"))),
        };
        if let Step::Open { .. } = step {
            opens += 1;
        }
        steps.push(step);
    }
    Ok(steps)
}

#[derive(Serialize)]
struct TracedStep {
    step: String,
    ok: bool,
    result: String,
    calls: Vec<Call>,
}

/// `trace --json` (docs/json.md): the steps run, and the error of the one that
/// failed, in one document.
#[derive(Serialize)]
struct TraceDocument<'a> {
    target: &'a str,
    steps: &'a [TracedStep],
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<JsonError>,
}

pub fn trace(ctx: &Ctx, target: &str, script: Option<&Path>, json: bool) -> CliResult {
    let text = match script {
        Some(p) => std::fs::read_to_string(p).map_err(|e| failed!("{}: {e}", p.display()))?,
        None => DEFAULT_SCRIPT.to_string(),
    };
    let steps = parse_script(&text)?;
    let capture = Capture::start();
    let manager = ctx.manager();
    let mut instances: Vec<Option<Instance>> = Vec::new();
    let mut traced = Vec::new();
    let mut failure = None;
    for step in &steps {
        let (label, result) = match *step {
            Step::Open { lparam2 } => {
                let label = format!(
                    "open #{}{}",
                    instances.len() + 1,
                    if lparam2 != 0 { format!(" lParam2={lparam2}") } else { String::new() }
                );
                // SAFETY: the script's author chose lParam2 for this driver.
                match unsafe { manager.open_with(target, None, lparam2) } {
                    Ok(i) => {
                        instances.push(Some(i));
                        (
                            label,
                            Ok(format!(
                                "handle {}",
                                instances
                                    .last()
                                    .and_then(Option::as_ref)
                                    .map_or(String::new(), |i| i.handle().to_string())
                            )),
                        )
                    }
                    Err(e) => (label, Err(diagnose::explain_open_error(ctx, target, None, &e))),
                }
            }
            Step::Send { instance, msg, l1, l2 } => {
                let label = format!("send #{instance} {}", drvproc::message_name(msg));
                match instances.get(instance - 1).and_then(Option::as_ref) {
                    // SAFETY: as for `drvctl send`: the script's parameters go through verbatim.
                    Some(i) => match unsafe { i.send(msg, l1, l2) } {
                        Ok(answer) => (label, Ok(format!("answer {answer}"))),
                        Err(e) => (label, Err(e.to_string())),
                    },
                    None => (label, Err(format!("instance #{instance} is not open"))),
                }
            }
            Step::Close { instance, l1, l2 } => {
                let label = format!("close #{instance}");
                match instances.get_mut(instance - 1).and_then(Option::take) {
                    // SAFETY: as above.
                    Some(i) => match unsafe { i.close_with(l1, l2) } {
                        Ok(()) => (label, Ok("closed".to_string())),
                        Err(e) => (label, Err(e.to_string())),
                    },
                    None => (label, Err(format!("instance #{instance} is not open"))),
                }
            }
        };
        let calls = capture.take();
        let result_text = match &result {
            Ok(r) => r.clone(),
            Err(e) => format!("failed: {e}"),
        };
        if !json {
            println!("> {label}: {result_text}");
            for c in &calls {
                println!("    {c}");
            }
        }
        traced.push(TracedStep { step: label, ok: result.is_ok(), result: result_text, calls });
        if let Err(e) = result {
            // The failing step names the file or alias when it matters; saying the
            // target again would repeat the path.
            failure =
                Some(failed!("{} failed: {e}", traced.last().map_or("", |t: &TracedStep| t.step.as_str())));
            break;
        }
    }
    // Instances the script left open are closed, and traced too.
    let leftover = instances.into_iter().flatten().count();
    if leftover > 0 {
        let calls = capture.take();
        if !json {
            println!("> closing {leftover} instance(s) the script left open");
            for c in &calls {
                println!("    {c}");
            }
        }
        traced.push(TracedStep { step: "close leftovers".into(), ok: true, result: "closed".into(), calls });
    }
    if json {
        let error = failure.as_ref().map(JsonError::from);
        output::print_json("trace", &TraceDocument { target, steps: &traced, error })?;
    }
    match failure {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_parse() {
        let steps = parse_script(DEFAULT_SCRIPT).unwrap();
        assert_eq!(steps.len(), 6);
        assert_eq!(steps[3], Step::Send { instance: 2, msg: 0x4001, l1: 1, l2: 2 });
        assert_eq!(parse_script("open 0x10 # comment").unwrap(), [Step::Open { lparam2: 16 }]);
        let err = parse_script("open\nfrobnicate 1\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "script line 2: unknown step \"frobnicate\" (open, send, close): \"frobnicate 1\""
        );
        assert!(parse_script("send 0 DRV_OPEN").is_err());
        assert!(parse_script("send 1 NOPE").is_err());
        assert!(parse_script("close").is_err());
    }

    /// `#N` is an instance (as trace prints it); other `#`s start comments.
    #[test]
    fn instance_references_and_comments() {
        let text = "#1 a comment line\nopen #1 # first\nopen #2 0x10\nsend #2 DRV_USER#x\nclose #1 1 2#\n";
        assert_eq!(
            parse_script(text).unwrap(),
            [
                Step::Open { lparam2: 0 },
                Step::Open { lparam2: 16 },
                Step::Send { instance: 2, msg: 0x4000, l1: 0, l2: 0 },
                Step::Close { instance: 1, l1: 1, l2: 2 },
            ]
        );
        assert_eq!(
            parse_script("open\nopen #3").unwrap_err().to_string(),
            "script line 2: this open is #2, not #3: \"open #3\""
        );
        assert_eq!(
            parse_script("send #0 DRV_USER").unwrap_err().to_string(),
            "script line 1: bad instance number (N or #N, from 1): \"send #0 DRV_USER\""
        );
        assert_eq!(
            parse_script("send 1 DRV_USER #2").unwrap_err().to_string(),
            "script line 1: not a number: \"#2\" (decimal, 0x hex, or negative): \"send 1 DRV_USER #2\""
        );
    }
}
