//! The conformance rules of `drvctl check`. Each runs in its own child process with
//! a fresh manager, records what the driver received, and returns a verdict with the
//! evidence.
//!
//! Once the manager has mapped the driver, the child maps it once more itself: the
//! image then stays mapped when the manager unloads it, as it does whenever another
//! component holds the same library, so the `reload` rule sees a driver that relies on
//! fresh statics; and the SDK's count of caught panics can be read after the last
//! instance closed.
//!
//! A rule whose child crashed is run again by [`diagnose`] (Linux), in drvctl's own
//! process with the driver hosted in a process of its own, to learn what the dead
//! child could not tell: the message the driver died on and its last output.

use std::cell::OnceCell;
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use drvproc::consts::*;
use drvproc::{LResult, Msg, def_driver_proc, message_name};
use drvproc_host::{DriverManager, Instance, OpenError};
use serde::{Deserialize, Serialize};

use crate::capture::{Call, Capture};
use crate::context::Ctx;
use crate::diagnose;

/// A rule's verdict.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Verdict {
    pub pass: bool,
    pub evidence: String,
}

fn pass(evidence: impl Into<String>) -> Verdict {
    Verdict { pass: true, evidence: evidence.into() }
}

fn fail(evidence: impl Into<String>) -> Verdict {
    Verdict { pass: false, evidence: evidence.into() }
}

/// Every rule: its name and what it checks.
pub const RULES: &[(&str, &str)] = &[
    ("load", "DRV_LOAD is accepted"),
    ("open", "DRV_OPEN with lParam2 = 0 succeeds with a non-zero id (the session-instance rule)"),
    ("instances", "several instances can be open at once"),
    ("routing", "messages after DRV_OPEN reach the instance's own id"),
    ("defaults", "unknown messages below DRV_USER are answered like DefDriverProc"),
    ("close-order", "instances close in any order"),
    ("unload", "DRV_DISABLE and DRV_FREE are handled"),
    ("reload", "a second load after an unload works"),
    ("threads", "concurrent sends from two threads get consistent answers"),
];

/// Messages no class defines below `DRV_USER`: a driver must leave them to
/// `DefDriverProc`.
const UNDEFINED: [Msg; 6] = [0x000D, 0x000E, 0x0010, 0x0100, 0x0400, 0x07FF];

/// The first failure of a hosted call during the rule running (see [`diagnose`]):
/// kept across threads, as the `threads` rule sends from two of its own and a
/// hosted failure is recorded on the thread whose call failed.
static HOSTED_FAILURE: Mutex<Option<String>> = Mutex::new(None);

/// Keeps this thread's last hosted failure in [`HOSTED_FAILURE`], unless one is
/// there already (the first is the death; later ones say the driver is gone).
fn keep_hosted_failure(failure: Option<String>) {
    if let Some(text) = failure {
        HOSTED_FAILURE.lock().unwrap_or_else(PoisonError::into_inner).get_or_insert(text);
    }
}

/// The driver under test, opened through a manager; its image pinned from the first open.
struct Subject<'a> {
    manager: DriverManager,
    target: &'a str,
    /// Whether to pin the image in this process: not when the driver is hosted in
    /// a process of its own, which pinning would defeat by loading it here.
    pin: bool,
    /// `None` inside: the image could not be pinned (a function driver, or a
    /// platform without `module_path`).
    image: OnceCell<Option<libloading::Library>>,
}

impl Subject<'_> {
    fn open(&self) -> Result<Instance, OpenError> {
        // Hosted apart, the first death is all `diagnose` wants: no new host process
        // (each could hang until the timeout) once the driver died.
        let died = || HOSTED_FAILURE.lock().unwrap_or_else(PoisonError::into_inner).clone();
        if let Some(reason) = died().filter(|_| !self.pin) {
            return Err(OpenError::HostFailed { driver: self.target.to_string(), reason });
        }
        let instance = self.manager.open(self.target, None).inspect_err(|e| {
            if let OpenError::HostFailed { reason, .. } = e {
                keep_hosted_failure(Some(reason.clone()));
            }
        })?;
        if !self.pin {
            return Ok(instance);
        }
        self.image.get_or_init(|| {
            let path = self.manager.module_path(instance.handle()).ok().flatten()?;
            // SAFETY: the manager has just mapped this very file and holds it, so this
            // only adds a reference to the mapped image: no initialiser runs again.
            unsafe { libloading::Library::new(path) }.ok()
        });
        Ok(instance)
    }

    fn open_n(&self, n: usize) -> Result<Vec<Instance>, OpenError> {
        (0..n).map(|_| self.open()).collect()
    }

    /// The SDK's count of caught panics and the last message, when the driver has one.
    fn panics(&self) -> Option<(u64, String)> {
        let image = self.image.get()?.as_ref()?;
        let name = format!("{}\0", drvproc::sdk::PANICS_SYMBOL);
        // SAFETY: a library exporting this name is built with the SDK's `export_driver!`,
        // which gives the symbol exactly the type `PanicsFn`.
        let read = unsafe { image.get::<drvproc::sdk::PanicsFn>(name.as_bytes()) }.ok()?;
        let mut buf = [0u8; 1024];
        // SAFETY: `buf` is `buf.len()` writable bytes, as `PanicsFn` requires.
        let count = unsafe { read(buf.as_mut_ptr(), buf.len()) };
        let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
        Some((count, String::from_utf8_lossy(&buf[..end]).into_owned()))
    }
}

fn calls_of(calls: &[Call], code: Msg) -> Vec<&Call> {
    calls.iter().filter(|c| c.code == code).collect()
}

fn send(i: &Instance, msg: Msg) -> LResult {
    // SAFETY: rules send only messages whose parameters are documented as unused or
    // undefined, with zeros: no pointer reaches the driver.
    let answer = unsafe { i.send(msg, 0, 0) }.unwrap_or(0);
    keep_hosted_failure(drvproc_host::take_hosted_failure());
    answer
}

/// Runs rule `name` against `target`. A rule during which the SDK caught a panic
/// fails, whatever the answers were.
pub fn run(ctx: &Ctx, name: &str, target: &str) -> Verdict {
    let subject = Subject { manager: ctx.manager(), target, pin: true, image: OnceCell::new() };
    let verdict = judge(ctx, &subject, name);
    match subject.panics() {
        Some((count @ 1.., last)) => {
            let times = if count == 1 { "once".to_string() } else { format!("{count} times") };
            let panicked =
                format!("the driver panicked {times} (the SDK answered 0 for each); the last: {last}");
            if verdict.pass { fail(panicked) } else { fail(format!("{}; {panicked}", verdict.evidence)) }
        }
        _ => verdict,
    }
}

fn judge(ctx: &Ctx, m: &Subject, name: &str) -> Verdict {
    let capture = Capture::start();
    // What the file is, in the words every command uses, rather than the loader's.
    let explained = |e: &OpenError| diagnose::explain_open_error(ctx, m.target, None, e);
    let open_failed = |e: OpenError| fail(format!("cannot open: {}", explained(&e)));
    match name {
        "load" => match m.open() {
            Ok(_) | Err(OpenError::OpenRefused { .. }) => {
                let calls = capture.take();
                match calls_of(&calls, DRV_LOAD).first() {
                    Some(load) => pass(format!("DRV_LOAD answered {}", load.ret)),
                    None => fail("no DRV_LOAD was sent"),
                }
            }
            Err(e @ OpenError::LoadRefused { .. }) => fail(format!("{e} (DRV_LOAD answered 0)")),
            Err(e) => fail(explained(&e)),
        },
        "open" => match m.open() {
            Ok(_) => {
                let calls = capture.take();
                let open = calls_of(&calls, DRV_OPEN);
                pass(format!("DRV_OPEN(lParam2 = 0) answered {:#x}", open.first().map_or(0, |c| c.ret)))
            }
            Err(OpenError::OpenRefused { .. }) => fail(
                "DRV_OPEN(lParam2 = 0) answered 0: managers open a \
                 session instance with lParam2 = 0 before the real one, so such opens must succeed",
            ),
            Err(e) => open_failed(e),
        },
        "instances" => match m.open_n(3) {
            Ok(open) => {
                let calls = capture.take();
                let ids: Vec<String> =
                    calls_of(&calls, DRV_OPEN).iter().map(|c| format!("{:#x}", c.ret)).collect();
                let handles: std::collections::HashSet<_> = open.iter().map(Instance::handle).collect();
                if handles.len() == 3 {
                    pass(format!("3 instances open at once, ids {}", ids.join(", ")))
                } else {
                    fail("instances share a handle")
                }
            }
            Err(e) => fail(format!("opening 3 instances at once failed: {e}")),
        },
        "routing" => match m.open_n(3) {
            Ok(open) => {
                for i in &open {
                    send(i, DRV_QUERYCONFIGURE);
                }
                let calls = capture.take();
                let id_of: HashMap<u64, u64> =
                    calls_of(&calls, DRV_OPEN).iter().map(|c| (c.hdrvr, c.ret as u64)).collect();
                let wrong: Vec<String> = calls_of(&calls, DRV_QUERYCONFIGURE)
                    .iter()
                    .filter(|c| id_of.get(&c.hdrvr) != Some(&c.id))
                    .map(|c| format!("handle {:#x} got id {:#x}", c.hdrvr, c.id))
                    .collect();
                if wrong.is_empty() {
                    pass("each of 3 instances received DRV_QUERYCONFIGURE with the id its DRV_OPEN answered")
                } else {
                    fail(wrong.join("; "))
                }
            }
            Err(e) => fail(format!("opening 3 instances failed: {e}")),
        },
        "defaults" => match m.open() {
            Ok(i) => {
                let wrong: Vec<String> = UNDEFINED
                    .iter()
                    .filter_map(|&msg| {
                        let got = send(&i, msg);
                        let want = def_driver_proc(0, i.handle(), msg, 0, 0);
                        (got != want).then(|| {
                            format!("{} answered {got}, DefDriverProc answers {want}", message_name(msg))
                        })
                    })
                    .collect();
                if wrong.is_empty() {
                    pass(format!("{} undefined messages answered 0", UNDEFINED.len()))
                } else {
                    fail(wrong.join("; "))
                }
            }
            Err(e) => open_failed(e),
        },
        "close-order" => match m.open_n(3) {
            Ok(mut open) => {
                let (c, b, a) = (open.pop(), open.pop(), open.pop());
                let order = [b, c, a];
                let results: Vec<bool> = order.into_iter().flatten().map(|i| i.close().is_ok()).collect();
                let calls = capture.take();
                let closes = calls_of(&calls, DRV_CLOSE).len();
                let last = calls.last().map(|c| c.msg.clone()).unwrap_or_default();
                if results == [true, true, true] && closes == 3 && last == "DRV_FREE" {
                    pass("closed the 2nd, 3rd, then 1st instance: 3 DRV_CLOSE, then DRV_DISABLE, DRV_FREE")
                } else {
                    fail(format!("closes {results:?}, {closes} DRV_CLOSE delivered, last message {last}"))
                }
            }
            Err(e) => fail(format!("opening 3 instances failed: {e}")),
        },
        "unload" => match m.open() {
            Ok(i) => {
                let _ = i.close();
                let calls = capture.take();
                let tail: Vec<String> =
                    calls.iter().rev().take(2).rev().map(|c| format!("{} -> {}", c.msg, c.ret)).collect();
                if tail.len() == 2 && tail[0].starts_with("DRV_DISABLE") && tail[1].starts_with("DRV_FREE") {
                    pass(format!("after the last close: {}", tail.join(", ")))
                } else {
                    fail(format!("after the last close: {}", tail.join(", ")))
                }
            }
            Err(e) => open_failed(e),
        },
        "reload" => match m.open() {
            Ok(i) => {
                drop(i);
                match m.open() {
                    Ok(_) => {
                        let calls = capture.take();
                        let loads: Vec<String> =
                            calls_of(&calls, DRV_LOAD).iter().map(|c| c.ret.to_string()).collect();
                        pass(format!(
                            "loaded, unloaded and loaded again (DRV_LOAD answered {})",
                            loads.join(", then ")
                        ))
                    }
                    Err(OpenError::LoadRefused { .. }) => {
                        fail("the second DRV_LOAD, after DRV_FREE, answered 0")
                    }
                    Err(e) => fail(format!("the second open failed: {e}")),
                }
            }
            Err(e) => open_failed(e),
        },
        "threads" => match m.open_n(2) {
            Ok(open) => {
                let baseline = send(&open[0], DRV_QUERYCONFIGURE);
                let rounds = 2000;
                let mismatches: usize = std::thread::scope(|s| {
                    let workers: Vec<_> = (0..2)
                        .map(|t| {
                            let open = &open;
                            s.spawn(move || {
                                (0..rounds)
                                    .filter(|n| send(&open[(t + n) % 2], DRV_QUERYCONFIGURE) != baseline)
                                    .count()
                            })
                        })
                        .collect();
                    workers.into_iter().map(|w| w.join().unwrap_or(rounds)).sum()
                });
                if mismatches == 0 {
                    pass(format!(
                        "2 threads sent {rounds} DRV_QUERYCONFIGURE each to 2 instances: all answered {baseline}"
                    ))
                } else {
                    fail(format!(
                        "{mismatches} of {} concurrent answers differed from {baseline}",
                        2 * rounds
                    ))
                }
            }
            Err(e) => fail(format!("opening 2 instances failed: {e}")),
        },
        other => fail(format!("unknown rule {other}")),
    }
}

/// What a rule run with the driver hosted in a process of its own learned of the
/// driver's death.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
pub struct HostedDeath {
    /// The message the driver died on, as the manager names it.
    pub message: String,
    /// The last line the driver's host process wrote, if any.
    pub last_output: Option<String>,
}

/// Runs rule `name` against `target` once more, in this process with a manager of
/// its own that hosts the driver in a process of its own (`timeout` per message),
/// and returns how the driver died, if its host process died of it.
///
/// This is what a rule's child cannot say once the driver took it down: the
/// manager that saw the death is drvctl's, so it names the message, and the host
/// process's output is kept by drvctl's supervisor, not lost with the child. It is
/// not the verdict itself, which stays the child's (see `check`): a driver hosted
/// apart from the application's memory may behave differently, and a death only
/// seen here is no evidence against in-process hosting.
#[cfg(target_os = "linux")]
pub fn diagnose(ctx: &Ctx, name: &str, target: &str, timeout: std::time::Duration) -> Option<HostedDeath> {
    let options = ctx.options().isolate(true).host_program(host_program()).host_timeout(timeout);
    *HOSTED_FAILURE.lock().unwrap_or_else(PoisonError::into_inner) = None;
    {
        let subject =
            Subject { manager: DriverManager::new(options), target, pin: false, image: OnceCell::new() };
        let _ = judge(ctx, &subject, name);
        // Closes and unloads in the drop below record their failures on this thread.
    }
    keep_hosted_failure(drvproc_host::take_hosted_failure());
    let failure = HOSTED_FAILURE.lock().unwrap_or_else(PoisonError::into_inner).take()?;
    hosted_death(&failure)
}

/// The program that hosts the drivers drvctl isolates: `$DRVPROC_HOSTD`, else
/// drvctl itself (it serves the channel when started with the manager's
/// `--channel FD`).
///
/// Not `drvproc-hostd` beside drvctl, the manager's default: installing drvctl
/// does not install it, and a build of drvctl alone does not build it, so one found
/// there may be of another version, speaking another protocol. drvctl itself always
/// matches. It does not export `DriverCallback` as `drvproc-hostd` does; no rule
/// asks a driver for notifications.
#[cfg(target_os = "linux")]
fn host_program() -> std::path::PathBuf {
    match std::env::var_os("DRVPROC_HOSTD") {
        Some(program) => program.into(),
        None => std::env::current_exe().unwrap_or_else(|_| "drvctl".into()),
    }
}

/// The death in a hosted failure's words ("driver D died on MSG: host process PID
/// CAUSE; its last output: LINE"); `None` for any other failure, and for a host
/// killed by its manager (a hang, which the rule's child already reports as one).
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn hosted_death(failure: &str) -> Option<HostedDeath> {
    let (head, last_output) = match failure.split_once("; its last output: ") {
        Some((head, line)) => (head, Some(line.trim().to_string()).filter(|l| !l.is_empty())),
        None => (failure, None),
    };
    let (died, host) = head.rsplit_once(": host process ")?;
    let (_, message) = died.rsplit_once(" died on ")?;
    let (_pid, cause) = host.split_once(' ')?;
    if cause.starts_with("was killed: ") {
        return None;
    }
    Some(HostedDeath { message: message.to_string(), last_output })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosted_deaths_are_read_from_the_managers_words() {
        assert_eq!(
            hosted_death(
                "driver /d/libx.so died on DRV_QUERYCONFIGURE: host process 42 was killed by SIGSEGV"
            ),
            Some(HostedDeath { message: "DRV_QUERYCONFIGURE".into(), last_output: None })
        );
        assert_eq!(
            hosted_death(
                "driver a died on 0x07FF (undefined): host process 7 was killed by SIGABRT (core dumped); \
                 its last output: x: aborting"
            ),
            Some(HostedDeath {
                message: "0x07FF (undefined)".into(),
                last_output: Some("x: aborting".into())
            })
        );
        assert_eq!(
            hosted_death(
                "driver a died on DRV_FREE: host process 7 exited with status 0; its last output:  "
            ),
            Some(HostedDeath { message: "DRV_FREE".into(), last_output: None })
        );
        // A hang, killed at the timeout; a message that was not delivered.
        assert_eq!(
            hosted_death(
                "driver a died on DRV_OPEN: host process 7 was killed: DRV_OPEN took longer than 1s"
            ),
            None
        );
        assert_eq!(hosted_death("driver a: DRV_USER was not delivered: too long"), None);
    }
}
