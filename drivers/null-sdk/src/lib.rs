//! `drvnullsdk`: the SDK counterpart of `drvnull` for benchmarks. Its instances answer
//! every custom message with 0, exactly like `drvnull`, so the difference between the
//! two in a measurement is the cost of the SDK's routing (`export_driver!`).
//!
//! It keeps no state; an instance is a zero-sized value, so opening one allocates
//! nothing beyond the SDK's own table entry.

use drvproc::consts::DRV_USER;
use drvproc::sdk::{Context, Driver, Instance, OpenParams};
use drvproc::{LParam, LResult, Msg};

/// The module: no state. Lifecycle messages get the SDK's defaults, which answer
/// like `DefDriverProc` (and like `drvnull`).
#[derive(Default)]
pub struct NullSdk;

/// One open instance; holds nothing.
pub struct NullSdkInstance;

impl Driver for NullSdk {
    type Instance = NullSdkInstance;

    /// Opens every instance, with whatever id the SDK gives it.
    fn open(&self, _params: &OpenParams) -> Option<NullSdkInstance> {
        Some(NullSdkInstance)
    }
}

impl Instance<NullSdk> for NullSdkInstance {
    /// `drvnull` answers `DRV_CLOSE` with 1.
    fn close(&self, _cx: &Context<'_, NullSdk>, _l1: LParam, _l2: LParam) -> LResult {
        1
    }

    /// Custom messages (`DRV_USER` and up) are answered with 0, as `drvnull` answers
    /// them; standard ones go to the module's defaults.
    fn message(&self, cx: &Context<'_, NullSdk>, msg: Msg, l1: LParam, l2: LParam) -> LResult {
        if msg >= DRV_USER { 0 } else { cx.forward(msg, l1, l2) }
    }
}

drvproc::export_driver!(NullSdk);
