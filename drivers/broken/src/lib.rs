//! `drvbroken`: a driver that breaks two rules every manager relies on, so that
//! `drvctl check` can be seen to catch them:
//!
//! - **defaults**: it answers 1 to every message it does not know, instead of leaving
//!   them to `DefDriverProc` (which answers 0);
//! - **reload**: it refuses `DRV_LOAD` once it has been freed, so it cannot be loaded
//!   a second time while its image stays mapped (it is linked `-z nodelete`, as a
//!   library that something else also holds would be): a driver must reinitialise on
//!   every `DRV_LOAD` instead of relying on fresh statics.
//!
//! Everything else it does correctly.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use drvproc::consts::*;
use drvproc::{DriverId, Hdrvr, LParam, LResult, Msg};

static FREED: AtomicBool = AtomicBool::new(false);
static NEXT_ID: AtomicUsize = AtomicUsize::new(1);

/// The exported entry point. It never dereferences its parameters.
#[unsafe(no_mangle)]
pub extern "system" fn DriverProc(_id: DriverId, _h: Hdrvr, msg: Msg, _l1: LParam, _l2: LParam) -> LResult {
    match msg {
        DRV_LOAD => LResult::from(!FREED.load(Ordering::SeqCst)),
        DRV_FREE => {
            FREED.store(true, Ordering::SeqCst);
            1
        }
        DRV_OPEN => NEXT_ID.fetch_add(1, Ordering::SeqCst) as LResult,
        DRV_ENABLE | DRV_DISABLE | DRV_CLOSE => 1,
        DRV_QUERYCONFIGURE => 0,
        DRV_CONFIGURE | DRV_INSTALL | DRV_REMOVE => DRVCNF_OK,
        // The defect: unknown messages are "handled".
        _ => 1,
    }
}
