//! `drvimaadpcm`: an IMA ADPCM (`WAVE_FORMAT_IMA_ADPCM`, tag 0x11) ACM codec
//! written with drvproc's class kit: 8- and 16-bit PCM to and from IMA ADPCM, mono and
//! stereo.
//!
//! [`codec`] holds the algorithm alone, in safe Rust and free of any driver
//! structure, so that it can be tested sample by sample: decoding is bit-exact
//! with every IMA decoder (the format leaves it no freedom), and the encoder
//! searches for the nibble with the smallest error instead of truncating as the
//! reference quantiser does. [`acm`] answers msacm32 with it. As a driver library
//! it exports `DriverProc`, so it drops in where imaadp32.acm sits:
//! `msacm.drvimaadpcm=drvimaadpcm.dll` in the `Drivers32` registry key or system.ini.

// Written with the class kit: a codec needs no unsafe code, and this one has none.
#![forbid(unsafe_code)]

pub mod acm;
pub mod codec;

drvproc::export_driver!(drvproc::acm::AcmDriver<acm::ImaAdpcm>);
