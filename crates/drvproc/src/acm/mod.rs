//! The ACM (audio compression manager) class kit: write an audio codec that
//! msacm32 (Windows' or Wine's) and drvproc's own client drive, without `unsafe`.
//!
//! A codec implements [`Codec`] (formats, suggestions, opening a [`Stream`]) and
//! exports itself with `drvproc::export_driver!(AcmDriver<MyCodec>)`. [`AcmDriver`]
//! decodes every `ACMDM_*` message (the structures and their layouts are in
//! [`layout`], the constants in [`consts`]), checks every length the caller gave,
//! and writes the answers back; all of its `unsafe` is in one private module.
//!
//! # Writing an ACM codec
//!
//! The smallest complete codec: 8-bit unsigned PCM to and from 16-bit PCM, at one
//! rate, mono. In a `cdylib` crate, the last line exports `DriverProc`:
//!
//! ```
//! use drvproc::acm::consts::*;
//! use drvproc::acm::{Codec, ConvertFlags, Details, Format, FormatTag, SizeQuery, Stream, Suggestion};
//!
//! #[derive(Default)]
//! struct Widen;
//!
//! struct WidenStream {
//!     /// 8 -> 16 bits, or back.
//!     up: bool,
//! }
//!
//! impl Codec for Widen {
//!     type Stream = WidenStream;
//!
//!     fn details(&self) -> Details {
//!         Details::new(ACMDRIVERDETAILS_SUPPORTF_CONVERTER, "Widen", "8-bit to 16-bit PCM")
//!     }
//!
//!     fn format_tags(&self) -> Vec<FormatTag> {
//!         vec![FormatTag { tag: WAVE_FORMAT_PCM, format_size: 16, name: "PCM".into() }]
//!     }
//!
//!     fn formats(&self, _tag: u16) -> Vec<Format> {
//!         vec![Format::pcm(1, 8000, 8), Format::pcm(1, 8000, 16)]
//!     }
//!
//!     fn suggest(&self, src: &Format, wanted: &Suggestion) -> Option<Format> {
//!         let bits = if src.bits_per_sample == 8 { 16 } else { 8 };
//!         Some(Format::pcm(1, 8000, bits)).filter(|f| self.supports(src) && wanted.allows(f))
//!     }
//!
//!     fn open(&self, src: &Format, dst: &Format) -> Option<WidenStream> {
//!         let (s8, s16) = (Format::pcm(1, 8000, 8), Format::pcm(1, 8000, 16));
//!         match (src, dst) {
//!             _ if *src == s8 && *dst == s16 => Some(WidenStream { up: true }),
//!             _ if *src == s16 && *dst == s8 => Some(WidenStream { up: false }),
//!             _ => None,
//!         }
//!     }
//! }
//!
//! impl Stream for WidenStream {
//!     fn size(&self, query: SizeQuery) -> Option<u32> {
//!         let n = match (self.up, query) {
//!             (true, SizeQuery::Source(n)) | (false, SizeQuery::Destination(n)) => n * 2,
//!             (true, SizeQuery::Destination(n)) | (false, SizeQuery::Source(n)) => n / 2,
//!         };
//!         (n > 0).then_some(n)
//!     }
//!
//!     fn convert(&mut self, src: &[u8], dst: &mut [u8], _flags: ConvertFlags) -> (usize, usize) {
//!         if self.up {
//!             let n = src.len().min(dst.len() / 2);
//!             for (i, &b) in src[..n].iter().enumerate() {
//!                 dst[2 * i..2 * i + 2].copy_from_slice(&(((b as i16) - 128) << 8).to_le_bytes());
//!             }
//!             (n, 2 * n)
//!         } else {
//!             let n = (src.len() / 2).min(dst.len());
//!             for i in 0..n {
//!                 dst[i] = ((i16::from_le_bytes([src[2 * i], src[2 * i + 1]]) >> 8) + 128) as u8;
//!             }
//!             (2 * n, n)
//!         }
//!     }
//! }
//!
//! // In the codec's cdylib: drvproc::export_driver!(drvproc::acm::AcmDriver<Widen>);
//! drvproc::driver_proc!(fn widen_proc = drvproc::acm::AcmDriver<Widen>);
//! # let _ = widen_proc;
//! ```
//!
//! No `unsafe` anywhere: the kit reads and writes msacm32's structures. A codec
//! keeps whatever a conversion needs in its stream (`START` resets it), answers
//! `size` in whole blocks (`None` when not even one fits), and consumes whole
//! blocks in `convert`, leaving the rest for the next call.
//!
//! **Installing it.** On Windows, a value of the registry key
//! `HKLM\Software\Microsoft\Windows NT\CurrentVersion\Drivers32` names the DLL:
//! `msacm.widen` = `widen.dll` (`reg add "HKLM\Software\Microsoft\Windows
//! NT\CurrentVersion\Drivers32" /v msacm.widen /d widen.dll`), or a line
//! `msacm.widen=widen.dll` in the `[drivers32]` section of `system.ini`; msacm32
//! reads them when it loads. Under Wine the same `reg add` runs as `wine reg add
//! ...`; keep one `msacm.*` value in the key (Wine 8.0's msacm32 skips later,
//! longer ones) or use `system.ini`. With drvproc on Linux: `drvctl install
//! msacm.widen /path/to/libwiden.so`, then `drvctl convert` and every program using
//! drvproc find it.

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
