//! What an ACM codec implements: typed answers to msacm32's questions and a stream
//! that converts bytes. [`super::AcmDriver`] turns messages into these calls.

use super::format::Format;

/// `ACMDRIVERDETAILSW`: what a codec says about itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Details {
    /// `fccComp` (0 for codecs).
    pub fcc_comp: u32,
    /// Manufacturer and product ids (`wMid`, `wPid`).
    pub mid: u16,
    pub pid: u16,
    /// `vdwACM`: the ACM version the codec was written for (`0x03320000` is 3.50).
    pub acm_version: u32,
    /// `vdwDriver`: the codec's own version.
    pub driver_version: u32,
    /// `fdwSupport` (`ACMDRIVERDETAILS_SUPPORTF_*`).
    pub support: u32,
    pub short_name: String,
    pub long_name: String,
    pub copyright: String,
    pub licensing: String,
    pub features: String,
}

impl Details {
    /// The details most codecs give: `support` (`ACMDRIVERDETAILS_SUPPORTF_CODEC`,
    /// `_CONVERTER`, ...), the two names, ACM 3.50, version 1.0, no manufacturer
    /// ids and empty texts. Set the other fields with struct update syntax.
    pub fn new(support: u32, short_name: &str, long_name: &str) -> Details {
        Details {
            fcc_comp: 0,
            mid: 0,
            pid: 0,
            acm_version: 0x0332_0000,
            driver_version: 0x0001_0000,
            support,
            short_name: short_name.into(),
            long_name: long_name.into(),
            copyright: String::new(),
            licensing: String::new(),
            features: String::new(),
        }
    }
}

/// One format tag a codec handles (`ACMFORMATTAGDETAILSW`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FormatTag {
    /// `WAVE_FORMAT_*`.
    pub tag: u16,
    /// The size of its largest format (`cbFormatSize`): 16 for PCM, 18 + extras.
    pub format_size: u32,
    /// `szFormatTag`, e.g. "IMA ADPCM".
    pub name: String,
}

/// What `acmFormatSuggest` asks for: the destination fields the caller fixed
/// (`ACM_FORMATSUGGESTF_*`); `None` leaves the field to the codec.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Suggestion {
    pub tag: Option<u16>,
    pub channels: Option<u16>,
    pub samples_per_sec: Option<u32>,
    pub bits_per_sample: Option<u16>,
}

impl Suggestion {
    /// Whether `format` keeps every field the caller fixed.
    pub fn allows(&self, format: &Format) -> bool {
        self.tag.is_none_or(|t| t == format.tag)
            && self.channels.is_none_or(|c| c == format.channels)
            && self.samples_per_sec.is_none_or(|r| r == format.samples_per_sec)
            && self.bits_per_sample.is_none_or(|b| b == format.bits_per_sample)
    }
}

/// `acmStreamSize`'s question.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SizeQuery {
    /// How many destination bytes `n` source bytes need (`ACM_STREAMSIZEF_SOURCE`).
    Source(u32),
    /// How many source bytes fill `n` destination bytes (`ACM_STREAMSIZEF_DESTINATION`).
    Destination(u32),
}

/// `ACM_STREAMCONVERTF_*` of one convert call.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConvertFlags {
    /// The first call of a conversion: reset the stream's state.
    pub start: bool,
    /// The last call: flush what can be flushed.
    pub end: bool,
    /// Whole blocks only.
    pub block_align: bool,
}

/// An ACM codec. One value lives from `DRV_LOAD` to `DRV_FREE`, shared by every
/// instance; its methods answer for formats, and [`open`](Codec::open) makes the
/// per-stream state.
pub trait Codec: Default + Send + Sync + 'static {
    /// A conversion in progress.
    type Stream: Stream;

    /// `ACMDM_DRIVER_DETAILS`.
    fn details(&self) -> Details;

    /// The format tags, in index order (`ACMDM_FORMATTAG_DETAILS`).
    fn format_tags(&self) -> Vec<FormatTag>;

    /// The standard formats of `tag`, in index order (`ACMDM_FORMAT_DETAILS` by
    /// index; their count is `cStandardFormats`).
    fn formats(&self, tag: u16) -> Vec<Format>;

    /// Whether `format` is one the codec handles (`ACMDM_FORMAT_DETAILS` with
    /// `ACM_FORMATDETAILSF_FORMAT`). By default: one of its standard formats.
    fn supports(&self, format: &Format) -> bool {
        self.formats(format.tag).contains(format)
    }

    /// `ACMDM_FORMAT_SUGGEST`: a destination format for `src` that `wanted` allows.
    fn suggest(&self, src: &Format, wanted: &Suggestion) -> Option<Format>;

    /// Whether the codec converts `src` into `dst` (`ACMDM_STREAM_OPEN`): a stream
    /// for it, or `None`. A query open (`ACM_STREAMOPENF_QUERY`) calls this too and
    /// drops the stream at once, so a stream should allocate lazily or little.
    fn open(&self, src: &Format, dst: &Format) -> Option<Self::Stream>;
}

/// One conversion (`ACMDM_STREAM_SIZE`, `ACMDM_STREAM_CONVERT`).
pub trait Stream: Send + 'static {
    /// `acmStreamSize`: the answer in bytes, or `None` when not even one block fits
    /// (`ACMERR_NOTPOSSIBLE`).
    fn size(&self, query: SizeQuery) -> Option<u32>;

    /// Converts from `src` into `dst`; returns the bytes used of each. What is left
    /// of `src` comes back in the next call.
    fn convert(&mut self, src: &[u8], dst: &mut [u8], flags: ConvertFlags) -> (usize, usize);
}
