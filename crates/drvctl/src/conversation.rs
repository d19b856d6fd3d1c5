//! `DRV_INSTALL`, `DRV_REMOVE` and `DRV_QUERYCONFIGURE` + `DRV_CONFIGURE` sent in a
//! child process, so that a driver that crashes, exits or hangs in them is reported as
//! such instead of taking drvctl with it (or ending it with a misleading status).
//!
//! The child notes each message before sending it, so a death is reported with the
//! message it happened in: "the driver exited (status 0) during DRV_INSTALL".

use std::sync::OnceLock;
use std::time::Duration;

use drvproc::config_info::ConfigInfoBuf;
use drvproc_host::Instance;
use serde::{Deserialize, Serialize};

use crate::capture::{Call, Capture};
use crate::child::{self, Outcome, Reporter};
use crate::context::Ctx;
use crate::diagnose;
use crate::error::{CliError, CliResult};

/// The conversation to hold with a driver.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Talk {
    /// Open the registry value `value` ("file args": the alias is not registered
    /// yet) and send `DRV_INSTALL` naming `section` and `alias`.
    Install { value: String, section: String, alias: String },
    /// Open `alias` of `section` (or, given `value`, that "file args" value: an
    /// installation being undone was never registered) and send `DRV_REMOVE`.
    Remove { alias: String, section: String, value: Option<String> },
    /// Open `alias` of `section`, send `DRV_QUERYCONFIGURE`, then `DRV_CONFIGURE` if it
    /// answered non-zero.
    Configure { alias: String, section: String },
}

/// What the driver said.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Answer {
    /// It could not be opened: the manager's error, in words.
    CannotOpen(String),
    /// `DRV_QUERYCONFIGURE` answered 0: there is nothing to configure.
    NotConfigurable,
    /// The answer to `DRV_INSTALL`, `DRV_REMOVE` or `DRV_CONFIGURE` (a `DRVCNF_*`).
    Answered(isize),
    /// It answered, but the manager then failed (closing the instance): the answer
    /// and the error.
    AnsweredThenFailed(isize, String),
}

/// The stage names the child notes (and a death is reported "during").
pub const OPENING: &str = "the open (DRV_LOAD, DRV_ENABLE, DRV_OPEN)";
const CLOSING: &str = "the close (DRV_CLOSE, DRV_DISABLE, DRV_FREE)";

/// Holds `talk` with the driver in a child drvctl, waiting at most `timeout`.
///
/// `Outcome::Died(death)` reads as "the driver {death}", e.g. "the driver exited
/// (status 0) during DRV_INSTALL"; a crash, an exit or a hang never looks like an
/// answer.
pub fn converse(ctx: &Ctx, talk: &Talk, timeout: Duration) -> CliResult<Outcome<Answer>> {
    let request = serde_json::to_string(talk)?;
    Ok(match child::run::<Reply>(ctx, "converse", &request, timeout)? {
        Outcome::Reported(reply) => {
            if let Some(prefix) = ECHO.get() {
                for call in &reply.calls {
                    println!("{prefix}{call}");
                }
            }
            Outcome::Reported(reply.answer)
        }
        Outcome::Died(death) => Outcome::Died(death),
        Outcome::TimedOut(after, during) => Outcome::TimedOut(after, during),
    })
}

/// What the child sends back: the answer, and every message the driver received.
#[derive(Serialize, Deserialize)]
pub struct Reply {
    answer: Answer,
    calls: Vec<Call>,
}

static ECHO: OnceLock<&'static str> = OnceLock::new();

/// Prints, from now on, every message a driver receives in a conversation, each
/// line after `prefix` (as `drvctl demo` shows the calls it makes itself).
pub fn echo_calls(prefix: &'static str) {
    let _ = ECHO.set(prefix);
}

/// The child's side of [`converse`]: `request` is the [`Talk`] as JSON.
pub fn serve(ctx: &Ctx, request: &str, reporter: &mut Reporter) -> CliResult<Reply> {
    let capture = Capture::start();
    let answer = hold(ctx, request, reporter)?;
    Ok(Reply { answer, calls: capture.take() })
}

fn hold(ctx: &Ctx, request: &str, reporter: &mut Reporter) -> CliResult<Answer> {
    let talk: Talk =
        serde_json::from_str(request).map_err(|e| CliError::Usage(format!("not a conversation: {e}")))?;
    let manager = ctx.manager();
    reporter.note(OPENING)?;
    let (target, lookup, section, alias) = match &talk {
        Talk::Install { value, section, alias } | Talk::Remove { value: Some(value), section, alias } => {
            (value, None, section, alias)
        }
        Talk::Remove { alias, section, value: None } | Talk::Configure { alias, section } => {
            (alias, Some(section.as_str()), section, alias)
        }
    };
    let instance = match manager.open(target, lookup) {
        Ok(i) => i,
        Err(e) => return Ok(Answer::CannotOpen(diagnose::explain_open_error(ctx, target, lookup, &e))),
    };
    let config = ConfigInfoBuf::new(Some(section), Some(alias))?;
    let answer = match talk {
        Talk::Install { .. } => {
            reporter.note("DRV_INSTALL")?;
            instance.install(0, Some(&config))?
        }
        Talk::Remove { .. } => {
            reporter.note("DRV_REMOVE")?;
            instance.remove()?
        }
        Talk::Configure { .. } => {
            reporter.note("DRV_QUERYCONFIGURE")?;
            if !instance.query_configure()? {
                return close(reporter, instance).map(|()| Answer::NotConfigurable);
            }
            reporter.note("DRV_CONFIGURE")?;
            instance.configure(0, Some(&config))?
        }
    };
    Ok(match close(reporter, instance) {
        Ok(()) => Answer::Answered(answer),
        Err(e) => Answer::AnsweredThenFailed(answer, e.to_string()),
    })
}

fn close(reporter: &mut Reporter, instance: Instance) -> CliResult {
    reporter.note(CLOSING)?;
    Ok(instance.close()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// drvtrace, copied into a directory of its own with these settings.
    fn trace_with(settings: &str) -> (tempfile::TempDir, String) {
        let exe = std::env::current_exe().unwrap();
        let name = format!("{}drvtrace{}", std::env::consts::DLL_PREFIX, std::env::consts::DLL_SUFFIX);
        let dir = tempfile::tempdir().unwrap();
        let lib = dir.path().join(&name);
        std::fs::copy(exe.parent().unwrap().join(&name), &lib).unwrap();
        std::fs::write(dir.path().join("drvtrace.env"), settings).unwrap();
        (dir, lib.to_str().unwrap().to_string())
    }

    fn install(settings: &str) -> Outcome<Answer> {
        let (dir, lib) = trace_with(settings);
        let ctx = Ctx::new(Some(dir.path().join("system.ini")));
        let talk = Talk::Install { value: lib, section: "Drivers32".into(), alias: "x.y".into() };
        converse(&ctx, &talk, Duration::from_secs(5)).unwrap()
    }

    #[test]
    fn an_exit_during_install_is_not_an_answer() {
        match install("EXIT=DRV_INSTALL:0\n") {
            Outcome::Died(death) => {
                assert_eq!(format!("the driver {death}"), "the driver exited (status 0) during DRV_INSTALL")
            }
            _ => panic!("an exit in DRV_INSTALL came back as something else"),
        }
    }

    #[test]
    fn answers_and_hangs_come_back() {
        assert!(matches!(install("ANSWER=DRV_INSTALL:2\n"), Outcome::Reported(Answer::Answered(2))));
        match install("ABORT=DRV_OPEN\n") {
            Outcome::Died(death) => assert_eq!(
                death.to_string(),
                format!(
                    "{} during the open (DRV_LOAD, DRV_ENABLE, DRV_OPEN): \
                     drvtrace: aborting on DRV_OPEN as configured",
                    if cfg!(windows) {
                        "ended by exception 0xC0000409 (fast fail: the process aborted itself)"
                    } else {
                        "killed by signal 6 (SIGABRT)"
                    }
                )
            ),
            _ => panic!("an abort in DRV_OPEN came back as something else"),
        }
        let (dir, lib) = trace_with("HANG=DRV_REMOVE\n");
        std::fs::write(dir.path().join("system.ini"), format!("[Drivers32]\nx.y={lib}\n")).unwrap();
        let ctx = Ctx::new(Some(dir.path().join("system.ini")));
        let talk = Talk::Remove { alias: "x.y".into(), section: "Drivers32".into(), value: None };
        assert!(matches!(converse(&ctx, &talk, Duration::from_secs(1)).unwrap(), Outcome::TimedOut(..)));
        let talk = Talk::Configure { alias: "x.y".into(), section: "Drivers32".into() };
        assert!(matches!(
            converse(&ctx, &talk, Duration::from_secs(5)).unwrap(),
            Outcome::Reported(Answer::NotConfigurable)
        ));
        let talk = Talk::Configure { alias: "nope".into(), section: "Drivers32".into() };
        match converse(&ctx, &talk, Duration::from_secs(5)).unwrap() {
            Outcome::Reported(Answer::CannotOpen(e)) => assert!(e.starts_with("nope: not found"), "{e}"),
            _ => panic!("a missing alias came back as something else"),
        }
    }
}
