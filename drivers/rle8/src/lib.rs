//! `drvrle8`: the BI_RLE8 video codec, the run-length compression of 8-bit paletted
//! Windows bitmaps that Video for Windows players expect from an `MRLE` codec.
//!
//! As a driver library it exports `DriverProc` ([`vfw`], through drvproc's VfW kit),
//! so it drops in where msrle32.dll sits: `vidc.mrle=drvrle8.dll` in the `Drivers32`
//! registry key or system.ini.
//!
//! [`codec`] holds the algorithm itself, independent of any driver message: a decoder
//! that never writes outside the frame nor reads outside the stream, and a compressor
//! whose keyframes and delta frames always decode back to exactly the input frame.
//!
//! ```
//! use drvrle8::codec::{decode, encode_delta, encode_keyframe, frame_size};
//!
//! // Two rows of 5 pixels; rows are 8 bytes apart (stride rounded up to 4).
//! let (width, height) = (5, 2);
//! let first = [1, 1, 1, 2, 3, 0, 0, 0, 4, 4, 4, 4, 4, 0, 0, 0];
//! let mut second = first;
//! second[9] = 7;
//!
//! let mut key = Vec::new();
//! encode_keyframe(&first, width, height, &mut key)?;
//! let mut delta = Vec::new();
//! encode_delta(&first, &second, width, height, &mut delta)?;
//!
//! let mut shown = vec![0; frame_size(width, height)?];
//! decode(&key, width, height, &mut shown)?;
//! assert_eq!(shown, first);
//! decode(&delta, width, height, &mut shown)?;
//! assert_eq!(shown, second);
//! # Ok::<(), drvrle8::codec::CodecError>(())
//! ```

// Written with the class kit: a codec needs no unsafe code, and this one has none.
#![forbid(unsafe_code)]

pub mod codec;
pub mod vfw;

drvproc::export_driver!(drvproc::vfw::VfwDriver<vfw::Rle8>);
