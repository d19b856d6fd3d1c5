//! The lifecycle of instances and modules (spec §7): the message sequences of an
//! open and a close, the session instance, and a module's load and unload phases.
//!
//! Every multi-step change here is held by a guard whose `Drop` finishes or undoes
//! it, so an early return or an unwind (a panicking tracing subscriber, say) never
//! leaves a module stuck loading or unloading, or an instance half open or half
//! closed:
//! * [`Opening`] undoes an open that did not reach the caller: the slot is released,
//!   the module's count goes back, and a first open that did not finish loading puts
//!   the module back to unloaded (so the next open starts with `DRV_LOAD`, and threads
//!   waiting for the load wake up);
//! * [`Departing`] finishes a close once `DRV_CLOSE` was attempted;
//! * [`Retiring`] finishes an unload once `DRV_DISABLE` was attempted: `DRV_FREE` is
//!   sent even if `DRV_DISABLE`'s call unwound, then the module is unmapped.
//!
//! A guard that finishes a step while unwinding calls the driver untraced
//! (`Module::call`), since the unwind may have come from a trace subscriber.

use std::sync::{Arc, PoisonError};
use std::thread::{self, ThreadId};
use std::time::Duration;

use drvproc::consts::*;
use drvproc::wide::WideString;
use drvproc::{Hdrvr, LParam, LResult};

use crate::error::{BadHandle, CloseError, OpenError};
use crate::handle_table::{CloseFailure, Closing, Completion, Started};
use crate::manager::ManagerState;
use crate::module::{Module, Phase};

/// Instance flag: the hidden session instance (spec §7.3 b).
const SESSION: u8 = 1;
/// Instance flag: `DRV_OPEN` succeeded; only such instances can be closed by callers.
const OPENED: u8 = 2;

/// How long a parameterless close waits for other threads' messages to the instance
/// before it lets the last of them finish the close
/// ([`ManagerState::close_instance_or_defer`]).
pub(crate) const CLOSE_PATIENCE: Duration = Duration::from_millis(100);

/// Whether callers may close an instance with these flags: opened, and not the
/// session instance (the manager's own).
fn closable(flags: u8) -> bool {
    flags & OPENED != 0 && flags & SESSION == 0
}

/// An open attempt on one module either finishes or must start over on a new module.
pub(crate) enum Attempt {
    Done(Result<Hdrvr, OpenError>),
    Retry,
}

/// An open in progress (see the module docs). [`done`](Opening::done) hands the
/// instance to the caller; dropping it otherwise undoes the open.
struct Opening<'a> {
    manager: &'a ManagerState,
    module: &'a Arc<Module>,
    me: ThreadId,
    /// This open put the module into `Loading` and must take it out again.
    loading: bool,
    /// `DRV_LOAD` succeeded.
    loaded: bool,
    /// The caller's slot, once inserted.
    slot: Option<Hdrvr>,
}

impl Opening<'_> {
    fn done(mut self) {
        self.slot = None;
        self.loading = false;
        std::mem::forget(self);
    }
}

impl Drop for Opening<'_> {
    fn drop(&mut self) {
        if self.loading {
            let mut state = self.module.state();
            if state.phase == Phase::Loading(self.me) {
                state.phase = if self.loaded { Phase::Loaded } else { Phase::Unloaded };
            }
            drop(state);
            self.module.changed().notify_all();
        }
        let closing = self.slot.and_then(|h| self.manager.table.begin_close(h).ok());
        self.manager.instance_gone(self.module, closing, false);
    }
}

/// A close past `DRV_CLOSE`'s start: dropping it does the module's bookkeeping.
struct Departing<'a> {
    manager: &'a ManagerState,
    module: Arc<Module>,
    closing: Option<Closing<'a, Module>>,
}

impl Drop for Departing<'_> {
    fn drop(&mut self) {
        self.manager.instance_gone(&self.module, self.closing.take(), true);
    }
}

/// An unload past its start: dropping it sends `DRV_FREE` if that has not been sent
/// (an unwind out of `DRV_DISABLE`), unmaps the module and wakes waiters.
struct Retiring<'a> {
    manager: &'a ManagerState,
    module: &'a Arc<Module>,
    last_h: Hdrvr,
    freed: bool,
}

impl Drop for Retiring<'_> {
    fn drop(&mut self) {
        if !self.freed {
            self.module.call(0, self.last_h, DRV_FREE, 0, 0);
        }
        let state = self.module.state();
        self.manager.forget_module(self.module);
        self.module.retire(state);
    }
}

impl ManagerState {
    /// Closes every instance callers opened; returns how many.
    pub(crate) fn close_all(&self) -> usize {
        self.table.live_handles().into_iter().filter(|&h| self.close_instance(h, 0, 0).is_ok()).count()
    }

    /// `CloseDriver`: `DRV_CLOSE(l1, l2)` (answer ignored), then the module's
    /// bookkeeping. The session instance is the manager's own, and an instance still
    /// inside its `DRV_OPEN` belongs to the opening thread: neither can be closed here.
    pub(crate) fn close_instance(&self, h: Hdrvr, l1: LParam, l2: LParam) -> Result<(), CloseError> {
        let closing = self.table.begin_close_if(h, closable).map_err(|failure| match failure {
            CloseFailure::BadHandle => CloseError::BadHandle(BadHandle(h)),
            CloseFailure::WouldDeadlock => CloseError::WouldDeadlock(h),
        })?;
        self.finish_close(closing, l1, l2);
        Ok(())
    }

    /// `CloseDriver(h, 0, 0)`, which never waits without end: if other threads' messages
    /// to the instance are still running after [`CLOSE_PATIENCE`], or waiting for them
    /// would close a cycle of closes, the instance is closed to new messages now and
    /// `DRV_CLOSE` (and the module's unload, if it was the last instance) follows on
    /// the thread whose message returns last. Only a close without parameters can be
    /// deferred: `DRV_CLOSE`'s `lParam`s may point to the caller's memory.
    pub(crate) fn close_instance_or_defer(self: &Arc<Self>, h: Hdrvr) -> Result<(), CloseError> {
        let complete = || -> Completion<Module> {
            let manager = Arc::clone(self);
            Box::new(move |closing| manager.finish_close(closing, 0, 0))
        };
        match self.table.begin_close_or_defer(h, closable, CLOSE_PATIENCE, complete) {
            Ok(Started::Now(closing)) => self.finish_close(closing, 0, 0),
            Ok(Started::Deferred) => {
                tracing::debug!(hdrvr = %h, "close deferred until the messages in progress return")
            }
            Err(_) => return Err(BadHandle(h).into()),
        }
        Ok(())
    }

    /// `DRV_CLOSE(l1, l2)` (answer ignored) to an instance marked closing, then the
    /// module's bookkeeping, however the call ends.
    fn finish_close(&self, closing: Closing<'_, Module>, l1: LParam, l2: LParam) {
        let (id, h) = (closing.id(), closing.handle());
        let departing = Departing { manager: self, module: closing.module_arc(), closing: Some(closing) };
        departing.module.call(id, h, DRV_CLOSE, l1, l2);
        drop(departing);
    }

    /// Opens one instance of `module` with the sequences of spec §7.3 (a)–(c).
    pub(crate) fn open_instance(&self, module: &Arc<Module>, args: Option<&str>, l2: LParam) -> Attempt {
        let me = thread::current().id();
        // A hosted driver "refuses" a message it never got (its host died, the
        // parameters could not be carried) by answering 0: say why instead.
        // The module's own record, not the thread's: a failure of another driver's
        // message (one this driver sent from inside its open) is not this one's.
        module.take_refusal();
        let refused = |what: fn(String) -> OpenError| {
            let driver = module.name.clone();
            let failure = module.take_refusal();
            Attempt::Done(Err(match module.death().map(str::to_string).or(failure) {
                Some(reason) => OpenError::HostFailed { driver, reason },
                None => what(driver),
            }))
        };
        let too_many = || Attempt::Done(Err(OpenError::TooManyInstances { limit: self.table.capacity() }));
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
                        state = module.changed().wait(state).unwrap_or_else(PoisonError::into_inner);
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
        let mut opening = Opening { manager: self, module, me, loading: first, loaded: false, slot: None };
        let session = first && self.session_instance && l2 != 0;
        let Some(h) = self.table.insert(module.clone(), if session { SESSION } else { 0 }) else {
            return too_many();
        };
        opening.slot = Some(h);
        if first {
            if module.call(0, h, DRV_LOAD, 0, 0) == 0 {
                // Spec §7.4: no other message; release and unmap.
                opening.done();
                if let Ok(closing) = self.table.begin_close(h) {
                    closing.finish();
                }
                let mut state = module.state();
                state.instances -= 1;
                self.forget_module(module);
                module.retire(state);
                return refused(|driver| OpenError::LoadRefused { driver });
            }
            opening.loaded = true;
            module.call(0, h, DRV_ENABLE, 0, 0);
            module.state().phase = Phase::Loaded;
            opening.loading = false;
            module.changed().notify_all();
        }
        let (h, l2_for_caller) = if session {
            let id = module.call(0, h, DRV_OPEN, args_ptr, 0);
            if id == 0 || !self.mark_opened(h, id) {
                return refused(|driver| OpenError::OpenRefused { driver });
            }
            // The session instance now belongs to the module; the open goes on with
            // the caller's own.
            let mut state = module.state();
            state.session = Some(h);
            state.instances += 1;
            drop(state);
            opening.slot = None;
            let Some(caller_h) = self.table.insert(module.clone(), 0) else {
                return too_many();
            };
            opening.slot = Some(caller_h);
            (caller_h, l2)
        } else {
            (h, l2)
        };
        let id = module.call(0, h, DRV_OPEN, args_ptr, l2_for_caller);
        if id == 0 {
            return refused(|driver| OpenError::OpenRefused { driver });
        }
        // Counted before the instance becomes closable, so a close racing this open
        // never takes the count below zero.
        module.state().caller_opened += 1;
        if !self.mark_opened(h, id) {
            module.state().caller_opened -= 1;
            return refused(|driver| OpenError::OpenRefused { driver });
        }
        opening.done();
        Attempt::Done(Ok(h))
    }

    /// Records `DRV_OPEN`'s id; false if the instance vanished meanwhile.
    fn mark_opened(&self, h: Hdrvr, id: LResult) -> bool {
        self.table.set_opened(h, id as usize, OPENED)
    }

    /// An instance left its module (closed, or its open failed): close the session
    /// instance if only it remains (spec §7.3 f), and unload the module after its
    /// last instance (§7.3 e, §7.5, D3, D4). Handles are released after `DRV_FREE`,
    /// so none is reused while the module still hears about it.
    fn instance_gone(&self, module: &Arc<Module>, departing: Option<Closing<'_, Module>>, by_caller: bool) {
        let mut last_h = departing.as_ref().map_or(Hdrvr::NULL, |c| c.handle());
        // Finished (their slots released, in this order) when this function ends,
        // however it ends. An array: a close allocates nothing for it.
        let mut finished: [Option<Closing<'_, Module>>; 2] = [departing, None];
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
            if let Ok(closing) = self.table.begin_close(session) {
                let id = closing.id();
                finished[1] = Some(closing);
                module.call(id, session, DRV_CLOSE, 0, 0);
                last_h = session;
            }
            state = module.state();
            state.instances -= 1;
        }
        if state.instances == 0 && state.phase == Phase::Loaded {
            state.phase = Phase::Unloading(thread::current().id());
            drop(state);
            let mut retiring = Retiring { manager: self, module, last_h, freed: false };
            module.call(0, last_h, DRV_DISABLE, 0, 0);
            // At most one DRV_FREE: marked before the call, which may unwind after the
            // driver answered (a trace subscriber), and a second one would free twice.
            retiring.freed = true;
            module.call(0, last_h, DRV_FREE, 0, 0);
        }
    }
}
