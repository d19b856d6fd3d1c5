//! Every message kind, sent to the same fake driver twice: directly on one copy of
//! the caller's structures, and through marshal → host copy → rebuild → driver →
//! finish → copy back on another. Both copies must end up the same, and different
//! from how they started.

use std::mem::{offset_of, size_of};
use std::ptr;

use drvproc::acm::consts::*;
use drvproc::acm::layout::*;
use drvproc::config_info::{ConfigInfoBuf, read_config_info};
use drvproc::consts::{DRV_USER, ICM_USER};
use drvproc::types::LResult;
use drvproc::vfw::consts::{AVIIF_KEYFRAME, BI_RGB, BI_RLE8, ICCOMPRESS_KEYFRAME, ICDECOMPRESS_NOTKEYFRAME};
use drvproc::vfw::layout::IcInfo;
use drvproc::wide::WideString;

use super::*;

// ---------------------------------------------------------------------------------
// Harness.
// ---------------------------------------------------------------------------------

/// A payload buffer starting on a `PAYLOAD_ALIGN` boundary, filled with a marker.
struct Buffer {
    raw: Vec<u8>,
    start: usize,
    len: usize,
}

impl Buffer {
    fn new(len: usize) -> Buffer {
        let raw = vec![0xEE; len + PAYLOAD_ALIGN];
        let start = raw.as_ptr().align_offset(PAYLOAD_ALIGN);
        Buffer { raw, start, len }
    }

    fn bytes(&mut self) -> &mut [u8] {
        &mut self.raw[self.start..self.start + self.len]
    }
}

const PAYLOAD: usize = 256 * 1024;

/// The transport, simulated: the host gets a copy of the used payload, rebuilds,
/// calls `fake`, finishes, and its bytes come back into the application's payload.
fn host_side(m: &Marshalled, app: &mut Buffer) -> Result<LResult, MarshalError> {
    let mut host = Buffer::new(app.len);
    host.bytes()[..m.used].copy_from_slice(&app.bytes()[..m.used]);
    let call = rebuild(m.l1, m.l2, host.bytes())?;
    // SAFETY: `rebuild` made the parameters point into `host`, which lives on, and
    // the fake driver reads them by the messages' contracts.
    let ret = unsafe { fake(m.msg, call.l1, call.l2) };
    finish(host.bytes())?;
    app.bytes()[..m.used].copy_from_slice(&host.bytes()[..m.used]);
    Ok(ret)
}

/// Sends a known message through the isolation path.
///
/// # Safety
/// As for [`marshal`].
unsafe fn isolated(ctx: &Context, msg: Msg, l1: LParam, l2: LParam) -> Result<LResult, MarshalError> {
    let mut app = Buffer::new(PAYLOAD);
    // SAFETY: forwarded contract.
    let m = unsafe { marshal(ctx, msg, l1, l2, app.bytes()) }?;
    let ret = host_side(&m, &mut app)?;
    // SAFETY: forwarded contract.
    unsafe { copy_back(&m, app.bytes()) }?;
    Ok(ret)
}

/// The caller's side of one message: structures that stay put while it is sent.
trait Fixture {
    /// The message and its parameters (pointing into `self`).
    fn params(&mut self) -> (Msg, LParam, LParam);
    /// Everything the driver could change, pointer fields left out (they differ
    /// between two fixtures by construction).
    fn snapshot(&self) -> Vec<u8>;
}

/// Runs the message of `make()` directly and isolated and compares.
fn same_as_direct<F: Fixture>(ctx: Context, make: impl Fn() -> Box<F>) {
    let untouched = make().snapshot();
    let mut direct = make();
    let (msg, l1, l2) = direct.params();
    // SAFETY: the fixture's parameters follow the message's contract.
    let expected = unsafe { fake(msg, l1, l2) };
    let mut through = make();
    let (msg, l1, l2) = through.params();
    // SAFETY: as above.
    let got = unsafe { isolated(&ctx, msg, l1, l2) }.unwrap();
    assert_eq!(got, expected, "answer of {msg:#x}");
    assert_eq!(through.snapshot(), direct.snapshot(), "caller's memory after {msg:#x}");
    assert_ne!(direct.snapshot(), untouched, "the fake driver changes something for {msg:#x}");
}

/// The bytes of `v` with the pointer fields of `layout` zeroed.
fn masked<T>(v: &T, layout: &Layout) -> Vec<u8> {
    // SAFETY: `v` is a live `T`; its bytes are read as bytes (the fixtures' structures
    // are zero-initialised first, so padding is initialised).
    let mut bytes =
        unsafe { std::slice::from_raw_parts(ptr::from_ref(v).cast::<u8>(), size_of::<T>()) }.to_vec();
    for field in layout.fields {
        if matches!(field.ty, Ty::Ptr(_) | Ty::Null) {
            bytes[field.native..field.native + PTR].fill(0);
        }
    }
    bytes
}

/// A zeroed `T` (every structure here is plain data and raw pointers).
fn zeroed<T>() -> Box<T> {
    // SAFETY: all-zero bytes are a valid value of every layout structure (integers,
    // arrays of integers and raw pointers).
    Box::new(unsafe { std::mem::zeroed() })
}

fn lp<T>(v: &mut T) -> LParam {
    ptr::from_mut(v) as LParam
}

fn wide(s: &str) -> WideString {
    WideString::new(s).unwrap()
}

fn ramp(n: usize, seed: u8) -> Vec<u8> {
    (0..n).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect()
}

// ---------------------------------------------------------------------------------
// The fake driver: reads and changes what each message's contract lets it.
// ---------------------------------------------------------------------------------

/// # Safety
/// `addr` points to a readable `T`.
unsafe fn rd<T>(addr: usize) -> T {
    // SAFETY: the caller's contract; unaligned, as several structures are packed.
    unsafe { ptr::read_unaligned(addr as *const T) }
}

/// # Safety
/// `addr` points to a writable `T`.
unsafe fn wr<T>(addr: usize, v: T) {
    // SAFETY: the caller's contract.
    unsafe { ptr::write_unaligned(addr as *mut T, v) }
}

/// # Safety
/// `addr` is NULL or a NUL-terminated UTF-16 string.
unsafe fn wlen(addr: usize) -> isize {
    // SAFETY: the caller's contract.
    unsafe { WideString::from_ptr(addr as *const u16) }.map_or(-1, |w| w.units().len() as isize)
}

/// # Safety
/// `addr` points to `n` readable bytes.
unsafe fn bytes_at<'a>(addr: usize, n: usize) -> &'a [u8] {
    // SAFETY: the caller's contract.
    unsafe { std::slice::from_raw_parts(addr as *const u8, n) }
}

/// # Safety
/// `addr` points to `n` writable bytes.
unsafe fn bytes_mut<'a>(addr: usize, n: usize) -> &'a mut [u8] {
    // SAFETY: the caller's contract.
    unsafe { std::slice::from_raw_parts_mut(addr as *mut u8, n) }
}

/// # Safety
/// `addr` is a `BITMAPINFO`.
unsafe fn bitmap_at(addr: usize) -> BitmapFormat {
    // SAFETY: the caller's contract: 40 bytes, then what they say.
    let span = BitmapFormat::span(unsafe { bytes_at(addr, 40) }).unwrap();
    // SAFETY: as above.
    BitmapFormat::from_bytes(unsafe { bytes_at(addr, span) }).unwrap()
}

/// A driver that reads every input it is given and writes what its contract lets
/// it write, in ways that depend on the inputs.
///
/// # Safety
/// `l1` and `l2` follow `msg`'s contract.
unsafe fn fake(msg: Msg, l1: LParam, l2: LParam) -> LResult {
    let (a1, a2) = (l1 as usize, l2 as usize);
    // SAFETY: each arm follows its message's contract (the module's table).
    unsafe {
        match msg {
            DRV_OPEN => {
                let args = wlen(a1);
                if a2 == 0 {
                    return 1000 + args;
                }
                let size: u32 = rd(a2);
                if size as usize == size_of::<AcmDrvOpenDescW>() {
                    let section = wlen(rd(a2 + offset_of!(AcmDrvOpenDescW, section_name)));
                    let alias = wlen(rd(a2 + offset_of!(AcmDrvOpenDescW, alias_name)));
                    let fcc: u32 = rd(a2 + offset_of!(AcmDrvOpenDescW, fcc_type));
                    wr(
                        a2 + offset_of!(AcmDrvOpenDescW, error),
                        (args * 100 + section * 10 + alias) as u32 ^ fcc,
                    );
                    7
                } else {
                    let flags: u32 = rd(a2 + offset_of!(IcOpen, flags));
                    wr(a2 + offset_of!(IcOpen, error), -(flags as isize) - 5);
                    9 + args
                }
            }
            DRV_CONFIGURE | DRV_INSTALL => match read_config_info(l2) {
                Ok(Some(info)) => {
                    let n = |s: Option<String>| s.map_or(-1, |s| s.len() as isize);
                    l1 * 10_000 + n(info.section) * 100 + n(info.alias)
                }
                Ok(None) => -1,
                Err(_) => -2,
            },
            ACMDM_DRIVER_DETAILS => {
                let cb = rd::<u32>(a1) as usize;
                let mut full: AcmDriverDetailsW = std::mem::zeroed();
                full.cb_struct = cb.min(size_of::<AcmDriverDetailsW>()) as u32;
                full.fcc_type = ACMDRIVERDETAILS_FCCTYPE_AUDIOCODEC;
                full.fcc_comp = 0x1234;
                full.c_format_tags = 3;
                full.hicon = 0x55 as *mut _;
                let mut name = [0u16; 32];
                name[..4].copy_from_slice(&[70, 97, 107, 101]);
                full.short_name = name;
                let mut features = [0u16; 512];
                features[511] = 0x4242;
                full.features = features;
                let n = cb.min(size_of::<AcmDriverDetailsW>());
                bytes_mut(a1, n).copy_from_slice(&bytes_at(ptr::from_ref(&full) as usize, n)[..n]);
                0
            }
            ACMDM_FORMATTAG_DETAILS => {
                let index: u32 = rd(a1 + offset_of!(AcmFormatTagDetailsW, format_tag_index));
                wr(a1 + offset_of!(AcmFormatTagDetailsW, format_tag), index + 1 + l2 as u32);
                wr(a1 + offset_of!(AcmFormatTagDetailsW, cb_format_size), 20u32);
                wr(a1 + offset_of!(AcmFormatTagDetailsW, format_tag_name), [0x54u16, 0x61, 0x67, 0]);
                0
            }
            ACMDM_FORMAT_DETAILS => {
                let pwfx: usize = rd(a1 + offset_of!(AcmFormatDetailsW, pwfx));
                let cbwfx: u32 = rd(a1 + offset_of!(AcmFormatDetailsW, cbwfx));
                let buf = bytes_mut(pwfx, cbwfx as usize);
                let tag = u16::from_le_bytes([buf[0], buf[1]]);
                for (i, b) in buf.iter_mut().enumerate().skip(2) {
                    *b = b.wrapping_add(i as u8);
                }
                wr(a1 + offset_of!(AcmFormatDetailsW, fdw_support), u32::from(tag) << 8 | cbwfx);
                wr(a1 + offset_of!(AcmFormatDetailsW, format_name), [0x46u16; 3]);
                0
            }
            ACMDM_FORMAT_SUGGEST => {
                let src: usize = rd(a1 + offset_of!(AcmDrvFormatSuggest, pwfx_src));
                let cb_src: u32 = rd(a1 + offset_of!(AcmDrvFormatSuggest, cbwfx_src));
                let dst: usize = rd(a1 + offset_of!(AcmDrvFormatSuggest, pwfx_dst));
                let cb_dst: u32 = rd(a1 + offset_of!(AcmDrvFormatSuggest, cbwfx_dst));
                let wanted_channels: u16 = rd(dst + 2);
                let n = cb_src.min(cb_dst) as usize;
                let copy = bytes_at(src, n).to_vec();
                bytes_mut(dst, n).copy_from_slice(&copy);
                wr(dst + 2, wanted_channels + 1);
                0
            }
            ACMDM_STREAM_OPEN => {
                let src: usize = rd(a1 + offset_of!(AcmDrvStreamInstance, pwfx_src));
                let dst: usize = rd(a1 + offset_of!(AcmDrvStreamInstance, pwfx_dst));
                let filter: usize = rd(a1 + offset_of!(AcmDrvStreamInstance, pwflt));
                let extra: u16 = rd(dst + 16);
                let last_extra: u8 = if extra > 0 { rd(dst + 18 + usize::from(extra) - 1) } else { 0 };
                let filter_word: u32 = if filter == 0 { 0 } else { rd(filter + 4) };
                let key =
                    usize::from(rd::<u16>(src)) << 16 | usize::from(last_extra) << 8 | filter_word as usize;
                wr(a1 + offset_of!(AcmDrvStreamInstance, dw_driver), key);
                wr(a1 + offset_of!(AcmDrvStreamInstance, fdw_driver), 3u32);
                0
            }
            ACMDM_STREAM_CLOSE => rd::<usize>(a1 + offset_of!(AcmDrvStreamInstance, dw_driver)) as LResult,
            ACMDM_STREAM_SIZE => {
                let key: usize = rd(a1 + offset_of!(AcmDrvStreamInstance, dw_driver));
                let src: u32 = rd(a2 + offset_of!(AcmDrvStreamSize, cb_src_length));
                wr(a2 + offset_of!(AcmDrvStreamSize, cb_dst_length), src * 2 + (key & 1) as u32);
                0
            }
            ACMDM_STREAM_CONVERT => {
                let h = a2;
                let src: usize = rd(h + offset_of!(AcmDrvStreamHeader, pb_src));
                let src_n: u32 = rd(h + offset_of!(AcmDrvStreamHeader, cb_src_length));
                let dst: usize = rd(h + offset_of!(AcmDrvStreamHeader, pb_dst));
                let dst_n: u32 = rd(h + offset_of!(AcmDrvStreamHeader, cb_dst_length));
                let key: usize = rd(a1 + offset_of!(AcmDrvStreamInstance, dw_driver));
                // Uses all but the last 3 bytes it could, and writes only those.
                let n = (src_n.min(dst_n) as usize).saturating_sub(3);
                let input = bytes_at(src, n);
                let output = bytes_mut(dst, n);
                for (o, i) in output.iter_mut().zip(input) {
                    *o = i ^ key as u8;
                }
                wr(h + offset_of!(AcmDrvStreamHeader, cb_src_length_used), n as u32);
                wr(h + offset_of!(AcmDrvStreamHeader, cb_dst_length_used), n as u32);
                wr(h + offset_of!(AcmDrvStreamHeader, fdw_driver), 9u32);
                0
            }
            ACMDM_STREAM_PREPARE => {
                let src_n: u32 = rd(a2 + offset_of!(AcmDrvStreamHeader, cb_src_length));
                wr(a2 + offset_of!(AcmDrvStreamHeader, dw_driver), 42usize + src_n as usize);
                MMSYSERR_NOTSUPPORTED
            }
            ICM_GETINFO => {
                let mut info: IcInfo = std::mem::zeroed();
                info.size = size_of::<IcInfo>() as u32;
                info.fcc_handler = u32::from_le_bytes(*b"FAKE");
                info.name[..2].copy_from_slice(&[0x46, 0x4B]);
                info.driver[127] = rd::<u16>(a1 + offset_of!(IcInfo, driver) + 2);
                let n = (l2 as usize).min(size_of::<IcInfo>());
                bytes_mut(a1, n).copy_from_slice(&bytes_at(ptr::from_ref(&info) as usize, n)[..n]);
                n as LResult
            }
            ICM_GETDEFAULTQUALITY => {
                let old: u32 = rd(a1);
                wr(a1, 8500 + old);
                0
            }
            ICM_COMPRESS_QUERY => {
                let input = bitmap_at(a1);
                let out = if a2 == 0 { 0 } else { bitmap_at(a2).header.width as isize };
                input.header.width as isize * 1000 + out + input.palette().len() as isize
            }
            ICM_COMPRESS_GET_FORMAT => {
                let input = bitmap_at(a1);
                if a2 == 0 {
                    return input.size() as LResult;
                }
                let mut out = input.clone();
                out.header.compression = BI_RLE8;
                out.header.size_image = 999;
                out.write_to(bytes_mut(a2, out.size())).unwrap();
                0
            }
            ICM_COMPRESS => {
                let ic: IcCompress = rd(a1);
                let input = bitmap_at(ic.bi_input as usize);
                let n = input.data_size();
                let pixels = bytes_at(ic.input as usize, n);
                let prev = if ic.prev.is_null() { None } else { Some(bytes_at(ic.prev as usize, n)) };
                // "Compresses" to the first half, XORed with the previous frame.
                let written = n / 2;
                let out = bytes_mut(ic.output as usize, written);
                for (i, o) in out.iter_mut().enumerate() {
                    *o = pixels[i] ^ prev.map_or(0, |p| p[i]);
                }
                wr(ic.bi_output as usize + offset_of!(BitmapInfoHeader, size_image), written as u32);
                wr(ic.ckid as usize, u32::from_le_bytes(*b"00dc"));
                let flags: u32 = rd(ic.dw_flags as usize);
                let key = if ic.flags & ICCOMPRESS_KEYFRAME != 0 { AVIIF_KEYFRAME } else { 0 };
                wr(ic.dw_flags as usize, flags | key | 0x2);
                ic.frame_num as LResult
            }
            ICM_DECOMPRESS => {
                let ic: IcDecompress = rd(a1);
                let input = bitmap_at(ic.bi_input as usize);
                let output = bitmap_at(ic.bi_output as usize);
                let data = bytes_at(ic.input as usize, input.data_size());
                let frame = bytes_mut(ic.output as usize, output.data_size());
                // A delta frame writes every other pixel; a keyframe all of them.
                let step = if ic.flags & ICDECOMPRESS_NOTKEYFRAME != 0 { 2 } else { 1 };
                for i in (0..frame.len()).step_by(step) {
                    frame[i] = data[i % data.len()].wrapping_add(1);
                }
                wr(ic.bi_output as usize + offset_of!(BitmapInfoHeader, size_image), frame.len() as u32);
                0
            }
            CUSTOM => {
                // lParam1: 8 bytes in; lParam2: 8 bytes in-out, or out.
                let input: [u8; 8] = rd(a1);
                let old: [u8; 8] = rd(a2);
                let mut out = [0u8; 8];
                for i in 0..8 {
                    out[i] = input[i].wrapping_add(old[i]).wrapping_add(i as u8);
                }
                wr(a2, out);
                input.iter().map(|&b| b as isize).sum()
            }
            _ => l1 + 2 * l2,
        }
    }
}

const CUSTOM: Msg = DRV_USER + 0x77;

// ---------------------------------------------------------------------------------
// Standard messages.
// ---------------------------------------------------------------------------------

#[test]
fn integer_messages_pass_as_they_are() {
    for msg in
        [DRV_LOAD, DRV_ENABLE, DRV_DISABLE, DRV_FREE, DRV_CLOSE, DRV_QUERYCONFIGURE, DRV_REMOVE, DRV_POWER]
    {
        let mut app = Buffer::new(4096);
        // SAFETY: integer messages carry no pointers.
        let m = unsafe { marshal(&Context::default(), msg, -3, 1 << 40, app.bytes()) }.unwrap();
        assert_eq!((m.l1, m.l2, m.segments.len()), (WireArg::Int(-3), WireArg::Int(1 << 40), 0));
        assert_eq!(host_side(&m, &mut app), Ok(-3 + (2 << 40)));
    }
}

struct OpenAcm {
    args: Option<WideString>,
    section: WideString,
    alias: WideString,
    desc: Box<AcmDrvOpenDescW>,
}

impl Fixture for OpenAcm {
    fn params(&mut self) -> (Msg, LParam, LParam) {
        self.desc.section_name = self.section.as_ptr();
        self.desc.alias_name = self.alias.as_ptr();
        (DRV_OPEN, self.args.as_ref().map_or(0, |a| a.as_ptr() as LParam), lp(&mut *self.desc))
    }
    fn snapshot(&self) -> Vec<u8> {
        masked(&*self.desc, &OPEN_DESC)
    }
}

fn open_acm(args: Option<&str>) -> Box<OpenAcm> {
    let mut desc = zeroed::<AcmDrvOpenDescW>();
    desc.cb_struct = size_of::<AcmDrvOpenDescW>() as u32;
    desc.fcc_type = ACMDRIVERDETAILS_FCCTYPE_AUDIOCODEC;
    desc.version = 0x0400_0565;
    desc.dev_node = 77;
    Box::new(OpenAcm { args: args.map(wide), section: wide("Drivers32"), alias: wide("msacm.fake"), desc })
}

#[test]
fn drv_open_with_an_acm_description() {
    let ctx = Context { class: DriverClass::Acm, ..Context::default() };
    same_as_direct(ctx, || open_acm(Some("-x  mode=fast")));
    same_as_direct(ctx, || open_acm(None));
}

struct OpenIc {
    open: Box<IcOpen>,
}

impl Fixture for OpenIc {
    fn params(&mut self) -> (Msg, LParam, LParam) {
        (DRV_OPEN, 0, lp(&mut *self.open))
    }
    fn snapshot(&self) -> Vec<u8> {
        masked(&*self.open, &IC_OPEN)
    }
}

#[test]
fn drv_open_with_an_icopen_writes_its_error_back() {
    let make = || {
        let mut open = zeroed::<IcOpen>();
        open.size = size_of::<IcOpen>() as u32;
        open.fcc_type = u32::from_le_bytes(*b"vidc");
        open.fcc_handler = u32::from_le_bytes(*b"mrle");
        open.version = 0x1000;
        open.flags = 2;
        Box::new(OpenIc { open })
    };
    same_as_direct(Context { class: DriverClass::Icm, ..Context::default() }, make);
}

#[test]
fn drv_open_session_open_and_args() {
    let args = wide("a b");
    // SAFETY: DRV_OPEN with a string and NULL.
    let direct = unsafe { fake(DRV_OPEN, args.as_ptr() as LParam, 0) };
    // SAFETY: as above.
    let got = unsafe { isolated(&Context::default(), DRV_OPEN, args.as_ptr() as LParam, 0) };
    assert_eq!((got, direct), (Ok(1003), 1003));
    // SAFETY: NULL and NULL.
    assert_eq!(unsafe { isolated(&Context::default(), DRV_OPEN, 0, 0) }, Ok(999));
}

#[test]
fn drv_open_with_lparam2_for_a_driver_of_no_known_class_is_refused_unread() {
    let mut app = Buffer::new(4096);
    // An integer the driver would not dereference: read, it would fault here.
    // SAFETY: the marshaller must refuse it without reading it.
    let err = unsafe { marshal(&Context::default(), DRV_OPEN, 0, 0x77, app.bytes()) };
    assert_eq!(err.unwrap_err(), MarshalError::UnknownOpenParam { class: DriverClass::Generic });
    // An ACM description is not recognised either: the class says what it is.
    let mut open = open_acm(None);
    // SAFETY: as above.
    let err = unsafe { marshal(&Context::default(), DRV_OPEN, 0, lp(&mut open.desc), app.bytes()) };
    assert_eq!(err.unwrap_err(), MarshalError::UnknownOpenParam { class: DriverClass::Generic });
}

struct Config {
    msg: Msg,
    buf: ConfigInfoBuf,
}

impl Fixture for Config {
    fn params(&mut self) -> (Msg, LParam, LParam) {
        (self.msg, 3, self.buf.as_lparam())
    }
    fn snapshot(&self) -> Vec<u8> {
        masked(self.buf.raw(), &CONFIG_PACKED)
    }
}

#[test]
fn drv_configure_and_install_carry_drvconfiginfo() {
    for (msg, section, alias) in [
        (DRV_CONFIGURE, Some("Drivers32"), Some("msacm.fake")),
        (DRV_INSTALL, None, Some("x")),
        (DRV_INSTALL, None, None),
    ] {
        let buf = ConfigInfoBuf::new(section, alias).unwrap();
        // SAFETY: a live DRVCONFIGINFO.
        let direct = unsafe { fake(msg, 3, buf.as_lparam()) };
        // SAFETY: as above.
        let got = unsafe { isolated(&Context::default(), msg, 3, buf.as_lparam()) };
        assert_eq!(got, Ok(direct));
        assert!(direct >= 30_000 - 101, "{direct}");
        let _ = Config { msg, buf }.snapshot();
    }
    // SAFETY: NULL.
    assert_eq!(unsafe { isolated(&Context::default(), DRV_CONFIGURE, 5, 0) }, Ok(-1));
}

#[test]
fn drvconfiginfo_naturally_aligned_and_bad_sizes() {
    #[repr(C)]
    struct Natural {
        size: u32,
        section: *const u16,
        alias: *const u16,
    }
    let (s, a) = (wide("mci"), wide("cdaudio"));
    let mut natural = Natural { size: size_of::<Natural>() as u32, section: s.as_ptr(), alias: a.as_ptr() };
    // SAFETY: a live aligned DRVCONFIGINFO.
    let direct = unsafe { fake(DRV_INSTALL, 0, lp(&mut natural)) };
    // SAFETY: as above.
    let got = unsafe { isolated(&Context::default(), DRV_INSTALL, 0, lp(&mut natural)) };
    assert_eq!((got, direct), (Ok(307), 307));
    // The host sees the aligned form too.
    let mut app = Buffer::new(4096);
    // SAFETY: as above.
    let m = unsafe { marshal(&Context::default(), DRV_INSTALL, 0, lp(&mut natural), app.bytes()) }.unwrap();
    assert_eq!(m.segments[0].kind, Kind::Struct(CONFIG_NATURAL.id));
    natural.size = 7;
    // SAFETY: a structure whose size is read and refused.
    let err =
        unsafe { marshal(&Context::default(), DRV_INSTALL, 0, lp(&mut natural), app.bytes()) }.unwrap_err();
    assert_eq!(err, MarshalError::BadConfigInfo(7));
    assert_eq!(
        err.to_string(),
        "DRVCONFIGINFO has dwDCISize 7, which is neither the packed nor the aligned size"
    );
}

// ---------------------------------------------------------------------------------
// ACM.
// ---------------------------------------------------------------------------------

fn acm() -> Context {
    Context { class: DriverClass::Acm, ..Context::default() }
}

struct Details {
    details: Box<AcmDriverDetailsW>,
}

impl Fixture for Details {
    fn params(&mut self) -> (Msg, LParam, LParam) {
        (ACMDM_DRIVER_DETAILS, lp(&mut *self.details), 0)
    }
    fn snapshot(&self) -> Vec<u8> {
        masked(&*self.details, &DRIVER_DETAILS)
    }
}

#[test]
fn acm_driver_details_whole_and_partial() {
    for cb in [size_of::<AcmDriverDetailsW>() as u32, 100, 40, 38] {
        same_as_direct(acm(), || {
            let mut details = zeroed::<AcmDriverDetailsW>();
            details.cb_struct = cb;
            // Bytes past cbStruct belong to the caller: they must stay as they are.
            let mut features = [0u16; 512];
            features[511] = 0x1111;
            details.features = features;
            Box::new(Details { details })
        });
    }
}

struct TagDetails {
    tag: Box<AcmFormatTagDetailsW>,
}

impl Fixture for TagDetails {
    fn params(&mut self) -> (Msg, LParam, LParam) {
        (ACMDM_FORMATTAG_DETAILS, lp(&mut *self.tag), ACM_FORMATTAGDETAILSF_INDEX as LParam + 4)
    }
    fn snapshot(&self) -> Vec<u8> {
        masked(&*self.tag, &FORMATTAG_DETAILS)
    }
}

#[test]
fn acm_formattag_details() {
    same_as_direct(acm(), || {
        let mut tag = zeroed::<AcmFormatTagDetailsW>();
        tag.cb_struct = size_of::<AcmFormatTagDetailsW>() as u32;
        tag.format_tag_index = 2;
        Box::new(TagDetails { tag })
    });
}

struct FormatDetails {
    wfx: Vec<u8>,
    details: Box<AcmFormatDetailsW>,
}

impl Fixture for FormatDetails {
    fn params(&mut self) -> (Msg, LParam, LParam) {
        self.details.pwfx = self.wfx.as_mut_ptr().cast();
        (ACMDM_FORMAT_DETAILS, lp(&mut *self.details), ACM_FORMATDETAILSF_FORMAT as LParam)
    }
    fn snapshot(&self) -> Vec<u8> {
        let mut s = masked(&*self.details, &FORMAT_DETAILS);
        s.extend_from_slice(&self.wfx);
        s
    }
}

#[test]
fn acm_format_details_carries_pwfx_both_ways() {
    same_as_direct(acm(), || {
        let mut wfx = ramp(24, 1);
        wfx[0..2].copy_from_slice(&WAVE_FORMAT_IMA_ADPCM.to_le_bytes());
        let mut details = zeroed::<AcmFormatDetailsW>();
        details.cb_struct = size_of::<AcmFormatDetailsW>() as u32;
        details.cbwfx = 20; // the last 4 bytes are not the driver's
        Box::new(FormatDetails { wfx, details })
    });
}

struct Suggest {
    src: Vec<u8>,
    dst: Vec<u8>,
    suggest: Box<AcmDrvFormatSuggest>,
}

impl Fixture for Suggest {
    fn params(&mut self) -> (Msg, LParam, LParam) {
        self.suggest.pwfx_src = self.src.as_mut_ptr().cast();
        self.suggest.pwfx_dst = self.dst.as_mut_ptr().cast();
        (ACMDM_FORMAT_SUGGEST, lp(&mut *self.suggest), 0)
    }
    fn snapshot(&self) -> Vec<u8> {
        [masked(&*self.suggest, &FORMAT_SUGGEST), self.src.clone(), self.dst.clone()].concat()
    }
}

#[test]
fn acm_format_suggest_reads_src_and_dst_and_fills_dst() {
    same_as_direct(acm(), || {
        let mut src = vec![0u8; 18];
        Format::pcm(2, 8000, 16).write_to(&mut src).unwrap();
        let mut dst = vec![0u8; 22];
        dst[2] = 1; // the wanted channels
        dst[20] = 0xAB; // past cbwfxDst
        let mut suggest = zeroed::<AcmDrvFormatSuggest>();
        suggest.cb_struct = size_of::<AcmDrvFormatSuggest>() as u32;
        suggest.fdw_suggest = ACM_FORMATSUGGESTF_NCHANNELS;
        suggest.cbwfx_src = 18;
        suggest.cbwfx_dst = 20;
        Box::new(Suggest { src, dst, suggest })
    });
}

use drvproc::acm::Format;

struct StreamInstance {
    src: Vec<u8>,
    dst: Vec<u8>,
    filter: Option<Vec<u8>>,
    instance: Box<AcmDrvStreamInstance>,
}

impl StreamInstance {
    fn new(key: usize, filter: bool) -> StreamInstance {
        let mut src = vec![0u8; 18];
        Format::pcm(1, 8000, 16).write_to(&mut src).unwrap();
        let mut dst = vec![0u8; 22];
        dst[..18].copy_from_slice(&ramp(18, 9));
        dst[0..2].copy_from_slice(&WAVE_FORMAT_IMA_ADPCM.to_le_bytes());
        dst[16..18].copy_from_slice(&2u16.to_le_bytes());
        dst[18..20].copy_from_slice(&505u16.to_le_bytes());
        dst[20..22].copy_from_slice(&[0xCC, 0xCC]); // not part of the format
        let filter = filter.then(|| {
            let mut f = ramp(40, 3);
            f[0..4].copy_from_slice(&12u32.to_le_bytes());
            f
        });
        let mut instance = zeroed::<AcmDrvStreamInstance>();
        instance.cb_struct = size_of::<AcmDrvStreamInstance>() as u32;
        instance.callback = 0xDEAD_BEEF;
        instance.instance = 17;
        instance.fdw_open = ACM_STREAMOPENF_NONREALTIME;
        instance.dw_driver = key;
        instance.has = 0x4000 as *mut _;
        StreamInstance { src, dst, filter, instance }
    }

    fn lp(&mut self) -> LParam {
        self.instance.pwfx_src = self.src.as_mut_ptr().cast();
        self.instance.pwfx_dst = self.dst.as_mut_ptr().cast();
        self.instance.pwflt = self.filter.as_mut().map_or(ptr::null_mut(), |f| f.as_mut_ptr().cast());
        lp(&mut *self.instance)
    }

    fn snapshot(&self) -> Vec<u8> {
        let filter = self.filter.clone().unwrap_or_default();
        [masked(&*self.instance, &STREAM_INSTANCE), self.src.clone(), self.dst.clone(), filter].concat()
    }
}

struct StreamOpen(StreamInstance);

impl Fixture for StreamOpen {
    fn params(&mut self) -> (Msg, LParam, LParam) {
        (ACMDM_STREAM_OPEN, self.0.lp(), 0)
    }
    fn snapshot(&self) -> Vec<u8> {
        self.0.snapshot()
    }
}

#[test]
fn acm_stream_open_writes_dw_driver_back() {
    same_as_direct(acm(), || Box::new(StreamOpen(StreamInstance::new(0, true))));
    same_as_direct(acm(), || Box::new(StreamOpen(StreamInstance::new(0, false))));
}

#[test]
fn acm_stream_close_reads_dw_driver() {
    let mut s = StreamInstance::new(0x7777, false);
    // SAFETY: a live stream instance.
    assert_eq!(unsafe { isolated(&acm(), ACMDM_STREAM_CLOSE, s.lp(), 0) }, Ok(0x7777));
}

#[test]
fn a_stream_instances_callback_is_listed_as_a_target_and_carried_as_it_is() {
    let mut app = Buffer::new(PAYLOAD);
    let mut s = StreamInstance::new(0, false);
    for msg in [ACMDM_STREAM_OPEN, ACMDM_STREAM_CLOSE] {
        // SAFETY: a live stream instance.
        let m = unsafe { marshal(&acm(), msg, s.lp(), 0, app.bytes()) }.unwrap();
        assert_eq!(m.targets, [0xDEAD_BEEF], "{msg:#x}");
        let seg = m.segments[0];
        // dwCallback's wire offset.
        let at = seg.offset as usize + 32;
        assert_eq!(app.bytes()[at..at + 8], 0xDEAD_BEEFu64.to_le_bytes(), "the wire holds the value");
    }
    // A size that ends inside dwCallback hands no target over.
    s.instance.cb_struct = (offset_of!(AcmDrvStreamInstance, callback) + 2) as u32;
    // SAFETY: as above.
    let m = unsafe { marshal(&acm(), ACMDM_STREAM_OPEN, s.lp(), 0, app.bytes()) }.unwrap();
    assert_eq!(m.targets, []);
    // Integer parameters are not targets of a structure; other structures hold none.
    // SAFETY: integers only.
    let m = unsafe { marshal(&acm(), DRV_QUERYCONFIGURE, 0xDEAD_BEEF, 0, app.bytes()) }.unwrap();
    assert_eq!(m.targets, []);
    let mut size = AcmDrvStreamSize { cb_struct: 16, fdw_size: 0, cb_src_length: 1000, cb_dst_length: 0 };
    let mut s = StreamInstance::new(5, false);
    // SAFETY: a live stream instance and stream size.
    let m = unsafe { marshal(&acm(), ACMDM_STREAM_SIZE, s.lp(), lp(&mut size), app.bytes()) }.unwrap();
    assert_eq!(m.targets, [0xDEAD_BEEF], "one structure, one target");
}

struct StreamSize(StreamInstance, Box<AcmDrvStreamSize>);

impl Fixture for StreamSize {
    fn params(&mut self) -> (Msg, LParam, LParam) {
        (ACMDM_STREAM_SIZE, self.0.lp(), lp(&mut *self.1))
    }
    fn snapshot(&self) -> Vec<u8> {
        [self.0.snapshot(), masked(&*self.1, &STREAM_SIZE)].concat()
    }
}

#[test]
fn acm_stream_size() {
    same_as_direct(acm(), || {
        let size = AcmDrvStreamSize { cb_struct: 16, fdw_size: 0, cb_src_length: 1000, cb_dst_length: 0 };
        Box::new(StreamSize(StreamInstance::new(5, false), Box::new(size)))
    });
}

struct Convert {
    instance: StreamInstance,
    src: Vec<u8>,
    dst: Vec<u8>,
    header: Box<AcmDrvStreamHeader>,
    msg: Msg,
}

impl Convert {
    fn new(msg: Msg, src_len: usize, dst_len: usize) -> Box<Convert> {
        let mut header = zeroed::<AcmDrvStreamHeader>();
        header.cb_struct = size_of::<AcmDrvStreamHeader>() as u32;
        header.fdw_status = ACMSTREAMHEADER_STATUSF_PREPARED | ACMSTREAMHEADER_STATUSF_DONE;
        header.dw_user = 0x1122_3344;
        header.cb_src_length = src_len as u32;
        header.cb_dst_length = dst_len as u32;
        header.cb_dst_length_used = 12_345; // stale, from an earlier conversion
        header.fdw_convert = ACM_STREAMCONVERTF_START;
        header.cb_prepared_src_length = src_len as u32;
        Box::new(Convert {
            instance: StreamInstance::new(0x5A, false),
            src: ramp(src_len, 7),
            dst: vec![0x99; dst_len + 8],
            header,
            msg,
        })
    }
}

impl Fixture for Convert {
    fn params(&mut self) -> (Msg, LParam, LParam) {
        self.header.pb_src = self.src.as_mut_ptr();
        self.header.pb_dst = self.dst.as_mut_ptr();
        self.header.pb_prepared_src = self.src.as_mut_ptr();
        (self.msg, self.instance.lp(), lp(&mut *self.header))
    }
    fn snapshot(&self) -> Vec<u8> {
        [self.instance.snapshot(), masked(&*self.header, &HEADER_CONVERT), self.src.clone(), self.dst.clone()]
            .concat()
    }
}

#[test]
fn acm_stream_convert_moves_the_bulk_buffers() {
    same_as_direct(acm(), || Convert::new(ACMDM_STREAM_CONVERT, 65_536, 65_536));
    same_as_direct(acm(), || Convert::new(ACMDM_STREAM_CONVERT, 1000, 300));
    same_as_direct(acm(), || Convert::new(ACMDM_STREAM_PREPARE, 1000, 300));
}

#[test]
fn acm_stream_convert_describes_its_bulk_buffers_as_segments() {
    let mut c = Convert::new(ACMDM_STREAM_CONVERT, 4000, 2000);
    let (msg, l1, l2) = c.params();
    let mut app = Buffer::new(PAYLOAD);
    // SAFETY: the fixture's live structures.
    let m = unsafe { marshal(&acm(), msg, l1, l2, app.bytes()) }.unwrap();
    let shape: Vec<_> = m.segments.iter().map(|s| (s.len, s.dir, s.kind, s.which, s.nested)).collect();
    assert_eq!(
        shape,
        [
            (72, Dir::In, Kind::Struct(STREAM_INSTANCE.id), Which::L1, false),
            (18, Dir::In, Kind::Format, Which::L1, true),
            // IMA ADPCM: 18 bytes and cbSize 2.
            (20, Dir::In, Kind::Format, Which::L1, true),
            (124, Dir::InOut, Kind::Struct(HEADER_CONVERT.id), Which::L2, false),
            (4000, Dir::In, Kind::Bulk, Which::L2, true),
            (2000, Dir::Out, Kind::Bulk, Which::L2, true),
        ]
    );
    assert!(m.segments.iter().all(|s| (s.offset as usize).is_multiple_of(PAYLOAD_ALIGN)));
    assert_eq!(
        (m.l1, m.l2),
        (
            WireArg::Payload { offset: m.segments[0].offset },
            WireArg::Payload { offset: m.segments[3].offset }
        )
    );
    // The wire form holds offsets: pbSrc at wire offset 16 names the source's segment.
    let header = m.segments[3].offset as usize;
    let pb_src = u64::from_le_bytes(app.bytes()[header + 16..header + 24].try_into().unwrap());
    assert_eq!(pb_src, u64::from(m.segments[4].offset));
    assert_eq!(m.used, m.segments[5].offset as usize + 2000);
}

// ---------------------------------------------------------------------------------
// VfW.
// ---------------------------------------------------------------------------------

fn vfw(capacity: Option<u32>) -> Context {
    Context { class: DriverClass::Icm, compress_capacity: capacity }
}

fn grey_palette(n: usize) -> Vec<u8> {
    (0..n).flat_map(|i| [i as u8, i as u8, i as u8, 0]).collect()
}

fn format_bytes(f: &BitmapFormat) -> Vec<u8> {
    let mut b = vec![0u8; f.size()];
    f.write_to(&mut b).unwrap();
    b
}

#[test]
fn icm_getinfo_and_quality() {
    let mut direct = zeroed::<IcInfo>();
    direct.driver[1] = 0x33;
    let mut through = zeroed::<IcInfo>();
    through.driver[1] = 0x33;
    let n = size_of::<IcInfo>() as LParam;
    // SAFETY: an ICINFO of n bytes.
    let expected = unsafe { fake(ICM_GETINFO, lp(&mut *direct), n) };
    // SAFETY: as above.
    let got = unsafe { isolated(&vfw(None), ICM_GETINFO, lp(&mut *through), n) };
    assert_eq!((got, expected), (Ok(568), 568));
    assert_eq!(masked_info(&through), masked_info(&direct));
    assert_eq!(through.driver[127], 0x33);

    let (mut q1, mut q2) = (7u32, 7u32);
    // SAFETY: a DWORD.
    let expected = unsafe { fake(ICM_GETDEFAULTQUALITY, lp(&mut q1), 4) };
    // SAFETY: as above.
    let got = unsafe { isolated(&vfw(None), ICM_GETDEFAULTQUALITY, lp(&mut q2), 4) };
    assert_eq!((got, q2), (Ok(expected), 8507));
    assert_eq!(q1, q2);
}

fn masked_info(i: &IcInfo) -> Vec<u8> {
    // SAFETY: a live ICINFO (no padding: 6 u32 and u16 arrays).
    unsafe { std::slice::from_raw_parts(ptr::from_ref(i).cast::<u8>(), size_of::<IcInfo>()) }.to_vec()
}

#[test]
fn icm_queries_read_one_or_two_formats() {
    let mut input = format_bytes(&BitmapFormat::paletted(64, 48, BI_RGB, &grey_palette(16)));
    let mut output = format_bytes(&BitmapFormat::paletted(32, 48, BI_RLE8, &grey_palette(256)));
    let (i, o) = (input.as_mut_ptr() as LParam, output.as_mut_ptr() as LParam);
    for l2 in [0, o] {
        // SAFETY: BITMAPINFOs.
        let expected = unsafe { fake(ICM_COMPRESS_QUERY, i, l2) };
        // SAFETY: as above.
        let got = unsafe { isolated(&vfw(None), ICM_COMPRESS_QUERY, i, l2) };
        assert_eq!(got, Ok(expected));
        assert_eq!(expected, 64_000 + if l2 == 0 { 0 } else { 32 } + 64);
    }
}

#[test]
fn icm_get_format_fills_the_callers_buffer_with_the_format_only() {
    let mut input = format_bytes(&BitmapFormat::paletted(8, 4, BI_RGB, &grey_palette(256)));
    let i = input.as_mut_ptr() as LParam;
    // SAFETY: a BITMAPINFO and NULL.
    assert_eq!(unsafe { isolated(&vfw(None), ICM_COMPRESS_GET_FORMAT, i, 0) }, Ok(1064));
    // Room past the format for more than the host's out area holds.
    let mut direct = vec![0x77u8; 1064 + MAX_BITMAP_FORMAT];
    let mut through = vec![0x77u8; 1064 + MAX_BITMAP_FORMAT];
    // SAFETY: a BITMAPINFO and a 1064-byte buffer (the size the driver announced).
    let expected = unsafe { fake(ICM_COMPRESS_GET_FORMAT, i, direct.as_mut_ptr() as LParam) };
    // SAFETY: as above.
    let got = unsafe { isolated(&vfw(None), ICM_COMPRESS_GET_FORMAT, i, through.as_mut_ptr() as LParam) };
    assert_eq!(got, Ok(expected));
    assert_eq!(through, direct);
    assert!(through[1064..].iter().all(|&b| b == 0x77), "nothing past the format");
}

struct Compress {
    bi_input: Vec<u8>,
    bi_output: Vec<u8>,
    pixels: Vec<u8>,
    prev: Option<Vec<u8>>,
    out: Vec<u8>,
    ckid: u32,
    flags: u32,
    ic: Box<IcCompress>,
}

impl Fixture for Compress {
    fn params(&mut self) -> (Msg, LParam, LParam) {
        self.ic.bi_input = self.bi_input.as_mut_ptr().cast();
        self.ic.bi_output = self.bi_output.as_mut_ptr().cast();
        self.ic.input = self.pixels.as_mut_ptr().cast();
        self.ic.output = self.out.as_mut_ptr().cast();
        self.ic.ckid = &mut self.ckid;
        self.ic.dw_flags = &mut self.flags;
        if let Some(p) = &mut self.prev {
            self.ic.prev = p.as_mut_ptr().cast();
            self.ic.bi_prev = self.bi_input.as_mut_ptr().cast();
        }
        (ICM_COMPRESS, lp(&mut *self.ic), size_of::<IcCompress>() as LParam)
    }
    fn snapshot(&self) -> Vec<u8> {
        let words = [self.ckid.to_le_bytes(), self.flags.to_le_bytes()].concat();
        [
            masked(&*self.ic, &IC_COMPRESS),
            self.bi_input.clone(),
            self.bi_output.clone(),
            self.out.clone(),
            words,
        ]
        .concat()
    }
}

fn compress(delta: bool) -> Box<Compress> {
    let input = BitmapFormat::paletted(64, 48, BI_RGB, &grey_palette(256));
    let output = BitmapFormat::paletted(64, 48, BI_RLE8, &grey_palette(256));
    let mut ic = zeroed::<IcCompress>();
    ic.flags = if delta { 0 } else { ICCOMPRESS_KEYFRAME };
    ic.frame_num = 12;
    ic.quality = 8500;
    Box::new(Compress {
        bi_input: format_bytes(&input),
        bi_output: format_bytes(&output),
        pixels: ramp(64 * 48, 1),
        prev: delta.then(|| ramp(64 * 48, 200)),
        out: vec![0x55; 4000],
        ckid: 0,
        flags: 0x100,
        ic,
    })
}

#[test]
fn icm_compress_carries_formats_frames_and_flags() {
    same_as_direct(vfw(Some(4000)), || compress(false));
    same_as_direct(vfw(Some(4000)), || compress(true));
}

#[test]
fn icm_compress_without_the_output_capacity_is_refused() {
    let mut c = compress(false);
    let (msg, l1, l2) = c.params();
    let mut app = Buffer::new(PAYLOAD);
    // SAFETY: the fixture's live structures.
    let err = unsafe { marshal(&vfw(None), msg, l1, l2, app.bytes()) }.unwrap_err();
    assert_eq!(err, MarshalError::NoCompressCapacity);
    assert_eq!(
        err.to_string(),
        "ICM_COMPRESS: the output buffer's capacity (the ICM_COMPRESS_GET_SIZE answer) is not known"
    );
}

struct Decompress {
    bi_input: Vec<u8>,
    bi_output: Vec<u8>,
    data: Vec<u8>,
    frame: Vec<u8>,
    ic: Box<IcDecompress>,
}

impl Fixture for Decompress {
    fn params(&mut self) -> (Msg, LParam, LParam) {
        self.ic.bi_input = self.bi_input.as_mut_ptr().cast();
        self.ic.bi_output = self.bi_output.as_mut_ptr().cast();
        self.ic.input = self.data.as_mut_ptr().cast();
        self.ic.output = self.frame.as_mut_ptr().cast();
        (ICM_DECOMPRESS, lp(&mut *self.ic), size_of::<IcDecompress>() as LParam)
    }
    fn snapshot(&self) -> Vec<u8> {
        [masked(&*self.ic, &IC_DECOMPRESS), self.bi_input.clone(), self.bi_output.clone(), self.frame.clone()]
            .concat()
    }
}

#[test]
fn icm_decompress_keeps_the_pixels_a_delta_frame_skips() {
    for flags in [0, ICDECOMPRESS_NOTKEYFRAME] {
        same_as_direct(vfw(None), || {
            let mut input = BitmapFormat::paletted(64, 48, BI_RLE8, &grey_palette(256));
            input.header.size_image = 777;
            let mut output = BitmapFormat::paletted(64, 48, BI_RGB, &grey_palette(256));
            output.header.size_image = 0;
            let mut ic = zeroed::<IcDecompress>();
            ic.flags = flags;
            Box::new(Decompress {
                bi_input: format_bytes(&input),
                bi_output: format_bytes(&output),
                data: ramp(777, 4),
                frame: ramp(64 * 48, 99),
                ic,
            })
        });
    }
}

// ---------------------------------------------------------------------------------
// Custom messages, sizes, errors.
// ---------------------------------------------------------------------------------

#[test]
fn custom_messages_with_a_description() {
    let input = *b"12345678";
    for out in [false, true] {
        let mut direct = *b"abcdefgh";
        // SAFETY: CUSTOM reads 8 bytes at l1 and 8 at l2, and writes l2.
        let expected = unsafe { fake(CUSTOM, input.as_ptr() as LParam, direct.as_mut_ptr() as LParam) };
        let mut buf = *b"abcdefgh";
        let mut app = Buffer::new(4096);
        let (a1, mut a2) = (Arg::In(&input), if out { Arg::Out(&mut buf) } else { Arg::InOut(&mut buf) });
        let m = marshal_args(CUSTOM, &a1, &a2, app.bytes()).unwrap();
        assert_eq!(
            m.segments.iter().map(|s| (s.len, s.dir)).collect::<Vec<_>>(),
            [(8, Dir::In), (8, if out { Dir::Out } else { Dir::InOut })]
        );
        let got = host_side(&m, &mut app).unwrap();
        let mut a1 = a1;
        copy_back_args(&m, &mut a1, &mut a2, app.bytes()).unwrap();
        assert_eq!(got, expected);
        if out {
            // An out buffer arrives zeroed: the driver's sum lacks the old bytes.
            let want: Vec<u8> = input.iter().enumerate().map(|(i, b)| b + i as u8).collect();
            assert_eq!(&buf[..], &want[..]);
        } else {
            assert_eq!(buf, direct);
        }
    }
    let mut app = Buffer::new(4096);
    let m = marshal_args(CUSTOM + 1, &Arg::Int(-5), &Arg::Int(6), app.bytes()).unwrap();
    assert_eq!((m.l1, m.l2), (WireArg::Int(-5), WireArg::Int(6)));
    assert_eq!(host_side(&m, &mut app), Ok(7));
}

#[test]
fn a_custom_message_without_a_description_is_refused() {
    let mut app = Buffer::new(4096);
    let before = app.bytes().to_vec();
    let mut buf = [0u8; 8];
    // SAFETY: refused before anything is read.
    let err = unsafe { marshal(&Context::default(), CUSTOM, buf.as_mut_ptr() as LParam, 0, app.bytes()) }
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "message DRV_USER+119 (0x4077) has no known parameter layout and lParam1/lParam2 are not 0: describe \
         them (integer, input buffer, output buffer or in-out buffer) to send it to an isolated driver; an \
         integer that may be an address is never forwarded"
    );
    assert_eq!(app.bytes(), &before[..], "nothing written");
    // A class's messages are known only for that class: ICM_COMPRESS_QUERY (ICM_USER+6)
    // to an ACM driver, or ACMDM_STREAM_OPEN to a driver of no class, is custom.
    // SAFETY: refused before anything is read.
    let err = unsafe { marshal(&acm(), ICM_USER + 6, 1, 0, app.bytes()) }.unwrap_err();
    assert_eq!(err, MarshalError::Undescribed { msg: 0x4006, name: "ACMDM_USER+6".into() });
    // SAFETY: as above.
    let err = unsafe { marshal(&Context::default(), ACMDM_STREAM_OPEN, 1, 0, app.bytes()) }.unwrap_err();
    assert!(matches!(err, MarshalError::Undescribed { msg: 0x604C, .. }), "{err:?}");
    // Two zero parameters carry no address.
    // SAFETY: integers only.
    let m = unsafe { marshal(&Context::default(), CUSTOM, 0, 0, app.bytes()) }.unwrap();
    assert_eq!((m.l1, m.l2, m.segments.len()), (WireArg::Int(0), WireArg::Int(0), 0));
}

#[test]
fn a_payload_too_small_is_an_error_and_nothing_is_written() {
    let mut c = Convert::new(ACMDM_STREAM_CONVERT, 65_536, 65_536);
    let (msg, l1, l2) = c.params();
    let mut app = Buffer::new(65_536);
    let before = app.bytes().to_vec();
    // SAFETY: the fixture's live structures.
    let err = unsafe { marshal(&acm(), msg, l1, l2, app.bytes()) }.unwrap_err();
    let MarshalError::PayloadTooSmall { needed, available } = err.clone() else { panic!("{err:?}") };
    assert_eq!(available, 65_536);
    assert!(needed > 2 * 65_536, "{needed}");
    assert_eq!(
        err.to_string(),
        format!("the parameters need a {needed}-byte payload, the channel holds 65536")
    );
    assert_eq!(app.bytes(), &before[..]);

    let big = [0u8; 100];
    let mut small = Buffer::new(64);
    let before = small.bytes().to_vec();
    let err = marshal_args(CUSTOM, &Arg::In(&big), &Arg::Int(0), small.bytes()).unwrap_err();
    assert_eq!(err, MarshalError::PayloadTooSmall { needed: 32 + 100, available: 64 });
    assert_eq!(small.bytes(), &before[..]);
}

#[test]
fn the_host_refuses_a_damaged_or_misaligned_payload() {
    let mut app = Buffer::new(4096);
    let m = marshal_args(CUSTOM, &Arg::In(b"abcdefgh"), &Arg::Int(0), app.bytes()).unwrap();
    let mut raw = vec![0u8; 4096 + 1];
    let start = raw.as_ptr().align_offset(PAYLOAD_ALIGN) + 1;
    let misaligned = &mut raw[start..start + 1024];
    misaligned[..m.used].copy_from_slice(&app.bytes()[..m.used]);
    assert_eq!(rebuild(m.l1, m.l2, misaligned), Err(MarshalError::Misaligned));
    let mut host = Buffer::new(4096);
    host.bytes()[..m.used].copy_from_slice(&app.bytes()[..m.used]);
    // A segment past the end.
    host.bytes()[12..16].copy_from_slice(&u32::MAX.to_le_bytes());
    assert_eq!(
        rebuild(m.l1, m.l2, host.bytes()),
        Err(MarshalError::BadPayload("a segment lies outside the payload"))
    );
    assert_eq!(
        rebuild(m.l1, m.l2, &mut Buffer::new(64).bytes()[..]),
        Err(MarshalError::BadPayload("no segment table"))
    );
}

/// On a 64-bit build the wire form is the native layout: the offsets in the tables
/// are those of the Win64 layouts the layout modules check.
#[cfg(target_pointer_width = "64")]
#[test]
fn wire_offsets_are_the_win64_layouts() {
    for layout in LAYOUTS {
        assert_eq!(layout.native_size, layout.wire_size, "{}", layout.name);
        for field in layout.fields {
            assert_eq!(field.native, field.wire, "{}", layout.name);
        }
        let mut ends = layout.fields.iter().map(|f| (f.native, f.native + f.native_len(layout.ptr)));
        let mut last = 0;
        assert!(ends.all(|(start, end)| {
            let ok = start >= last;
            last = end;
            ok
        }));
        for cb in [0, 3, 4, 9, layout.native_size - 1, layout.native_size, layout.native_size + 40] {
            let wire = layout.translate(cb, Side::Native);
            assert_eq!(wire, cb.min(layout.wire_size), "{} {cb}", layout.name);
            assert_eq!(layout.translate(wire, Side::Wire), cb.min(layout.native_size));
        }
    }
}

#[test]
fn integers_cross_with_their_sign_and_width() {
    assert_eq!(read_int(&(-5i32).to_le_bytes()), -5);
    assert_eq!(read_int(&(-5i64).to_le_bytes()), -5);
    assert_eq!(read_uint(&0xFFFF_FFFFu32.to_le_bytes()), 0xFFFF_FFFF);
    let mut b = [0u8; 4];
    write_uint(&mut b, (-2i64) as u64);
    assert_eq!(i32::from_le_bytes(b), -2);
    for w in [WireArg::Int(-1), WireArg::Payload { offset: 48 }, WireArg::StructSize(88)] {
        let (tag, value) = w.encode();
        assert_eq!(WireArg::decode(tag, value), Ok(w));
    }
    assert!(WireArg::decode(9, 0).is_err());
}

/// What the driver writes comes back; the caller's own pointers stay as they were.
#[test]
fn pointer_fields_are_not_copied_back() {
    let mut c = Convert::new(ACMDM_STREAM_CONVERT, 100, 100);
    let (msg, l1, l2) = c.params();
    // SAFETY: the fixture's live structures.
    assert_eq!(unsafe { isolated(&acm(), msg, l1, l2) }, Ok(0));
    let h = &*c.header;
    assert_eq!(({ h.cb_dst_length_used }, { h.fdw_driver }), (97, 9));
    assert_eq!(({ h.pb_src }, { h.pb_dst }), (c.src.as_mut_ptr(), c.dst.as_mut_ptr()));
    assert_eq!(({ h.pb_prepared_src }, { h.padsh_next }), (c.src.as_mut_ptr(), ptr::null_mut()));

    let mut s = Box::new(StreamOpen(StreamInstance::new(0, true)));
    let (msg, l1, l2) = s.params();
    // SAFETY: as above.
    assert_eq!(unsafe { isolated(&acm(), msg, l1, l2) }, Ok(0));
    let i = &s.0.instance;
    assert_eq!(
        (i.pwfx_src.cast::<u8>(), i.pwfx_dst.cast::<u8>()),
        (s.0.src.as_mut_ptr(), s.0.dst.as_mut_ptr())
    );
    assert_eq!(i.has as usize, 0x4000);
    assert_ne!(i.dw_driver, 0);

    let mut d = compress(true);
    let (msg, l1, l2) = d.params();
    // SAFETY: as above.
    assert_eq!(unsafe { isolated(&vfw(Some(4000)), msg, l1, l2) }, Ok(12));
    assert_eq!((d.ic.output.cast::<u8>(), d.ic.ckid), (d.out.as_mut_ptr(), &raw mut d.ckid));
    assert_eq!(d.flags, 0x102);
}

#[test]
fn copy_back_needs_the_whole_payload() {
    let mut q = 1u32;
    let mut app = Buffer::new(4096);
    // SAFETY: a DWORD.
    let m = unsafe { marshal(&vfw(None), ICM_GETDEFAULTQUALITY, lp(&mut q), 0, app.bytes()) }.unwrap();
    // SAFETY: as above.
    let err = unsafe { copy_back(&m, &app.bytes()[..m.used - 1]) }.unwrap_err();
    assert_eq!(err, MarshalError::PayloadTooSmall { needed: m.used as u64, available: m.used - 1 });
    assert_eq!(q, 1);
}

/// A structure whose size says more than its segment holds is refused by the
/// host: the driver would write past it.
#[test]
fn the_host_refuses_a_structure_larger_than_its_segment() {
    let mut size = AcmDrvStreamSize { cb_struct: 16, fdw_size: 0, cb_src_length: 1, cb_dst_length: 0 };
    let mut instance = StreamInstance::new(0, false);
    let mut app = Buffer::new(4096);
    // SAFETY: live structures.
    let m = unsafe { marshal(&acm(), ACMDM_STREAM_SIZE, instance.lp(), lp(&mut size), app.bytes()) }.unwrap();
    let seg = m.segments.iter().find(|s| s.kind == Kind::Struct(STREAM_SIZE.id)).unwrap();
    let at = seg.offset as usize;
    app.bytes()[at..at + 4].copy_from_slice(&4000u32.to_le_bytes());
    let mut host = Buffer::new(4096);
    host.bytes()[..m.used].copy_from_slice(&app.bytes()[..m.used]);
    assert_eq!(
        rebuild(m.l1, m.l2, host.bytes()),
        Err(MarshalError::BadPayload("a structure's size is larger than its segment"))
    );
}

// ---------------------------------------------------------------------------------
// The other pointer width: structures as a 32-bit host lays them out.
// ---------------------------------------------------------------------------------

/// `ICOPEN` on Win32 (the offsets `drvproc::vfw::layout` asserts on 32-bit targets).
static IC_OPEN_32: Layout = Layout {
    id: 2,
    name: "ICOPEN",
    native_size: 36,
    wire_size: 56,
    size_in: SizeIn::Field0,
    ptr: 4,
    fields: &[
        SIZE0,
        b(4, 4, 16),
        f(20, 24, Ty::SWord),
        f(24, 32, Ty::Null),
        f(28, 40, Ty::Null),
        b(32, 48, 4),
    ],
};

/// `ACMDRVSTREAMHEADER` on Win32, packed (the offsets `drvproc::acm::layout` asserts).
static HEADER_32: Layout = Layout {
    id: 11,
    name: "ACMDRVSTREAMHEADER",
    native_size: 84,
    wire_size: 124,
    size_in: SizeIn::Field0,
    ptr: 4,
    fields: &[
        SIZE0,
        b(4, 4, 4),
        f(8, 8, Ty::Word),
        f(12, 16, Ty::Ptr(Child::Text)),
        b(16, 24, 8),
        f(24, 32, Ty::Word),
        f(28, 40, Ty::Ptr(Child::Text)),
        b(32, 48, 8),
        f(40, 56, Ty::Word),
        b(44, 64, 4),
        f(48, 68, Ty::Null),
        b(52, 76, 4),
        f(56, 80, Ty::Word),
        b(60, 88, 4),
        f(64, 92, Ty::Word),
        f(68, 100, Ty::Null),
        b(72, 108, 4),
        f(76, 112, Ty::Null),
        b(80, 120, 4),
    ],
};

fn u32_le(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

/// What a 32-bit host does with a 64-bit application's `ICOPEN`: the size becomes
/// 36, `dwError` moves from 24 to 20 as a 32-bit value, the reserved pointers are
/// NULL; the driver's `dwError` comes back sign-extended into the 64-bit field.
#[test]
fn icopen_between_pointer_widths() {
    let mut open = zeroed::<IcOpen>();
    open.size = 56;
    open.fcc_type = 0x1111_1111;
    open.flags = 2;
    open.error = -7;
    open.v1_reserved = 0x5555 as *mut _;
    open.dev_node = 99;
    let app = masked(&*open, &IC_OPEN);
    let mut wire = [0u8; 56];
    IC_OPEN.convert(&app, Side::Native, &mut wire, |_, _| Ok(Some(WIRE_NULL))).unwrap();
    let mut host = [0xEEu8; 36];
    IC_OPEN_32.convert(&wire, Side::Wire, &mut host, |_, _| Ok(Some(0))).unwrap();
    assert_eq!([u32_le(&host, 0), u32_le(&host, 4), u32_le(&host, 16)], [36, 0x1111_1111, 2]);
    assert_eq!(
        (u32_le(&host, 20) as i32, u32_le(&host, 24), u32_le(&host, 28), u32_le(&host, 32)),
        (-7, 0, 0, 99)
    );
    // The driver refuses with its error; finish, then the copy back.
    host[20..24].copy_from_slice(&(-12i32).to_le_bytes());
    let mut back = wire;
    IC_OPEN_32.convert(&host, Side::Native, &mut back, |_, _| Ok(Some(WIRE_NULL))).unwrap();
    let mut caller = app.clone();
    IC_OPEN.apply_wire(&back, &mut caller).unwrap();
    let mut expected = app;
    expected[24..32].copy_from_slice(&(-12i64).to_le_bytes());
    assert_eq!(caller, expected);
    // Sizes: whole to whole, and a size ending in padding does not reach the next field.
    assert_eq!((IC_OPEN_32.translate(56, Side::Wire), IC_OPEN_32.translate(36, Side::Native)), (36, 56));
    assert_eq!(IC_OPEN_32.translate(24, Side::Wire), 20, "dwError (wire 24..32) is not covered");
    assert_eq!(IC_OPEN_32.translate(28, Side::Wire), 24, "half of dwError: the 32-bit field");
    assert_eq!(IC_OPEN_32.translate(22, Side::Native), 26);
}

/// `ACMDRVSTREAMHEADER` from wire to a 32-bit host and back: the fields move, the
/// pointers become the host's 32-bit addresses, pointer-sized integers are cut to
/// 32 bits and come back zero-extended.
#[test]
fn stream_header_between_pointer_widths() {
    let mut wire = [0u8; 124];
    wire[0..4].copy_from_slice(&124u32.to_le_bytes());
    wire[8..16].copy_from_slice(&0x1_2345_6789u64.to_le_bytes()); // dwUser
    wire[16..24].copy_from_slice(&0x200u64.to_le_bytes()); // pbSrc: offset 0x200
    wire[24..28].copy_from_slice(&4000u32.to_le_bytes());
    wire[40..48].copy_from_slice(&0x1200u64.to_le_bytes()); // pbDst
    wire[48..52].copy_from_slice(&2000u32.to_le_bytes());
    wire[64..68].copy_from_slice(&0x10u32.to_le_bytes()); // fdwConvert
    wire[80..88].copy_from_slice(&0xABCDu64.to_le_bytes()); // dwDriver
    wire[120..124].copy_from_slice(&77u32.to_le_bytes());
    let mut host = [0u8; 84];
    HEADER_32
        .convert(&wire, Side::Wire, &mut host, |index, v| {
            Ok(Some(if matches!(HEADER_32.fields[index].ty, Ty::Null) { 0 } else { 0x4000_0000 + v }))
        })
        .unwrap();
    let fields = [0, 8, 12, 16, 28, 32, 44, 56, 80].map(|at| u32_le(&host, at));
    assert_eq!(fields, [84, 0x2345_6789, 0x4000_0200, 4000, 0x4000_1200, 2000, 0x10, 0xABCD, 77]);
    // The driver reports what it used and keeps a 32-bit value.
    host[20..24].copy_from_slice(&3999u32.to_le_bytes());
    host[36..40].copy_from_slice(&1999u32.to_le_bytes());
    host[56..60].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
    let mut back = [0u8; 124];
    HEADER_32.convert(&host, Side::Native, &mut back, |_, _| Ok(Some(WIRE_NULL))).unwrap();
    assert_eq!([u32_le(&back, 0), u32_le(&back, 28), u32_le(&back, 52)], [124, 3999, 1999]);
    assert_eq!(u64::from_le_bytes(back[80..88].try_into().unwrap()), 0xFFFF_FFF0);
    assert_eq!(u64::from_le_bytes(back[100..108].try_into().unwrap()), WIRE_NULL);
    assert_eq!(HEADER_32.translate(124, Side::Wire), 84);
}
