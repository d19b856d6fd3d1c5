//! A module hosted in another process, as the manager sees it: every call goes
//! through [`Remote`], and the first call that finds the host dead turns the
//! module dead.
//!
//! A dead module answers every message with 0 at once. Its instances are closed
//! (each close is deferred until the messages in progress on it return, the failed
//! one included), so their handles become invalid, and the module is forgotten, so
//! the next open of the same file starts a new host process. Nothing here runs on
//! the supervisor's thread: the death is found by the calls, which the supervisor
//! wakes by marking the channel dead.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};

use drvproc::{DriverId, Hdrvr, LParam, LResult, MessageName, Msg};

use super::failure;
use super::marshal::Arg;
use super::remote::{Remote, RemoteError};
use super::supervisor::{HostCommand, Sandbox, SandboxLevel};
use crate::handle_table::Presence;
use crate::module::Module;
use crate::options::HostSettings;

/// Starts a host process for the driver file at `path` and asks it to map the
/// file: the module that is then opened like any other. `display` names it in
/// messages. Fails with the reason in words.
///
/// With a host `group` (an alias's marker's, else the manager's
/// [`HostSettings::group`]), the group's host process serves the module if it is
/// running (and the module's file has its width); the first module of a group
/// starts it, and it ends with the group's last module. Groups are the manager's:
/// a marker and the manager's option that name one group share its host.
pub(crate) fn start(
    settings: &HostSettings,
    path: &Path,
    display: String,
    manager: usize,
    group: Option<&str>,
    groups: &Mutex<HashMap<String, Weak<Remote>>>,
) -> Result<Module, String> {
    let in_host = |e: RemoteError| format!("in its host process: {e}");
    let bits = file_bits(path).unwrap_or(usize::BITS);
    // A group has one host per width: a 32-bit driver cannot share a 64-bit host.
    let group = group.map(|g| format!("{g}/{bits}"));
    if let Some(key) = &group {
        let shared = groups.lock().unwrap_or_else(PoisonError::into_inner).get(key).and_then(Weak::upgrade);
        if let Some(remote) = shared.filter(|r| !r.ended()) {
            let index = remote.load(path).map_err(in_host)?;
            return Ok(Module::new_remote(display, Some(path.to_path_buf()), remote, index, manager));
        }
    }
    let program = if bits == 32 && usize::BITS != 32 { &settings.program_32 } else { &settings.program };
    if !program.is_file() && program.components().count() > 1 {
        return Err(format!(
            "the host program {} does not exist (a {bits}-bit driver needs it)",
            program.display()
        ));
    }
    let mut command = HostCommand::new(program);
    if let Some(wanted) = &settings.sandbox {
        let level = if wanted.required { SandboxLevel::Required } else { SandboxLevel::BestEffort };
        let mut sandbox = Sandbox::new(level).driver(path);
        for p in &wanted.read {
            sandbox = sandbox.allow_read(p);
        }
        for p in &wanted.write {
            sandbox = sandbox.allow_write(p);
        }
        command = command.sandbox(sandbox);
    }
    // The class is learned from the module's first open that names it (see `Remote`).
    let class = drvproc::DriverClass::Generic;
    let label = group.clone().map_or_else(|| display.clone(), |g| format!("host group {g}"));
    let remote = Arc::new(Remote::spawn(command, class, settings.timeout, label).map_err(in_host)?);
    let index = remote.load(path).map_err(in_host)?;
    if let Some(key) = group {
        let mut groups = groups.lock().unwrap_or_else(PoisonError::into_inner);
        groups.retain(|_, r| r.strong_count() > 0);
        groups.insert(key, Arc::downgrade(&remote));
    }
    Ok(Module::new_remote(display, Some(path.to_path_buf()), remote, index, manager))
}

/// Whether the file at `path` is a 32- or 64-bit ELF image, by its header; `None`
/// when it is not ELF or cannot be read (the loader then says why).
pub(crate) fn file_bits(path: &Path) -> Option<u32> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    // Regular files only, and never a blocking open: a FIFO put in the file's place
    // must not hang the open (the loader refuses it after this).
    if !std::fs::metadata(path).ok()?.is_file() {
        return None;
    }
    let mut file = std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(path).ok()?;
    let mut head = [0u8; 5];
    file.read_exact(&mut head).ok()?;
    match head {
        [0x7f, b'E', b'L', b'F', 1] => Some(32),
        [0x7f, b'E', b'L', b'F', 2] => Some(64),
        _ => None,
    }
}

pub(crate) struct Hosted {
    /// The host process's end, shared by the modules of a host group.
    pub(crate) remote: Arc<Remote>,
    /// This module's number in the host.
    module: u32,
    /// The table identity of the manager that owns the module (for its instances).
    manager: usize,
    /// Why the module is dead, once it is.
    dead: OnceLock<String>,
    /// This module's last undelivered message's failure, with the thread it was
    /// for (see [`take_refusal`](Self::take_refusal)).
    refusal: Mutex<Option<(std::thread::ThreadId, String)>>,
}

impl Drop for Hosted {
    /// The module is gone (after its `DRV_FREE`): its host unmaps it. A host of
    /// this module alone ends as the last reference to it goes, right after.
    fn drop(&mut self) {
        if Arc::strong_count(&self.remote) > 1 && self.dead.get().is_none() {
            let _ = self.remote.unload(self.module);
        }
    }
}

impl Hosted {
    pub(crate) fn new(remote: Arc<Remote>, module: u32, manager: usize) -> Hosted {
        Hosted { remote, module, manager, dead: OnceLock::new(), refusal: Mutex::new(None) }
    }

    /// Takes the failure of this module's last undelivered message on this thread,
    /// if it was the last one here: why an open "refused" (answered 0) when the
    /// driver never got the message. Kept per module, so a failure of another
    /// driver's message sent meanwhile is never taken for this one's.
    pub(crate) fn take_refusal(&self) -> Option<String> {
        let mut slot = self.refusal.lock().unwrap_or_else(PoisonError::into_inner);
        match slot.take() {
            Some((thread, text)) if thread == std::thread::current().id() => Some(text),
            other => {
                *slot = other;
                None
            }
        }
    }

    /// Why the module is dead, if it is.
    pub(crate) fn dead(&self) -> Option<&str> {
        self.dead.get().map(String::as_str)
    }

    /// Delivers one message; a failure answers 0 and is recorded (see [`failure`]).
    ///
    /// # Safety
    /// `l1` and `l2` are what the driver expects for `msg`.
    pub(crate) unsafe fn call(
        &self,
        module: &Module,
        id: DriverId,
        h: Hdrvr,
        msg: Msg,
        l1: LParam,
        l2: LParam,
    ) -> LResult {
        if let Some(reason) = self.dead() {
            return Self::gone(module, msg, reason);
        }
        // SAFETY: forwarded contract.
        let result = unsafe { self.remote.call(self.module, id, h, msg, l1, l2) };
        self.settle(module, msg, result)
    }

    /// Delivers a message whose parameters the caller describes; a failure is
    /// returned (and not recorded as this thread's last: the caller gets it).
    pub(crate) fn call_args<'a>(
        &self,
        module: &Module,
        id: DriverId,
        h: Hdrvr,
        msg: Msg,
        l1: &mut Arg<'a>,
        l2: &mut Arg<'a>,
    ) -> Result<LResult, String> {
        if let Some(reason) = self.dead() {
            return Err(format!("driver {} is gone: {reason}", module.name));
        }
        let result = self.remote.call_args(self.module, id, h, msg, l1, l2);
        self.judge(module, msg, result)
    }

    /// The answer of a dead module: 0, recorded as a failure except for the close
    /// and unload messages, which release what the death left (the manager sends
    /// them after a death in `DRV_CLOSE`): the death itself, recorded when it
    /// happened, stays the failure the caller hears of.
    fn gone(module: &Module, msg: Msg, reason: &str) -> LResult {
        use drvproc::consts::{DRV_CLOSE, DRV_DISABLE, DRV_FREE};
        if !matches!(msg, DRV_CLOSE | DRV_DISABLE | DRV_FREE) {
            failure::record(format!("driver {} is gone: {reason}", module.name));
        }
        0
    }

    /// A call's answer, or its failure recorded as this thread's last (and as this
    /// module's refusal) and answered 0.
    fn settle(&self, module: &Module, msg: Msg, result: Result<LResult, RemoteError>) -> LResult {
        match self.judge(module, msg, result) {
            Ok(ret) => ret,
            Err(text) => {
                *self.refusal.lock().unwrap_or_else(PoisonError::into_inner) =
                    Some((std::thread::current().id(), text.clone()));
                failure::record(text);
                0
            }
        }
    }

    /// A call's answer, or its failure in words; a death turns the module dead
    /// (and retires it) the first time it is seen.
    fn judge(
        &self,
        module: &Module,
        msg: Msg,
        result: Result<LResult, RemoteError>,
    ) -> Result<LResult, String> {
        match result {
            Ok(ret) => Ok(ret),
            Err(e @ (RemoteError::Died(_) | RemoteError::Gone(_))) => {
                let text = match e {
                    RemoteError::Died(how) => {
                        format!("driver {} died on {}: {how}", module.name, MessageName(msg))
                    }
                    _ => format!("driver {} had died before {}: {e}", module.name, MessageName(msg)),
                };
                tracing::error!(target: "drvproc::isolation", driver = %module.name, msg = %MessageName(msg), "{text}");
                if self.dead.set(text.clone()).is_ok() {
                    self.retire(module, &text);
                }
                Err(text)
            }
            Err(e) => {
                let text = format!("driver {}: {} was not delivered: {e}", module.name, MessageName(msg));
                tracing::warn!(target: "drvproc::isolation", driver = %module.name, msg = %MessageName(msg), "{e}");
                Err(text)
            }
        }
    }

    /// Forgets the dead module and closes its instances (see the module notes).
    fn retire(&self, module: &Module, death: &str) {
        let Some(manager) = crate::directory::find_local(self.manager) else { return };
        let state = manager.state();
        state.forget_module(module);
        let death: std::sync::Arc<str> = death.into();
        for h in state.table.live_handles() {
            let mine = state.table.enter(h).is_some_and(|g| std::ptr::eq(g.module(), module));
            if mine {
                failure::bury(h, &death);
                let _ = state.close_instance_or_defer(h);
            }
        }
    }
}
