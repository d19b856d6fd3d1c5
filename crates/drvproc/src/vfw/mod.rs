//! The VfW (video for Windows) codec class: what msvfw32 sends a video codec.
//!
//! [`layout`] mirrors the structures with the layouts msvfw32 passes them in.

pub mod consts;
pub mod layout;
