//! The VfW (video for Windows) codec class kit: write a video codec that msvfw32
//! (Windows' or Wine's) drives, without `unsafe`.
//!
//! A codec implements [`VideoCodec`] (info, compress and decompress queries,
//! formats and frames) and exports itself with
//! `drvproc::export_driver!(VfwDriver<MyCodec>)`. [`VfwDriver`] decodes every `ICM_*`
//! message (the structures are in [`layout`], the constants in [`consts`]), parses
//! every `BITMAPINFO` into a [`BitmapFormat`] with its lengths checked, sizes every
//! buffer by the rules its documentation gives, and writes the answers back; all of
//! its `unsafe` is in one private module.

mod codec;
pub mod consts;
mod driver;
pub mod format;
pub mod layout;
mod wire;

pub use codec::{CompressFrame, Compressed, IcError, Info, VideoCodec};
pub use driver::{VfwDriver, VfwInstance};
pub use format::{BitmapFormat, BitmapFormatError};

#[cfg(test)]
mod tests;
