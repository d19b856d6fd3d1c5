//! # drvproc
//!
//! The Windows installable-driver ABI in Rust, and an SDK to write drivers with it.
//!
//! An installable driver is a shared library exporting one entry point,
//! `DriverProc(dwDriverId, hdrvr, msg, lParam1, lParam2)`, that answers messages
//! (`DRV_LOAD`, `DRV_OPEN`, ..., custom ones from `DRV_USER`). This crate holds:
//!
//! * the ABI: [`types`] with the Windows widths, every constant in [`consts`],
//!   [`DrvConfigInfo`](config_info::DrvConfigInfo) with its packed layout, and
//!   UTF-16 strings in [`wide`];
//! * [`def_driver_proc`], the default answers;
//! * [`message_name`] / [`parse_message`], the names used by traces and tools;
//! * [`sdk`], a trait-based SDK and the [`export_driver!`] macro to write drivers
//!   without `unsafe`.
//!
//! It does not load or manage drivers: that is `drvproc-host`'s job, and this crate
//! never depends on it.

pub mod config_info;
pub mod consts;
mod def_proc;
mod names;
pub mod sdk;
pub mod types;
pub mod wide;

pub use def_proc::def_driver_proc;
pub use names::{DriverClass, MessageName, ParseMessageError, message_name, message_name_for, parse_message};
pub use types::{DriverId, DriverProc, DrvCallback, Hdrvr, LParam, LResult, Msg};
