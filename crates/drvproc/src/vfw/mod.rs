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
//!
//! The smallest complete codec stores 8-bit frames as they are, under its own
//! compression fourcc (every frame a keyframe):
//!
//! ```
//! use drvproc::vfw::consts::{BI_RGB, VIDCF_QUALITY};
//! use drvproc::vfw::{BitmapFormat, CompressFrame, Compressed, IcError, Info, VideoCodec, VfwDriver};
//!
//! const RAW8: u32 = u32::from_le_bytes(*b"RAW8");
//!
//! #[derive(Default)]
//! struct Raw8;
//!
//! fn check(f: &BitmapFormat, compression: u32) -> Result<(), IcError> {
//!     let ok = f.header.bit_count == 8 && f.header.compression == compression;
//!     if ok { Ok(()) } else { Err(IcError::BadFormat) }
//! }
//!
//! /// `f` with another compression; the image keeps its size.
//! fn recompressed(f: &BitmapFormat, compression: u32) -> Result<BitmapFormat, IcError> {
//!     let mut out = f.clone();
//!     out.header.compression = BI_RGB;
//!     let size = out.image_size().ok_or(IcError::BadFormat)?;
//!     out.header.compression = compression;
//!     out.header.size_image = size as u32;
//!     Ok(out)
//! }
//!
//! impl VideoCodec for Raw8 {
//!     fn info(&self) -> Info {
//!         Info { fcc_handler: RAW8, flags: VIDCF_QUALITY, version: 1, name: "Raw8".into(), description: "Raw 8-bit frames".into() }
//!     }
//!     fn compress_query(&self, input: &BitmapFormat, output: Option<&BitmapFormat>) -> Result<(), IcError> {
//!         check(input, BI_RGB)?;
//!         output.map_or(Ok(()), |o| check(o, RAW8))
//!     }
//!     fn compress_get_format(&self, input: &BitmapFormat) -> Result<BitmapFormat, IcError> {
//!         check(input, BI_RGB)?;
//!         recompressed(input, RAW8)
//!     }
//!     fn compress_get_size(&self, input: &BitmapFormat, _output: &BitmapFormat) -> Result<usize, IcError> {
//!         Ok(input.data_size())
//!     }
//!     fn compress(&self, frame: &CompressFrame<'_>) -> Result<Compressed, IcError> {
//!         Ok(Compressed { data: frame.pixels.to_vec(), keyframe: true })
//!     }
//!     fn decompress_query(&self, input: &BitmapFormat, output: Option<&BitmapFormat>) -> Result<(), IcError> {
//!         check(input, RAW8)?;
//!         output.map_or(Ok(()), |o| check(o, BI_RGB))
//!     }
//!     fn decompress_get_format(&self, input: &BitmapFormat) -> Result<BitmapFormat, IcError> {
//!         check(input, RAW8)?;
//!         recompressed(input, BI_RGB)
//!     }
//!     fn decompress(
//!         &self,
//!         _input: &BitmapFormat,
//!         data: &[u8],
//!         _not_keyframe: bool,
//!         _output: &BitmapFormat,
//!         frame: &mut [u8],
//!     ) -> Result<(), IcError> {
//!         let n = frame.len().min(data.len());
//!         frame[..n].copy_from_slice(&data[..n]);
//!         Ok(())
//!     }
//! }
//!
//! // In the codec's library (a cdylib): `DriverProc`, answering msvfw32.
//! drvproc::export_driver!(VfwDriver<Raw8>);
//!
//! # fn main() {
//! let input = BitmapFormat::paletted(4, 2, BI_RGB, &[0; 1024]);
//! let output = Raw8.compress_get_format(&input).unwrap();
//! assert_eq!((output.header.compression, output.header.size_image, output.size()), (RAW8, 8, 1064));
//! # }
//! ```
//!
//! No `unsafe` anywhere: the kit reads and writes msvfw32's structures and checks
//! every length before the codec sees a slice. A codec keeps whatever frames
//! need between calls (the previous frame of a delta coder) in itself; msvfw32
//! brackets a sequence with `ICM_*_BEGIN` and `ICM_*_END`.
//!
//! **Installing it.** On Windows, a value of the registry key
//! `HKLM\Software\Microsoft\Windows NT\CurrentVersion\Drivers32` named
//! `vidc.` and the codec's handler fourcc names the DLL: `vidc.raw8` = `raw8.dll`
//! (`reg add "HKLM\Software\Microsoft\Windows NT\CurrentVersion\Drivers32" /v
//! vidc.raw8 /d raw8.dll`), or a line `vidc.raw8=raw8.dll` in the `[drivers32]`
//! section of `system.ini`. msvfw32 finds it by that fourcc (`ICOpen(ICTYPE_VIDEO,
//! mmioFOURCC('R','A','W','8'), ...)`) and tries it in `ICLocate`. Under Wine the
//! same `reg add` runs as `wine reg add ...`. With drvproc on Linux: `drvctl
//! install vidc.raw8 /path/to/libraw8.so`, then `drvproc_host::VfwCodec` (or a C
//! client through `drvproc.h`) opens it by that alias.

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
