//! `drvg711`: a G.711 A-law and µ-law ACM codec written with drvproc's class kit.
//!
//! [`codec`] holds the sample conversions on their own, checked exhaustively (there
//! are only 65536 PCM inputs and 256 codes); [`acm`] answers msacm32 with them. As
//! a driver library it exports `DriverProc`, so it drops in where msg711.acm sits:
//! `msacm.drvg711=drvg711.dll` in the `Drivers32` registry key or system.ini.

// Written with the class kit: a codec needs no unsafe code, and this one has none.
#![forbid(unsafe_code)]

pub mod acm;
pub mod codec;

drvproc::export_driver!(drvproc::acm::AcmDriver<acm::G711>);
