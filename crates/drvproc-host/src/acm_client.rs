//! A typed client of ACM codecs, as msacm32 drives them: open a codec by name or
//! alias, ask for its details, tags and formats, get a suggestion, and convert
//! buffers through a stream. Every structure is built here and lives for the call,
//! so the callers need no `unsafe`.

use std::mem::size_of;
use std::ptr;

use drvproc::acm::consts::*;
use drvproc::acm::layout::*;
use drvproc::acm::{ConvertFlags, Format, FormatError, SizeQuery, Suggestion};
use drvproc::{LParam, LResult, Msg};

use crate::isolation::open_param::OpenParam;
use crate::{BadHandle, CloseError, DriverManager, Instance, OpenError};

/// Why an ACM call failed.
#[derive(Debug, thiserror::Error)]
pub enum AcmError {
    #[error(transparent)]
    Open(#[from] OpenError),
    #[error(transparent)]
    BadHandle(#[from] BadHandle),
    #[error(transparent)]
    Close(#[from] CloseError),
    /// The driver answered a message with an error code.
    #[error("{message} failed: {}", describe(*.code))]
    Driver { message: &'static str, code: LResult },
    /// The driver answered with a format that is not one.
    #[error("{message} returned a bad format: {error}")]
    Format { message: &'static str, error: FormatError },
}

fn describe(code: LResult) -> String {
    match code {
        ACMERR_NOTPOSSIBLE => "ACMERR_NOTPOSSIBLE (512)".into(),
        MMSYSERR_NOTSUPPORTED => "MMSYSERR_NOTSUPPORTED (8)".into(),
        MMSYSERR_INVALPARAM => "MMSYSERR_INVALPARAM (11)".into(),
        MMSYSERR_INVALHANDLE => "MMSYSERR_INVALHANDLE (5)".into(),
        other => format!("error {other}"),
    }
}

fn lp<T>(r: &mut T) -> LParam {
    ptr::from_mut(r) as LParam
}

/// The UTF-16 text of a fixed field, up to its NUL.
fn text(units: &[u16]) -> String {
    String::from_utf16_lossy(&units[..units.iter().position(|&u| u == 0).unwrap_or(units.len())])
}

/// What `ACMDM_DRIVER_DETAILS` said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodecInfo {
    pub fcc_type: u32,
    pub support: u32,
    pub format_tags: u32,
    pub short_name: String,
    pub long_name: String,
}

/// One tag, as `ACMDM_FORMATTAG_DETAILS` described it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TagInfo {
    pub tag: u16,
    pub format_size: u32,
    pub standard_formats: u32,
    pub name: String,
}

/// An open ACM codec (closed on drop).
pub struct AcmCodec {
    instance: Instance,
}

impl AcmCodec {
    /// Opens `name` (a file or an alias such as `msacm.imaadpcm`) as msacm32 does,
    /// with an `ACMDRVOPENDESCW` of type `'audc'`.
    pub fn open(manager: &DriverManager, name: &str) -> Result<AcmCodec, AcmError> {
        let mut desc = AcmDrvOpenDescW::msacm32(ACMDRIVERDETAILS_FCCTYPE_AUDIOCODEC);
        // SAFETY: DRV_OPEN's lParam2 for an ACM driver is an ACMDRVOPENDESCW, which
        // lives for the call.
        let instance = unsafe { manager.open_said(name, None, lp(&mut desc), OpenParam::AcmOpenDesc) }?;
        Ok(AcmCodec { instance })
    }

    /// Sends an ACMDM message whose lParams point to structures of this module.
    ///
    /// # Safety
    /// `l1` and `l2` are what `msg` expects, alive for the call.
    unsafe fn ask(&self, message: &'static str, msg: Msg, l1: LParam, l2: LParam) -> Result<(), AcmError> {
        // SAFETY: forwarded contract.
        match unsafe { self.instance.send(msg, l1, l2) }? {
            0 => Ok(()),
            code => Err(AcmError::Driver { message, code }),
        }
    }

    /// `ACMDM_DRIVER_DETAILS`.
    pub fn details(&self) -> Result<CodecInfo, AcmError> {
        // SAFETY: all-zero bytes are a valid AcmDriverDetailsW (integers and a null
        // pointer).
        let mut d: AcmDriverDetailsW = unsafe { std::mem::zeroed() };
        d.cb_struct = size_of::<AcmDriverDetailsW>() as u32;
        // SAFETY: the message's lParam1 is an ACMDRIVERDETAILSW, alive for the call.
        unsafe { self.ask("ACMDM_DRIVER_DETAILS", ACMDM_DRIVER_DETAILS, lp(&mut d), 0) }?;
        let (short, long) = (d.short_name, d.long_name);
        Ok(CodecInfo {
            fcc_type: d.fcc_type,
            support: d.fdw_support,
            format_tags: d.c_format_tags,
            short_name: text(&short),
            long_name: text(&long),
        })
    }

    /// Every format tag, by index.
    pub fn format_tags(&self) -> Result<Vec<TagInfo>, AcmError> {
        let count = self.details()?.format_tags;
        (0..count)
            .map(|index| {
                // SAFETY: as in `details`.
                let mut t: AcmFormatTagDetailsW = unsafe { std::mem::zeroed() };
                t.cb_struct = size_of::<AcmFormatTagDetailsW>() as u32;
                t.format_tag_index = index;
                let query = ACM_FORMATTAGDETAILSF_INDEX as LParam;
                // SAFETY: the message's lParam1 is an ACMFORMATTAGDETAILSW.
                unsafe { self.ask("ACMDM_FORMATTAG_DETAILS", ACMDM_FORMATTAG_DETAILS, lp(&mut t), query) }?;
                let name = t.format_tag_name;
                Ok(TagInfo {
                    tag: t.format_tag as u16,
                    format_size: t.cb_format_size,
                    standard_formats: t.c_standard_formats,
                    name: text(&name),
                })
            })
            .collect()
    }

    /// The standard formats of `tag` (`ACMDM_FORMAT_DETAILS` by index).
    pub fn formats(&self, tag: &TagInfo) -> Result<Vec<Format>, AcmError> {
        (0..tag.standard_formats)
            .map(|index| {
                let mut buf = vec![0u8; (tag.format_size as usize).max(18)];
                // SAFETY: as in `details`.
                let mut f: AcmFormatDetailsW = unsafe { std::mem::zeroed() };
                f.cb_struct = size_of::<AcmFormatDetailsW>() as u32;
                f.format_index = index;
                f.format_tag = u32::from(tag.tag);
                f.pwfx = buf.as_mut_ptr().cast();
                f.cbwfx = buf.len() as u32;
                let query = ACM_FORMATDETAILSF_INDEX as LParam;
                // SAFETY: lParam1 is an ACMFORMATDETAILSW whose pwfx holds cbwfx bytes.
                unsafe { self.ask("ACMDM_FORMAT_DETAILS", ACMDM_FORMAT_DETAILS, lp(&mut f), query) }?;
                Format::from_bytes(&buf)
                    .map_err(|error| AcmError::Format { message: "ACMDM_FORMAT_DETAILS", error })
            })
            .collect()
    }

    /// Whether the codec handles `format` (`ACMDM_FORMAT_DETAILS` with
    /// `ACM_FORMATDETAILSF_FORMAT`): `Ok(false)` for `ACMERR_NOTPOSSIBLE`.
    pub fn supports(&self, format: &Format) -> Result<bool, AcmError> {
        let mut buf = vec![0u8; format.size()];
        format.write_to(&mut buf).map_err(|error| AcmError::Format { message: "supports", error })?;
        // SAFETY: all-zero bytes are a valid AcmFormatDetailsW (integers, a null pointer).
        let mut f: AcmFormatDetailsW = unsafe { std::mem::zeroed() };
        f.cb_struct = size_of::<AcmFormatDetailsW>() as u32;
        f.format_tag = u32::from(format.tag);
        f.pwfx = buf.as_mut_ptr().cast();
        f.cbwfx = buf.len() as u32;
        let query = ACM_FORMATDETAILSF_FORMAT as LParam;
        // SAFETY: lParam1 is an ACMFORMATDETAILSW whose pwfx holds cbwfx bytes.
        match unsafe { self.ask("ACMDM_FORMAT_DETAILS", ACMDM_FORMAT_DETAILS, lp(&mut f), query) } {
            Ok(()) => Ok(true),
            Err(AcmError::Driver { code: ACMERR_NOTPOSSIBLE, .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// `ACMDM_FORMAT_SUGGEST`: a destination for `src` that keeps `wanted`'s fields.
    pub fn suggest(&self, src: &Format, wanted: &Suggestion) -> Result<Format, AcmError> {
        let mut src_bytes = vec![0u8; src.size()];
        src.write_to(&mut src_bytes).map_err(|error| AcmError::Format { message: "suggest", error })?;
        let mut dst = vec![0u8; 256];
        let mut flags = 0;
        if let Some(tag) = wanted.tag {
            flags |= ACM_FORMATSUGGESTF_WFORMATTAG;
            dst[0..2].copy_from_slice(&tag.to_le_bytes());
        }
        if let Some(channels) = wanted.channels {
            flags |= ACM_FORMATSUGGESTF_NCHANNELS;
            dst[2..4].copy_from_slice(&channels.to_le_bytes());
        }
        if let Some(rate) = wanted.samples_per_sec {
            flags |= ACM_FORMATSUGGESTF_NSAMPLESPERSEC;
            dst[4..8].copy_from_slice(&rate.to_le_bytes());
        }
        if let Some(bits) = wanted.bits_per_sample {
            flags |= ACM_FORMATSUGGESTF_WBITSPERSAMPLE;
            dst[14..16].copy_from_slice(&bits.to_le_bytes());
        }
        let mut s = AcmDrvFormatSuggest {
            cb_struct: size_of::<AcmDrvFormatSuggest>() as u32,
            fdw_suggest: flags,
            pwfx_src: src_bytes.as_mut_ptr().cast(),
            cbwfx_src: src_bytes.len() as u32,
            pwfx_dst: dst.as_mut_ptr().cast(),
            cbwfx_dst: dst.len() as u32,
        };
        // SAFETY: lParam1 is an ACMDRVFORMATSUGGEST whose buffers hold their sizes.
        unsafe { self.ask("ACMDM_FORMAT_SUGGEST", ACMDM_FORMAT_SUGGEST, lp(&mut s), 0) }?;
        Format::from_bytes(&dst).map_err(|error| AcmError::Format { message: "ACMDM_FORMAT_SUGGEST", error })
    }

    /// Opens a stream from `src` to `dst` (`ACMDM_STREAM_OPEN`); closed on drop.
    pub fn stream(&self, src: &Format, dst: &Format) -> Result<AcmStream<'_>, AcmError> {
        let bytes = |f: &Format| {
            let mut b = vec![0u8; f.size()];
            f.write_to(&mut b).map(|_| b).map_err(|error| AcmError::Format { message: "stream", error })
        };
        let mut stream = Box::new(StreamParts {
            src: bytes(src)?,
            dst: bytes(dst)?,
            instance: AcmDrvStreamInstance {
                cb_struct: size_of::<AcmDrvStreamInstance>() as u32,
                pwfx_src: ptr::null_mut(),
                pwfx_dst: ptr::null_mut(),
                pwflt: ptr::null_mut(),
                callback: 0,
                instance: 0,
                fdw_open: 0,
                fdw_driver: 0,
                dw_driver: 0,
                has: ptr::null_mut(),
            },
        });
        stream.instance.pwfx_src = stream.src.as_mut_ptr().cast();
        stream.instance.pwfx_dst = stream.dst.as_mut_ptr().cast();
        // SAFETY: lParam1 is an ACMDRVSTREAMINSTANCE with complete formats, boxed so
        // that it stays put for the stream's later messages.
        unsafe { self.ask("ACMDM_STREAM_OPEN", ACMDM_STREAM_OPEN, lp(&mut stream.instance), 0) }?;
        Ok(AcmStream { codec: self, parts: stream, closed: false })
    }

    /// Closes the codec instance.
    pub fn close(self) -> Result<(), AcmError> {
        Ok(self.instance.close()?)
    }
}

/// The stream instance and the format bytes it points to.
struct StreamParts {
    src: Vec<u8>,
    dst: Vec<u8>,
    instance: AcmDrvStreamInstance,
}

/// An open ACM stream (`ACMDM_STREAM_CLOSE` on drop).
pub struct AcmStream<'c> {
    codec: &'c AcmCodec,
    parts: Box<StreamParts>,
    closed: bool,
}

impl AcmStream<'_> {
    /// `ACMDM_STREAM_SIZE`.
    pub fn size(&mut self, query: SizeQuery) -> Result<u32, AcmError> {
        let (flags, src, dst) = match query {
            SizeQuery::Source(n) => (ACM_STREAMSIZEF_SOURCE, n, 0),
            SizeQuery::Destination(n) => (ACM_STREAMSIZEF_DESTINATION, 0, n),
        };
        let mut s =
            AcmDrvStreamSize { cb_struct: 16, fdw_size: flags, cb_src_length: src, cb_dst_length: dst };
        let l1 = lp(&mut self.parts.instance);
        // SAFETY: lParam1 is the stream instance, lParam2 an ACMDRVSTREAMSIZE.
        unsafe { self.codec.ask("ACMDM_STREAM_SIZE", ACMDM_STREAM_SIZE, l1, lp(&mut s)) }?;
        Ok(match query {
            SizeQuery::Source(_) => s.cb_dst_length,
            SizeQuery::Destination(_) => s.cb_src_length,
        })
    }

    /// `ACMDM_STREAM_CONVERT` of `src` into `dst`: the bytes used of each.
    pub fn convert(
        &mut self,
        src: &[u8],
        dst: &mut [u8],
        flags: ConvertFlags,
    ) -> Result<(usize, usize), AcmError> {
        // SAFETY: all-zero bytes are a valid header (integers and null pointers).
        let mut h: AcmDrvStreamHeader = unsafe { std::mem::zeroed() };
        h.cb_struct = size_of::<AcmDrvStreamHeader>() as u32;
        h.fdw_status = ACMSTREAMHEADER_STATUSF_PREPARED;
        h.pb_src = src.as_ptr().cast_mut();
        h.cb_src_length = u32::try_from(src.len()).unwrap_or(u32::MAX);
        h.pb_dst = dst.as_mut_ptr();
        h.cb_dst_length = u32::try_from(dst.len()).unwrap_or(u32::MAX);
        for (set, bit) in [
            (flags.block_align, ACM_STREAMCONVERTF_BLOCKALIGN),
            (flags.start, ACM_STREAMCONVERTF_START),
            (flags.end, ACM_STREAMCONVERTF_END),
        ] {
            if set {
                h.fdw_convert |= bit;
            }
        }
        let l1 = lp(&mut self.parts.instance);
        // SAFETY: lParam1 is the stream instance; lParam2 a header whose buffers are
        // `src` (read only by the driver's contract) and `dst`, alive for the call.
        unsafe { self.codec.ask("ACMDM_STREAM_CONVERT", ACMDM_STREAM_CONVERT, l1, lp(&mut h)) }?;
        let (used_src, used_dst) = (h.cb_src_length_used as usize, h.cb_dst_length_used as usize);
        Ok((used_src.min(src.len()), used_dst.min(dst.len())))
    }
}

impl Drop for AcmStream<'_> {
    fn drop(&mut self) {
        if !std::mem::replace(&mut self.closed, true) {
            let l1 = lp(&mut self.parts.instance);
            // SAFETY: lParam1 is the stream instance.
            let _ = unsafe { self.codec.ask("ACMDM_STREAM_CLOSE", ACMDM_STREAM_CLOSE, l1, 0) };
        }
    }
}
