//! `drvnull`: the smallest conforming driver. It keeps no state and allocates
//! nothing, so measurements of the manager around it are the manager's cost.

use drvproc::consts::*;
use drvproc::{DriverId, Hdrvr, LParam, LResult, Msg};

/// Accepts the lifecycle, opens every instance with id 1, leaves the rest to
/// `DefDriverProc`'s answers. It never dereferences its parameters.
#[unsafe(no_mangle)]
pub extern "system" fn DriverProc(_id: DriverId, _h: Hdrvr, msg: Msg, _l1: LParam, _l2: LParam) -> LResult {
    match msg {
        DRV_LOAD | DRV_ENABLE | DRV_DISABLE | DRV_FREE | DRV_OPEN | DRV_CLOSE | DRV_INSTALL | DRV_REMOVE => 1,
        _ => 0,
    }
}
