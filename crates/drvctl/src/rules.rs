//! The conformance rules of `drvctl check`. Each runs in its own child process with
//! a fresh manager, records what the driver received, and returns a verdict with the
//! evidence.
//!
//! Once the manager has mapped the driver, the child maps it once more itself: the
//! image then stays mapped when the manager unloads it, as it does whenever another
//! component holds the same library, so the `reload` rule sees a driver that relies on
//! fresh statics; and the SDK's count of caught panics can be read after the last
//! instance closed.

use std::cell::OnceCell;
use std::collections::HashMap;

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

/// The driver under test, opened through a manager; its image pinned from the first open.
struct Subject<'a> {
    manager: DriverManager,
    target: &'a str,
    /// `None` inside: the image could not be pinned (a function driver, or a
    /// platform without `module_path`).
    image: OnceCell<Option<libloading::Library>>,
}

impl Subject<'_> {
    fn open(&self) -> Result<Instance, OpenError> {
        let instance = self.manager.open(self.target, None)?;
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
    unsafe { i.send(msg, 0, 0) }.unwrap_or(0)
}

/// Runs rule `name` against `target`. A rule during which the SDK caught a panic
/// fails, whatever the answers were.
pub fn run(ctx: &Ctx, name: &str, target: &str) -> Verdict {
    let subject = Subject { manager: ctx.manager(), target, image: OnceCell::new() };
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
