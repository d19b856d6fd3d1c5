//! The ACM (audio compression manager) class: what msacm32 sends an audio codec.
//!
//! [`layout`] mirrors the structures with the layouts msacm32 passes them in.

pub mod consts;
pub mod format;
pub mod layout;
