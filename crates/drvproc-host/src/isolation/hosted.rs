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

use std::path::Path;
use std::sync::OnceLock;

use drvproc::{DriverId, Hdrvr, LParam, LResult, MessageName, Msg};

use super::failure;
use super::marshal::Arg;
use super::remote::{Remote, RemoteError};
use super::supervisor::HostCommand;
use crate::handle_table::Presence;
use crate::module::Module;
use crate::options::HostSettings;

/// Starts a host process for the driver file at `path` and asks it to map the
/// file: the module that is then opened like any other. `display` names it in
/// messages. Fails with the reason in words.
pub(crate) fn start(
    settings: &HostSettings,
    path: &Path,
    display: String,
    manager: usize,
) -> Result<Module, String> {
    let in_host = |e: RemoteError| format!("in its host process: {e}");
    let command = HostCommand::new(&settings.program);
    // The class is learned from the module's first open that names it (see `Remote`).
    let class = drvproc::DriverClass::Generic;
    let remote = Remote::spawn(command, class, settings.timeout, display.clone()).map_err(in_host)?;
    remote.load(path).map_err(in_host)?;
    Ok(Module::new_remote(display, Some(path.to_path_buf()), remote, manager))
}

pub(crate) struct Hosted {
    pub(crate) remote: Remote,
    /// The table identity of the manager that owns the module (for its instances).
    manager: usize,
    /// Why the module is dead, once it is.
    dead: OnceLock<String>,
}

impl Hosted {
    pub(crate) fn new(remote: Remote, manager: usize) -> Hosted {
        Hosted { remote, manager, dead: OnceLock::new() }
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
            failure::record(format!("driver {} is gone: {reason}", module.name));
            return 0;
        }
        // SAFETY: forwarded contract.
        let result = unsafe { self.remote.call(id, h, msg, l1, l2) };
        self.settle(module, msg, result)
    }

    /// Delivers a message whose parameters the caller describes.
    pub(crate) fn call_args<'a>(
        &self,
        module: &Module,
        id: DriverId,
        h: Hdrvr,
        msg: Msg,
        l1: &mut Arg<'a>,
        l2: &mut Arg<'a>,
    ) -> LResult {
        if let Some(reason) = self.dead() {
            failure::record(format!("driver {} is gone: {reason}", module.name));
            return 0;
        }
        let result = self.remote.call_args(id, h, msg, l1, l2);
        self.settle(module, msg, result)
    }

    fn settle(&self, module: &Module, msg: Msg, result: Result<LResult, RemoteError>) -> LResult {
        match result {
            Ok(ret) => ret,
            Err(RemoteError::Died(how)) => {
                let text = format!("driver {} died on {}: {how}", module.name, MessageName(msg));
                tracing::error!(target: "drvproc::isolation", driver = %module.name, msg = %MessageName(msg), "{text}");
                if self.dead.set(text.clone()).is_ok() {
                    self.retire(module);
                }
                failure::record(text);
                0
            }
            Err(e) => {
                let text = format!("driver {}: {} was not delivered: {e}", module.name, MessageName(msg));
                tracing::warn!(target: "drvproc::isolation", driver = %module.name, msg = %MessageName(msg), "{e}");
                failure::record(text);
                0
            }
        }
    }

    /// Forgets the dead module and closes its instances (see the module notes).
    fn retire(&self, module: &Module) {
        let Some(manager) = crate::directory::find_local(self.manager) else { return };
        let state = manager.state();
        state.forget_module(module);
        for h in state.table.live_handles() {
            let mine = state.table.enter(h).is_some_and(|g| std::ptr::eq(g.module(), module));
            if mine {
                let _ = state.close_instance_or_defer(h);
            }
        }
    }
}
