//! The lifecycle of instances and modules (spec §7): the message sequences of an
//! open and a close, the session instance, and a module's load and unload phases.

use std::sync::{Arc, PoisonError};
use std::thread;

use drvproc::consts::*;
use drvproc::wide::WideString;
use drvproc::{Hdrvr, LParam, LResult};

use crate::error::{BadHandle, OpenError};
use crate::handle_table::{Closing, MAX_INSTANCES};
use crate::manager::ManagerState;
use crate::module::{Module, Phase};

/// Instance flag: the hidden session instance (spec §7.3 b).
const SESSION: u8 = 1;
/// Instance flag: `DRV_OPEN` succeeded; only such instances can be closed by callers.
const OPENED: u8 = 2;

/// An open attempt on one module either finishes or must start over on a new module.
pub(crate) enum Attempt {
    Done(Result<Hdrvr, OpenError>),
    Retry,
}

impl ManagerState {
    pub(crate) fn close_all(&self) -> usize {
        self.table.live_handles().into_iter().filter(|&h| self.close_instance(h, 0, 0).is_ok()).count()
    }

    pub(crate) fn close_instance(&self, h: Hdrvr, l1: LParam, l2: LParam) -> Result<(), BadHandle> {
        let flags = self.table.peek_flags(h).ok_or(BadHandle(h))?;
        if flags & OPENED == 0 || flags & SESSION != 0 {
            return Err(BadHandle(h));
        }
        let closing = self.table.begin_close(h).ok_or(BadHandle(h))?;
        let module = closing.module_arc();
        module.call(closing.id(), h, DRV_CLOSE, l1, l2);
        self.instance_gone(&module, Some(closing), true);
        Ok(())
    }

    pub(crate) fn open_instance(&self, module: &Arc<Module>, args: Option<&str>, l2: LParam) -> Attempt {
        let me = thread::current().id();
        let refused = |what: fn(String) -> OpenError| Attempt::Done(Err(what(module.name.clone())));
        // Args come from a NUL-free name or registry value; a NUL would only cut them.
        let args = args.and_then(|a| WideString::new(a).ok());
        let args_ptr = args.as_ref().map_or(0, |w| w.as_ptr() as LParam);
        let first = {
            let mut state = module.state();
            let first = loop {
                match state.phase {
                    Phase::Gone => return Attempt::Retry,
                    Phase::Unloading(t) if t == me => {
                        return refused(|driver| OpenError::Unloading { driver });
                    }
                    Phase::Loading(t) if t == me => break false,
                    Phase::Loading(_) | Phase::Unloading(_) => {
                        state = module.changed.wait(state).unwrap_or_else(PoisonError::into_inner);
                    }
                    Phase::Unloaded => {
                        state.phase = Phase::Loading(me);
                        break true;
                    }
                    Phase::Loaded => break false,
                }
            };
            state.instances += 1;
            first
        };
        let session = first && self.session_instance && l2 != 0;
        let Some(h) = self.table.insert(module.clone(), if session { SESSION } else { 0 }) else {
            self.instance_gone(module, None, false);
            return Attempt::Done(Err(OpenError::TooManyInstances { limit: MAX_INSTANCES }));
        };
        if first {
            if module.call(0, h, DRV_LOAD, 0, 0) == 0 {
                // Spec §7.4: no other message; release and unmap.
                if let Some(closing) = self.table.begin_close(h) {
                    closing.finish();
                }
                let mut state = module.state();
                state.instances -= 1;
                self.forget_module(module);
                module.retire(state);
                return refused(|driver| OpenError::LoadRefused { driver });
            }
            module.call(0, h, DRV_ENABLE, 0, 0);
            module.state().phase = Phase::Loaded;
            module.changed.notify_all();
        }
        let (h, l2_for_caller) = if session {
            let id = module.call(0, h, DRV_OPEN, args_ptr, 0);
            if id == 0 || !self.mark_opened(h, id) {
                self.instance_gone(module, self.table.begin_close(h), false);
                return refused(|driver| OpenError::OpenRefused { driver });
            }
            let mut state = module.state();
            state.session = Some(h);
            state.instances += 1;
            drop(state);
            match self.table.insert(module.clone(), 0) {
                Some(caller_h) => (caller_h, l2),
                None => {
                    self.instance_gone(module, None, false);
                    return Attempt::Done(Err(OpenError::TooManyInstances { limit: MAX_INSTANCES }));
                }
            }
        } else {
            (h, l2)
        };
        let id = module.call(0, h, DRV_OPEN, args_ptr, l2_for_caller);
        if id == 0 || !self.mark_opened(h, id) {
            self.instance_gone(module, self.table.begin_close(h), false);
            return refused(|driver| OpenError::OpenRefused { driver });
        }
        module.state().caller_opened += 1;
        Attempt::Done(Ok(h))
    }

    pub(crate) fn mark_opened(&self, h: Hdrvr, id: LResult) -> bool {
        self.table.set_opened(h, id as usize, OPENED)
    }

    pub(crate) fn instance_gone(
        &self,
        module: &Arc<Module>,
        departing: Option<Closing<'_, Module>>,
        by_caller: bool,
    ) {
        let mut last_h = departing.as_ref().map_or(Hdrvr::NULL, |c| c.handle());
        let mut finished = Vec::with_capacity(2);
        finished.extend(departing);
        let mut state = module.state();
        state.instances -= 1;
        if by_caller {
            state.caller_opened -= 1;
        }
        if state.caller_opened == 0
            && state.instances == 1
            && let Some(session) = state.session.take()
        {
            drop(state);
            if let Some(closing) = self.table.begin_close(session) {
                module.call(closing.id(), session, DRV_CLOSE, 0, 0);
                last_h = session;
                finished.push(closing);
            }
            state = module.state();
            state.instances -= 1;
        }
        if state.instances == 0 && state.phase == Phase::Loaded {
            state.phase = Phase::Unloading(thread::current().id());
            drop(state);
            module.call(0, last_h, DRV_DISABLE, 0, 0);
            module.call(0, last_h, DRV_FREE, 0, 0);
            let state = module.state();
            self.forget_module(module);
            module.retire(state);
        }
        for closing in finished {
            closing.finish();
        }
    }
}
