//! [`AcmDriver`]: a [`Codec`] as an installable driver, answering msacm32's messages.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::codec::{Codec, ConvertFlags, SizeQuery, Stream, Suggestion};
use super::consts::*;
use super::format::Format;
use super::wire;
use crate::sdk::{Context, Driver, Instance, OpenParams};
use crate::types::{LParam, LResult, Msg};

/// `MMSYSERR_*`/`ACMERR_*` as an `LRESULT`.
fn answer(code: isize) -> LResult {
    code
}

/// An ACM codec as a driver: `drvproc::export_driver!(AcmDriver<MyCodec>);`.
///
/// It accepts the session open (`lParam2` NULL) and opens with an
/// `ACMDRVOPENDESCW` of type `'audc'`; any other type is refused with
/// `dwError = MMSYSERR_NOTSUPPORTED`. Each instance answers the `ACMDM_*` messages
/// from the codec: the details and format messages from [`Codec`]'s methods, the
/// stream messages from [`Stream`](super::Stream)s it keeps by a key it writes into
/// the stream instance's `dwDriver` (a key, never a pointer: a forged value is
/// refused). A query open makes no stream. `ACMDM_STREAM_PREPARE`/`UNPREPARE` are
/// left to msacm32 (`MMSYSERR_NOTSUPPORTED`, which it takes as success), and
/// asynchronous streams are not supported.
#[derive(Default)]
pub struct AcmDriver<C: Codec> {
    codec: C,
}

impl<C: Codec> AcmDriver<C> {
    /// The codec.
    pub fn codec(&self) -> &C {
        &self.codec
    }
}

/// One open of an [`AcmDriver`]: its streams.
pub struct AcmInstance<C: Codec> {
    streams: Mutex<HashMap<usize, C::Stream>>,
    next_key: AtomicUsize,
}

impl<C: Codec> AcmInstance<C> {
    fn streams(&self) -> MutexGuard<'_, HashMap<usize, C::Stream>> {
        self.streams.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<C: Codec> Driver for AcmDriver<C> {
    type Instance = AcmInstance<C>;

    fn open(&self, params: &OpenParams) -> Option<AcmInstance<C>> {
        // SAFETY: DRV_OPEN's lParam2 for an ACM driver is NULL or an ACMDRVOPENDESCW
        // (the contract of the DriverProc this runs behind).
        // SAFETY: the lParams of the ACMDM message being handled (see `message`).
        if let Some(desc) = unsafe { wire::open_desc(params.lparam2) }
            && desc.fcc_type != ACMDRIVERDETAILS_FCCTYPE_AUDIOCODEC
        {
            // SAFETY: as above.
            unsafe { wire::set_open_error(params.lparam2, MMSYSERR_NOTSUPPORTED as u32) };
            return None;
        }
        Some(AcmInstance { streams: Mutex::new(HashMap::new()), next_key: AtomicUsize::new(1) })
    }
}

impl<C: Codec> Instance<AcmDriver<C>> for AcmInstance<C> {
    /// Accepts the close (its streams go with it), as Wine's and Windows' codecs do:
    /// `DefDriverProc` would answer 0.
    fn close(&self, _cx: &Context<'_, AcmDriver<C>>, _l1: LParam, _l2: LParam) -> LResult {
        1
    }

    fn message(&self, cx: &Context<'_, AcmDriver<C>>, msg: Msg, l1: LParam, l2: LParam) -> LResult {
        let codec = &cx.module().codec;
        // Every `wire` call passes lParam1/lParam2 as the ACMDM message being
        // handled carries them, per its documented contract, which the manager that
        // delivered it keeps: that is each SAFETY comment below.
        match msg {
            ACMDM_DRIVER_DETAILS => {
                let tags = codec.format_tags().len() as u32;
                // SAFETY: the lParams of the ACMDM message being handled (see `message`).
                if unsafe { wire::write_driver_details(l1, &codec.details(), tags) } {
                    answer(MMSYSERR_NOERROR)
                } else {
                    answer(MMSYSERR_INVALPARAM)
                }
            }
            ACMDM_FORMATTAG_DETAILS => self.formattag_details(codec, l1, l2 as u32),
            ACMDM_FORMAT_DETAILS => self.format_details(codec, l1, l2 as u32),
            ACMDM_FORMAT_SUGGEST => Self::suggest(codec, l1),
            ACMDM_STREAM_OPEN => self.stream_open(codec, l1),
            ACMDM_STREAM_CLOSE => {
                // SAFETY: the lParams of the ACMDM message being handled (see `message`).
                let Some(si) = (unsafe { wire::stream_instance(l1, false) }) else {
                    return answer(MMSYSERR_INVALPARAM);
                };
                match self.streams().remove(&si.dw_driver) {
                    Some(_) => answer(MMSYSERR_NOERROR),
                    None => answer(MMSYSERR_INVALHANDLE),
                }
            }
            ACMDM_STREAM_SIZE => {
                let (Some(si), Some((flags, src, dst))) =
                    // SAFETY: the lParams of the ACMDM message being handled (see `message`).
                    (unsafe { wire::stream_instance(l1, false) }, unsafe { wire::stream_size_request(l2) })
                else {
                    return answer(MMSYSERR_INVALPARAM);
                };
                let streams = self.streams();
                let Some(stream) = streams.get(&si.dw_driver) else { return answer(MMSYSERR_INVALHANDLE) };
                let query = match flags & 0xF {
                    ACM_STREAMSIZEF_SOURCE => SizeQuery::Source(src),
                    ACM_STREAMSIZEF_DESTINATION => SizeQuery::Destination(dst),
                    _ => return answer(MMSYSERR_INVALFLAG),
                };
                match (stream.size(query), query) {
                    // SAFETY: the lParams of the ACMDM message being handled (see `message`).
                    (Some(n), SizeQuery::Source(src)) => unsafe { wire::write_stream_size(l2, src, n) },
                    // SAFETY: the lParams of the ACMDM message being handled (see `message`).
                    (Some(n), SizeQuery::Destination(dst)) => unsafe { wire::write_stream_size(l2, n, dst) },
                    (None, _) => return answer(ACMERR_NOTPOSSIBLE),
                }
                answer(MMSYSERR_NOERROR)
            }
            ACMDM_STREAM_CONVERT => {
                // SAFETY: the lParams of the ACMDM message being handled (see `message`).
                let Some(si) = (unsafe { wire::stream_instance(l1, false) }) else {
                    return answer(MMSYSERR_INVALPARAM);
                };
                let mut streams = self.streams();
                let Some(stream) = streams.get_mut(&si.dw_driver) else {
                    return answer(MMSYSERR_INVALHANDLE);
                };
                // SAFETY: the lParams of the ACMDM message being handled (see `message`).
                let converted = unsafe {
                    wire::convert_buffers(l2, |src, dst, fdw| {
                        let flags = ConvertFlags {
                            start: fdw & ACM_STREAMCONVERTF_START != 0,
                            end: fdw & ACM_STREAMCONVERTF_END != 0,
                            block_align: fdw & ACM_STREAMCONVERTF_BLOCKALIGN != 0,
                        };
                        stream.convert(src, dst, flags)
                    })
                };
                answer(if converted.is_some() { MMSYSERR_NOERROR } else { MMSYSERR_INVALPARAM })
            }
            ACMDM_STREAM_RESET => answer(MMSYSERR_NOERROR),
            ACMDM_STREAM_PREPARE | ACMDM_STREAM_UNPREPARE => answer(MMSYSERR_NOTSUPPORTED),
            ACMDM_DRIVER_NOTIFY
            | ACMDM_FILTERTAG_DETAILS
            | ACMDM_FILTER_DETAILS
            | ACMDM_HARDWARE_WAVE_CAPS_INPUT
            | ACMDM_HARDWARE_WAVE_CAPS_OUTPUT
            | ACMDM_STREAM_UPDATE => answer(MMSYSERR_NOTSUPPORTED),
            _ => cx.forward(msg, l1, l2),
        }
    }
}

impl<C: Codec> AcmInstance<C> {
    fn formattag_details(&self, codec: &C, l1: LParam, query: u32) -> LResult {
        // SAFETY: ACMDM_FORMATTAG_DETAILS' lParam1 (see `message`).
        let Some((index, tag)) = (unsafe { wire::formattag_request(l1) }) else {
            return answer(MMSYSERR_INVALPARAM);
        };
        let tags = codec.format_tags();
        let found = match query & 0xF {
            ACM_FORMATTAGDETAILSF_INDEX => tags.get(index as usize).map(|t| (index, t)),
            ACM_FORMATTAGDETAILSF_FORMATTAG => {
                tags.iter().enumerate().find(|(_, t)| u32::from(t.tag) == tag).map(|(i, t)| (i as u32, t))
            }
            ACM_FORMATTAGDETAILSF_LARGESTSIZE => tags
                .iter()
                .enumerate()
                .filter(|(_, t)| tag == 0 || u32::from(t.tag) == tag)
                .max_by_key(|(_, t)| t.format_size)
                .map(|(i, t)| (i as u32, t)),
            _ => return answer(MMSYSERR_INVALFLAG),
        };
        let Some((index, tag)) = found else { return answer(ACMERR_NOTPOSSIBLE) };
        let count = codec.formats(tag.tag).len() as u32;
        let support = codec.details().support;
        // SAFETY: as above.
        unsafe { wire::write_formattag(l1, index, tag, support, count) };
        answer(MMSYSERR_NOERROR)
    }

    fn format_details(&self, codec: &C, l1: LParam, query: u32) -> LResult {
        let by_format = query & 0xF == ACM_FORMATDETAILSF_FORMAT;
        // SAFETY: ACMDM_FORMAT_DETAILS' lParam1 (see `message`).
        let Some(request) = (unsafe { wire::format_request(l1, by_format) }) else {
            return answer(MMSYSERR_INVALPARAM);
        };
        match query & 0xF {
            ACM_FORMATDETAILSF_INDEX => {
                let Ok(tag) = u16::try_from(request.tag) else { return answer(ACMERR_NOTPOSSIBLE) };
                let Some(format) = codec.formats(tag).into_iter().nth(request.index as usize) else {
                    return answer(ACMERR_NOTPOSSIBLE);
                };
                let support = codec.details().support;
                // SAFETY: as above.
                match unsafe { wire::write_format_details(l1, &format, support) } {
                    Ok(()) => answer(MMSYSERR_NOERROR),
                    Err(_) => answer(MMSYSERR_INVALPARAM),
                }
            }
            ACM_FORMATDETAILSF_FORMAT => match request.format {
                Ok(format) if codec.supports(&format) => answer(MMSYSERR_NOERROR),
                _ => answer(ACMERR_NOTPOSSIBLE),
            },
            _ => answer(MMSYSERR_INVALFLAG),
        }
    }

    fn suggest(codec: &C, l1: LParam) -> LResult {
        // SAFETY: ACMDM_FORMAT_SUGGEST's lParam1 (see `message`).
        let Some(request) = (unsafe { wire::suggest_request(l1) }) else {
            return answer(MMSYSERR_INVALPARAM);
        };
        let Ok(src) = request.src else { return answer(ACMERR_NOTPOSSIBLE) };
        let (tag, channels, rate, bits) = request.dst_fields.unwrap_or_default();
        let flags = request.flags;
        let wanted = Suggestion {
            tag: (flags & ACM_FORMATSUGGESTF_WFORMATTAG != 0).then_some(tag),
            channels: (flags & ACM_FORMATSUGGESTF_NCHANNELS != 0).then_some(channels),
            samples_per_sec: (flags & ACM_FORMATSUGGESTF_NSAMPLESPERSEC != 0).then_some(rate),
            bits_per_sample: (flags & ACM_FORMATSUGGESTF_WBITSPERSAMPLE != 0).then_some(bits),
        };
        match codec.suggest(&src, &wanted).filter(|f| wanted.allows(f)) {
            // SAFETY: as above.
            Some(dst) => match unsafe { wire::write_suggestion(l1, &dst) } {
                Ok(()) => answer(MMSYSERR_NOERROR),
                Err(_) => answer(ACMERR_NOTPOSSIBLE),
            },
            None => answer(ACMERR_NOTPOSSIBLE),
        }
    }

    fn stream_open(&self, codec: &C, l1: LParam) -> LResult {
        // SAFETY: ACMDM_STREAM_OPEN's lParam1 (see `message`).
        let Some(si) = (unsafe { wire::stream_instance(l1, true) }) else {
            return answer(MMSYSERR_INVALPARAM);
        };
        if si.fdw_open & ACM_STREAMOPENF_ASYNC != 0 {
            return answer(MMSYSERR_NOTSUPPORTED);
        }
        let (Ok(src), Ok(dst)) = (&si.src, &si.dst) else { return answer(ACMERR_NOTPOSSIBLE) };
        let Some(stream) = codec.open(src, dst) else { return answer(ACMERR_NOTPOSSIBLE) };
        if si.fdw_open & ACM_STREAMOPENF_QUERY != 0 {
            // A query keeps nothing: msacm32 never closes a queried stream.
            return answer(MMSYSERR_NOERROR);
        }
        let key = self.next_key.fetch_add(1, Ordering::Relaxed);
        self.streams().insert(key, stream);
        // SAFETY: as above.
        unsafe { wire::set_stream_key(l1, key) };
        answer(MMSYSERR_NOERROR)
    }
}

/// Convenience for codecs: the PCM formats of every rate in `rates`, for 1 and 2
/// channels and the given sample sizes, in that order.
pub fn pcm_formats(rates: &[u32], bits: &[u16]) -> Vec<Format> {
    let mut out = Vec::new();
    for &rate in rates {
        for channels in [1, 2] {
            for &b in bits {
                out.push(Format::pcm(channels, rate, b));
            }
        }
    }
    out
}
