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
//!
//! ## What is `unsafe`
//!
//! A function is `unsafe` when what it does depends on a promise the compiler cannot
//! check; everything else is safe, and a safe function never reads through an integer
//! its caller hands it.
//!
//! * **Raw `LPARAM`s that may be pointers are `unsafe`.** Their meaning is a contract
//!   between sender and driver (`DRV_OPEN`'s `lParam1` is a string, `DRV_CONFIGURE`'s
//!   `lParam2` a `DRVCONFIGINFO*`, a custom message's whatever it says). So calling a
//!   [`DriverProc`] or [`sdk::Runtime::driver_proc`], reading an `LPARAM` with
//!   [`sdk::lparam_ref`] and its siblings, [`config_info::read_config_info`],
//!   [`wide::WideString::from_ptr`] and [`sdk::Context::forward_raw`] are all `unsafe`:
//!   the caller promises the parameters follow the contract.
//! * **Loading or opening a library runs its code, so it is `unsafe` at the loader**
//!   (the rule `libloading` follows): its initialisers and its `DriverProc` can do
//!   anything. A manager marks the call that maps a driver file `unsafe`; that
//!   promise then covers the driver's answers to integer-only messages.
//! * **Typed wrappers that only pass integers, or pointers they own, are safe:**
//!   [`def_driver_proc`], [`sdk::lparam_from_ref`],
//!   [`config_info::ConfigInfoBuf::as_lparam`], and [`sdk::Context::forward`], which
//!   reads a `DRVCONFIGINFO` only when it is the one the manager sent with the very
//!   message being handled.
//!
//! The SDK's trait methods receive `LPARAM`s as plain integers. A driver that reads a
//! pointer out of one does so in an `unsafe` block whose justification is the
//! message's contract, which holds when the runtime is the caller.

pub mod acm;
pub mod config_info;
pub mod consts;
mod def_proc;
mod names;
pub mod sdk;
pub mod types;
pub mod vfw;
pub mod wide;

pub use def_proc::def_driver_proc;
pub use names::{DriverClass, MessageName, ParseMessageError, message_name, message_name_for, parse_message};
pub use types::{DriverId, DriverProc, DrvCallback, Hdrvr, LParam, LResult, Msg};
