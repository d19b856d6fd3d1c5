//! The ACM (audio compression manager) class kit: write an audio codec that
//! msacm32 (Windows' or Wine's) and drvproc's own client drive, without `unsafe`.
//!
//! A codec implements [`Codec`] (formats, suggestions, opening a [`Stream`]) and
//! exports itself with `drvproc::export_driver!(AcmDriver<MyCodec>)`. [`AcmDriver`]
//! decodes every `ACMDM_*` message (the structures and their layouts are in
//! [`layout`], the constants in [`consts`]), checks every length the caller gave,
//! and writes the answers back; all of its `unsafe` is in one private module.

mod codec;
pub mod consts;
mod driver;
pub mod format;
pub mod layout;
mod wire;

pub use codec::{Codec, ConvertFlags, Details, FormatTag, SizeQuery, Stream, Suggestion};
pub use driver::{AcmDriver, AcmInstance, pcm_formats};
pub use format::{Format, FormatError};

#[cfg(test)]
mod tests;
