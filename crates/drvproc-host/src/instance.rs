//! [`Instance`]: an open driver instance that closes itself when dropped, with typed
//! wrappers over the standard messages.

use std::fmt;

use drvproc::config_info::ConfigInfoBuf;
use drvproc::consts::*;
use drvproc::{Hdrvr, LParam, LResult, Msg};

use crate::error::{BadHandle, CloseError};
use crate::manager::DriverManager;

/// An open driver instance. Dropping it closes it (`CloseDriver(h, 0, 0)`).
pub struct Instance {
    manager: DriverManager,
    handle: Hdrvr,
    /// False once ownership was given up (`into_raw`, `close`): drop does nothing.
    owned: bool,
}

impl fmt::Debug for Instance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Instance").field("handle", &self.handle).finish()
    }
}

impl Instance {
    /// Takes ownership of a raw handle of `manager` (it will be closed on drop).
    ///
    /// # Safety
    /// `handle` must be an instance of `manager` that the caller owns and that nothing
    /// else will close (like `OwnedFd::from_raw_fd`): otherwise this drop closes an
    /// instance someone else still uses.
    pub unsafe fn from_raw(manager: DriverManager, handle: Hdrvr) -> Self {
        Instance { manager, handle, owned: true }
    }

    /// Gives up ownership: the handle stays open until closed through the manager.
    pub fn into_raw(mut self) -> Hdrvr {
        self.owned = false;
        self.handle
    }

    /// The instance's handle.
    pub fn handle(&self) -> Hdrvr {
        self.handle
    }

    /// The manager it belongs to.
    pub fn manager(&self) -> &DriverManager {
        &self.manager
    }

    /// `SendDriverMessage`: see [`DriverManager::send`].
    ///
    /// # Safety
    /// `l1` and `l2` must be what the driver expects for `msg`.
    pub unsafe fn send(&self, msg: Msg, l1: LParam, l2: LParam) -> Result<LResult, BadHandle> {
        // SAFETY: forwarded contract.
        unsafe { self.manager.send(self.handle, msg, l1, l2) }
    }

    /// A message with described parameters: see [`DriverManager::send_params`].
    ///
    /// # Safety
    /// As for [`DriverManager::send_params`].
    pub unsafe fn send_params<'a>(
        &self,
        msg: Msg,
        l1: &mut crate::Param<'a>,
        l2: &mut crate::Param<'a>,
    ) -> Result<LResult, crate::SendError> {
        // SAFETY: forwarded contract.
        unsafe { self.manager.send_params(self.handle, msg, l1, l2) }
    }

    /// `DRV_QUERYCONFIGURE`: whether the driver has a configuration dialog.
    pub fn query_configure(&self) -> Result<bool, BadHandle> {
        // SAFETY: DRV_QUERYCONFIGURE takes no parameters.
        unsafe { self.send(DRV_QUERYCONFIGURE, 0, 0) }.map(|r| r != 0)
    }

    /// `DRV_CONFIGURE` with a parent window value (0 for none) and an optional
    /// `DRVCONFIGINFO`; returns the driver's `DRVCNF_*` answer.
    pub fn configure(&self, parent: LParam, config: Option<&ConfigInfoBuf>) -> Result<LResult, BadHandle> {
        let l2 = config.map_or(0, ConfigInfoBuf::as_lparam);
        // SAFETY: DRV_CONFIGURE's lParam2 is a DRVCONFIGINFO* or NULL; `config` lives
        // across the call. lParam1 is a window handle value, never dereferenced as memory.
        unsafe { self.send(DRV_CONFIGURE, parent, l2) }
    }

    /// `DRV_INSTALL` with an optional `DRVCONFIGINFO`; returns `DRVCNF_*`.
    pub fn install(&self, parent: LParam, config: Option<&ConfigInfoBuf>) -> Result<LResult, BadHandle> {
        let l2 = config.map_or(0, ConfigInfoBuf::as_lparam);
        // SAFETY: as for configure.
        unsafe { self.send(DRV_INSTALL, parent, l2) }
    }

    /// `DRV_REMOVE`; returns `DRVCNF_*`.
    pub fn remove(&self) -> Result<LResult, BadHandle> {
        // SAFETY: DRV_REMOVE takes no parameters.
        unsafe { self.send(DRV_REMOVE, 0, 0) }
    }

    /// `GetDriverModuleHandle`: see [`DriverManager::module_handle`].
    pub fn module_handle(&self) -> Result<Option<usize>, BadHandle> {
        self.manager.module_handle(self.handle)
    }

    /// Closes now and reports a failure (dropping closes too, silently).
    pub fn close(self) -> Result<(), CloseError> {
        let (manager, h) = (self.manager.clone(), self.into_raw());
        manager.close(h)
    }

    /// Closes with `DRV_CLOSE` parameters.
    ///
    /// # Safety
    /// `l1` and `l2` must be what the driver expects in `DRV_CLOSE`.
    pub unsafe fn close_with(self, l1: LParam, l2: LParam) -> Result<(), CloseError> {
        let (manager, h) = (self.manager.clone(), self.into_raw());
        // SAFETY: forwarded contract.
        unsafe { manager.close_with(h, l1, l2) }
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        // A handle already closed through the raw API is simply not found.
        if self.owned {
            let _ = self.manager.close(self.handle);
        }
    }
}
