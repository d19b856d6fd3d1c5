//! Hosting drivers in processes of their own, so that a crashing driver is an error and not a dead application.
pub(crate) mod supervisor;
