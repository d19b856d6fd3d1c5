//! Hosting a driver in a process of its own: what crosses between the application
//! and the host process, and how.
//!
//! * `marshal`: what the parameters of each message point to, carried as a payload
//!   of fixed-width data and offsets, and rebuilt into pointers on the host side;
//! * `protocol`: the fixed-width request and response frames, one layout for 32-
//!   and 64-bit processes;
//! * `channel` (Linux): a shared-memory channel carrying one call at a time, with
//!   futex wake-ups and a dead state a supervisor sets when the host process dies;
//! * `host` and `remote` (Linux): the two ends of a hosted module, the host
//!   process's loop and the application's calls;
//! * `supervisor` (Linux): starting host processes confined (process group, death
//!   signal, descriptors, optional sandbox) and watching them die, with no polling.

// Nothing in the manager calls into this yet: the process supervisor and the host
// binary are built on top of it.
#![allow(dead_code)]

#[cfg(target_os = "linux")]
pub(crate) mod channel;
pub(crate) mod failure;
#[cfg(target_os = "linux")]
pub(crate) mod host;
#[cfg(target_os = "linux")]
pub(crate) mod hosted;
pub(crate) mod marshal;
pub(crate) mod open_param;
pub(crate) mod protocol;
#[cfg(target_os = "linux")]
pub(crate) mod remote;
#[cfg(target_os = "linux")]
pub(crate) mod supervisor;
