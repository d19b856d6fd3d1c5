//! Hosting a driver in a process of its own: what crosses between the application
//! and the host process, and how.
//!
//! * `protocol`: the fixed-width request and response frames, one layout for 32-
//!   and 64-bit processes;
//! * `channel`: a shared-memory channel carrying one call at a time, with futex
//!   wake-ups and a dead state a supervisor sets when the host process dies.

// Nothing in the manager calls into this yet: the process supervisor and the host
// binary are built on top of it.
#![allow(dead_code)]

pub(crate) mod channel;
pub(crate) mod protocol;
