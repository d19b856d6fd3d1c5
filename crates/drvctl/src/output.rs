//! How drvctl talks to the person or program running it, apart from each command's
//! result: progress and notes on stderr (`-q` silences them), the manager's call log
//! (`-v`), and the envelope every `--json` document shares (docs/json.md).

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::CliError;

/// The schema version in every `--json` document. It changes only when a field
/// changes meaning or goes away; new fields may appear without a change.
pub const JSON_VERSION: u32 = 1;

static QUIET: AtomicBool = AtomicBool::new(false);
/// `-v` counted, and whether the call log is in colour: a child drvctl is given both.
static VERBOSE: AtomicU8 = AtomicU8::new(0);
static ANSI: AtomicBool = AtomicBool::new(false);
/// Whether this run printed its `--json` document (so a failure after it is not a
/// second document: the command put its error in the one it printed).
static JSON_PRINTED: AtomicBool = AtomicBool::new(false);
/// Whether a progress line is on the terminal now (so the next line clears it first).
static SHOWING: AtomicBool = AtomicBool::new(false);

/// Sets up output for this run: `-q`, and `-v` (the call log on stderr).
pub fn init(quiet: bool, verbose: u8, ansi: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
    VERBOSE.store(verbose, Ordering::Relaxed);
    ANSI.store(ansi, Ordering::Relaxed);
    if let Some(layer) = call_log() {
        use tracing_subscriber::layer::SubscriberExt;
        let _ = tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer));
    }
}

/// How many `-v` were given.
pub fn verbosity() -> u8 {
    VERBOSE.load(Ordering::Relaxed)
}

/// Whether the call log is in colour.
pub fn ansi() -> bool {
    ANSI.load(Ordering::Relaxed)
}

pub fn quiet() -> bool {
    QUIET.load(Ordering::Relaxed)
}

/// The filter for `-v` (warnings, and each message a driver gets with its answer:
/// the events of target `drvproc::call`) and `-vv` (everything drvproc logs).
fn filter(verbose: u8) -> &'static str {
    if verbose == 1 { "warn,drvproc::call=trace" } else { "trace" }
}

/// The call log for `-v`, printing to stderr, or `None` without `-v`. `-v` prints
/// events only, one line per driver call; `-vv` adds the `DriverProc` span around each
/// call (with the driver's path) and a line where each call ends. It is drvctl's global
/// subscriber, and a part of each per-thread subscriber that records calls
/// ([`Capture`](crate::capture::Capture): `trace`, `demo`, the steps run in a child),
/// so that those calls are logged as well.
pub fn call_log<S>() -> Option<Box<dyn tracing_subscriber::Layer<S> + Send + Sync>>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    use tracing_subscriber::fmt::format::FmtSpan;
    use tracing_subscriber::{EnvFilter, Layer, filter};

    let verbose = verbosity();
    if verbose == 0 {
        return None;
    }
    let layer =
        tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_ansi(ansi()).without_time();
    let env = EnvFilter::new(filter(verbose));
    Some(if verbose == 1 {
        let events_only = filter::filter_fn(|m| !m.is_span());
        layer.with_filter(env).with_filter(events_only).boxed()
    } else {
        layer.with_span_events(FmtSpan::CLOSE).with_filter(env).boxed()
    })
}

/// Shows what is running, for a person watching: one line rewritten in place, only
/// when stderr is a terminal and not `-q`. A pipe or a log file gets nothing, so it
/// holds only results and errors.
pub fn progress(text: &str) {
    let mut err = std::io::stderr();
    if quiet() || !err.is_terminal() {
        return;
    }
    let _ = write!(err, "\r\x1b[2K{text}");
    let _ = err.flush();
    SHOWING.store(true, Ordering::Relaxed);
}

/// Clears the progress line, if one is showing.
pub fn end_progress() {
    if SHOWING.swap(false, Ordering::Relaxed) {
        let mut err = std::io::stderr();
        let _ = write!(err, "\r\x1b[2K");
        let _ = err.flush();
    }
}

/// A line that informs but is not the result (a file created, a default taken): on
/// stderr, and not with `-q`.
pub fn note(text: &str) {
    if !quiet() {
        end_progress();
        eprintln!("{text}");
    }
}

/// `{"version": 1, "command": COMMAND, ...payload}`: the payload must serialize to
/// an object (a struct or a map); its fields follow the envelope's.
pub fn envelope(command: &str, payload: &impl Serialize) -> serde_json::Result<Value> {
    let mut doc = Map::new();
    doc.insert("version".into(), JSON_VERSION.into());
    doc.insert("command".into(), command.into());
    match serde_json::to_value(payload)? {
        Value::Object(fields) => doc.extend(fields),
        other => {
            return Err(serde::ser::Error::custom(format!(
                "a --json payload must be an object, not {other}"
            )));
        }
    }
    Ok(Value::Object(doc))
}

/// Prints a command's `--json` document on stdout. A command that fails after
/// printing it puts its error in the payload (an `error` field, as
/// [`json_error`] shapes it): only one document is ever printed.
pub fn print_json(command: &str, payload: &impl Serialize) -> serde_json::Result<()> {
    println!("{}", serde_json::to_string_pretty(&envelope(command, payload)?)?);
    JSON_PRINTED.store(true, Ordering::Relaxed);
    Ok(())
}

/// Whether [`print_json`] ran.
pub fn json_printed() -> bool {
    JSON_PRINTED.load(Ordering::Relaxed)
}

/// The `error` object of a `--json` document: the line drvctl prints on stderr
/// (without `drvctl: `) and the exit code.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct JsonError {
    pub message: String,
    pub exit_code: u8,
}

impl From<&CliError> for JsonError {
    fn from(e: &CliError) -> Self {
        JsonError { message: e.to_string(), exit_code: e.exit_code() }
    }
}

#[derive(Serialize)]
struct ErrorPayload {
    error: JsonError,
}

/// The `--json` document of a failed command:
/// `{"version":1,"command":"send","error":{"message":"...","exit_code":1}}`.
pub fn json_error(command: &str, message: &str, exit_code: u8) -> Value {
    let payload = ErrorPayload { error: JsonError { message: message.into(), exit_code } };
    envelope(command, &payload).unwrap_or_else(|_| Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes() {
        #[derive(Serialize)]
        struct P {
            entries: Vec<u32>,
        }
        let v = envelope("list", &P { entries: vec![1, 2] }).unwrap();
        assert_eq!(serde_json::to_string(&v).unwrap(), r#"{"version":1,"command":"list","entries":[1,2]}"#);
        assert!(envelope("list", &vec![1]).is_err(), "an array has no place for the envelope");
        assert_eq!(
            serde_json::to_string(&json_error("send", "x: not found", 1)).unwrap(),
            r#"{"version":1,"command":"send","error":{"message":"x: not found","exit_code":1}}"#
        );
    }

    #[test]
    fn filters() {
        assert_eq!(filter(1), "warn,drvproc::call=trace");
        assert_eq!(filter(2), "trace");
    }
}
