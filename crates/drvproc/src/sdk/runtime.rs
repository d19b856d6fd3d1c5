//! The state behind one exported `DriverProc`: the module value, the open instances,
//! and the routing of every message between them.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::slab::Slab;
use super::{Context, Driver, Instance, OpenParams, dispatch_module};
use crate::consts::*;
use crate::def_driver_proc;
use crate::names::MessageName;
use crate::types::{DriverId, Hdrvr, LParam, LResult, Msg};
use crate::wide::WideString;

struct State<D: Driver> {
    module: Option<Arc<D>>,
    /// Nested `DRV_LOAD`s of this image (two managers in one process share it).
    loads: usize,
    instances: Slab<Arc<D::Instance>>,
}

/// The per-driver state [`export_driver!`](crate::export_driver) puts in a `static`.
///
/// Locks guard only the bookkeeping: they are released before any driver method
/// runs, so methods may re-enter the manager (and through it this driver) freely.
pub struct Runtime<D: Driver> {
    state: RwLock<State<D>>,
}

impl<D: Driver> Default for Runtime<D> {
    fn default() -> Self {
        Self::new()
    }
}

impl<D: Driver> Runtime<D> {
    /// An unloaded driver; `const` so that it can live in a `static`.
    pub const fn new() -> Self {
        Runtime { state: RwLock::new(State { module: None, loads: 0, instances: Slab::new() }) }
    }

    // Driver code never runs while these locks are held, so a poisoned lock can only
    // come from a bug in this file's bookkeeping; the data is still consistent then.
    fn read(&self) -> RwLockReadGuard<'_, State<D>> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, State<D>> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// The body of the exported `DriverProc`: routes one message and never unwinds.
    ///
    /// # Safety
    /// `l1` and `l2` must satisfy the contract of `msg`: for `DRV_OPEN`, `l1` is 0 or a
    /// NUL-terminated UTF-16 string; for `DRV_INSTALL`/`DRV_CONFIGURE`, `l2` is 0 or a
    /// `DRVCONFIGINFO*`; other messages are the driver's own contract.
    pub unsafe fn driver_proc(&self, id: DriverId, h: Hdrvr, msg: Msg, l1: LParam, l2: LParam) -> LResult {
        let args = if msg == DRV_OPEN {
            // SAFETY: DRV_OPEN's lParam1 is 0 or an args string (caller's contract).
            unsafe { WideString::from_ptr(l1 as *const u16) }.map(|w| w.to_string_lossy())
        } else {
            None
        };
        match catch_unwind(AssertUnwindSafe(|| self.route(id, h, msg, l1, l2, args))) {
            Ok(answer) => answer,
            Err(payload) => {
                let what = payload
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "non-string panic payload".into());
                tracing::error!(msg = %MessageName(msg), id, hdrvr = %h, "driver panicked: {what}");
                0
            }
        }
    }

    /// Number of open instances (for tests and diagnostics).
    pub fn instance_count(&self) -> usize {
        self.read().instances.len()
    }

    /// Whether the module state exists (between `DRV_LOAD` and the last `DRV_FREE`).
    pub fn is_loaded(&self) -> bool {
        self.read().module.is_some()
    }

    fn module(&self) -> Option<Arc<D>> {
        self.read().module.clone()
    }

    fn route(
        &self,
        id: DriverId,
        h: Hdrvr,
        msg: Msg,
        l1: LParam,
        l2: LParam,
        args: Option<String>,
    ) -> LResult {
        match msg {
            DRV_LOAD => self.load(h),
            DRV_ENABLE => self.module().map_or(1, |m| m.enable(h)),
            DRV_DISABLE => self.module().map_or(1, |m| m.disable(h)),
            DRV_FREE => self.free(h),
            DRV_OPEN => self.open(OpenParams { hdrvr: h, args, lparam2: l2 }),
            _ if id == 0 => match self.module() {
                Some(module) => dispatch_module(&*module, h, msg, l1, l2),
                None => def_driver_proc(0, h, msg, l1, l2),
            },
            DRV_CLOSE => self.close(id, h, l1, l2),
            _ => {
                let found = {
                    let state = self.read();
                    state.module.clone().zip(state.instances.get(id).cloned())
                };
                match found {
                    Some((module, instance)) => instance.message(&Context::new(&*module, h, id), msg, l1, l2),
                    None => {
                        tracing::warn!(msg = %MessageName(msg), id, hdrvr = %h, "message to an unknown instance id");
                        0
                    }
                }
            }
        }
    }

    fn load(&self, h: Hdrvr) -> LResult {
        {
            let mut state = self.write();
            if state.module.is_some() {
                state.loads += 1;
                return 1;
            }
        }
        let Some(module) = D::load(h) else { return 0 };
        let mut state = self.write();
        // Another manager may have loaded this image while `D::load` ran; keep the
        // first state and count this load against it (`module` is dropped unused).
        if state.module.is_none() {
            state.module = Some(Arc::new(module));
        }
        state.loads += 1;
        1
    }

    fn free(&self, h: Hdrvr) -> LResult {
        let Some(module) = self.module() else {
            return def_driver_proc(0, h, DRV_FREE, 0, 0);
        };
        let last = self.read().loads <= 1;
        let answer = if last { module.free(h) } else { 1 };
        let (dropped_module, leftover) = {
            let mut state = self.write();
            state.loads = state.loads.saturating_sub(1);
            if state.loads == 0 { (state.module.take(), state.instances.drain()) } else { (None, Vec::new()) }
        };
        if !leftover.is_empty() {
            tracing::warn!(count = leftover.len(), "DRV_FREE with instances still open; dropping them");
        }
        // Dropped here, outside the lock: Drop impls are driver code.
        drop(leftover);
        drop(dropped_module);
        answer
    }

    fn open(&self, params: OpenParams) -> LResult {
        let Some(module) = self.module() else {
            tracing::warn!(hdrvr = %params.hdrvr, "DRV_OPEN before DRV_LOAD; refusing");
            return 0;
        };
        let Some(instance) = module.open(&params) else { return 0 };
        let key = self.write().instances.insert(Arc::new(instance));
        match key {
            Some(id) => id as LResult,
            None => {
                tracing::error!(hdrvr = %params.hdrvr, "instance table full; refusing DRV_OPEN");
                0
            }
        }
    }

    fn close(&self, id: DriverId, h: Hdrvr, l1: LParam, l2: LParam) -> LResult {
        let found = {
            let mut state = self.write();
            let instance = state.instances.remove(id);
            state.module.clone().zip(instance)
        };
        match found {
            Some((module, instance)) => instance.close(&Context::new(&*module, h, id), l1, l2),
            None => {
                tracing::warn!(id, hdrvr = %h, "DRV_CLOSE for an unknown instance id");
                0
            }
        }
    }
}
