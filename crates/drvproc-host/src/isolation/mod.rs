//! Hosting a driver in another process: what crosses the process boundary.

// Used by the channel and the host process, which build on it.
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) mod marshal;
