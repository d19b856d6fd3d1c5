//! `drvhostile`: an SDK driver that loads and opens like any other, then panics in
//! every message an instance or the module receives.
//!
//! The SDK catches each panic and answers 0, and 0 is what `DefDriverProc` answers to
//! most of those messages, so by its answers alone the driver looks conforming. It
//! exists to show that a manager can still see the panics, through the SDK's
//! `drvproc_sdk_panics` export (see [`drvproc::sdk`]).

use drvproc::sdk::{Context, Driver, Instance, OpenParams};
use drvproc::{Hdrvr, LParam, LResult, Msg, message_name};

/// The module: its load, enable, disable and free are the SDK's defaults.
#[derive(Default)]
pub struct Hostile;

/// An open instance.
pub struct HostileInstance;

impl Driver for Hostile {
    type Instance = HostileInstance;

    fn open(&self, _params: &OpenParams) -> Option<HostileInstance> {
        Some(HostileInstance)
    }

    fn query_configure(&self, _hdrvr: Hdrvr) -> LResult {
        panic!("drvhostile: panicking in DRV_QUERYCONFIGURE")
    }

    fn message(&self, _hdrvr: Hdrvr, msg: Msg, _l1: LParam, _l2: LParam) -> LResult {
        panic!("drvhostile: panicking in {}", message_name(msg))
    }
}

impl Instance<Hostile> for HostileInstance {
    fn message(&self, _cx: &Context<'_, Hostile>, msg: Msg, _l1: LParam, _l2: LParam) -> LResult {
        panic!("drvhostile: panicking in {}", message_name(msg))
    }
}

drvproc::export_driver!(Hostile);
