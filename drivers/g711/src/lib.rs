//! `drvg711`: G.711 A-law and µ-law to and from 16-bit PCM.
//!
//! [`codec`] holds the sample conversions on their own, free of any driver
//! message handling, so they can be checked exhaustively (there are only 65536
//! PCM inputs and 256 codes) before anything is wired to ACM.

pub mod codec;
