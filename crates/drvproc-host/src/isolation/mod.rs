//! Hosting a driver in another process: what crosses the process boundary.

pub(crate) mod marshal;
