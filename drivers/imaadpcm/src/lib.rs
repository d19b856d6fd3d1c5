//! `drvimaadpcm`: IMA ADPCM (`WAVE_FORMAT_IMA_ADPCM`, tag 0x11) to and from
//! 16-bit PCM, mono and stereo.
//!
//! [`codec`] holds the algorithm alone, in safe Rust and free of any driver
//! structure, so that it can be tested sample by sample and reused by the ACM
//! driver that exposes it: decoding is bit-exact with every IMA decoder (the
//! format leaves it no freedom), and the encoder searches for the nibble with
//! the smallest error instead of truncating as the reference quantiser does.

pub mod codec;
