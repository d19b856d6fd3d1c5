//! What the parameters of a message point to, carried to a driver in another
//! process and back.
//!
//! A driver hosted in another process cannot follow the application's pointers.
//! For each message the manager sends, this module says what `lParam1` and
//! `lParam2` are ([the table](#the-message-table)): integers, which travel as they
//! are, or pointers, whose bytes are copied into a *payload* — a byte buffer the
//! transport shares with the host process. The host rebuilds pointers into its own
//! copy of the payload, calls the driver, and after the call the bytes the driver
//! may write (`Out`/`InOut`) are copied back into the application's memory.
//!
//! # The payload
//!
//! The payload holds only fixed-width, little-endian data and offsets, never
//! addresses, so a 32-bit host process can serve a 64-bit application and the
//! other way round:
//!
//! * a table at offset 0: `magic u32`, `count u32`, then per segment
//!   `offset u32, len u32, dir u32, kind u32, which u32, flags u32` ([`Segment`]);
//! * the segments, each at a multiple of [`PAYLOAD_ALIGN`] from the payload's
//!   start, in the order the table lists them.
//!
//! A structure travels in its *wire* form: the layout the same declaration has on
//! Win64 (every pointer and pointer-sized field 8 bytes), with pointer fields
//! holding the payload offset of the segment they point to ([`WIRE_NULL`] for
//! NULL) and its size field (`cbStruct`, `dwSize`, `dwDCISize`) counting wire
//! bytes. Each side converts between its native layout (`drvproc::acm::layout`,
//! `drvproc::vfw::layout`, `drvproc::config_info`) and the wire form with one
//! table of fields per structure, so neither side needs to know the other's
//! pointer width. On a 64-bit build the two forms coincide except for the pointer
//! values. Bulk buffers (a stream's source and destination, a frame's pixels) are
//! segments of their own ([`Kind::Bulk`]), with their lengths, so the transport
//! can see where the large copies are.
//!
//! # Directions
//!
//! `In` bytes are copied into the payload and never back. `InOut` bytes are
//! copied in and back. `Out` bytes are not copied in: small ones arrive zeroed,
//! bulk ones hold whatever the payload held (the driver is to write them), and
//! after the call as many are copied back as the message's contract says the
//! driver wrote (all of them, `cbDstLengthUsed`, `biSizeImage`, or the format's
//! own length). Pointer fields inside structures are never copied back: a driver
//! does not repoint the caller's structures.
//!
//! # What a driver sees differently
//!
//! * A size field larger than the structure it sizes (`cbStruct` beyond
//!   `sizeof`) arrives as the structure's own size: the bytes past the known
//!   structure are not carried.
//! * Pointers no contract lets a driver follow — `ICOPEN`'s reserved ones,
//!   msacm32's `padshNext`, `pbPreparedSrc`/`pbPreparedDst` — arrive NULL.
//! * `Out` buffers do not hold the caller's old bytes (see above).
//! * Strings are cut at [`drvproc::wide::MAX_WIDE_LEN`] units, as the manager's
//!   own readers cut them.
//!
//! # Callback targets in structures
//!
//! A field that holds a callback target the application hands the driver
//! (`ACMDRVSTREAMINSTANCE`'s `dwCallback`, which an asynchronous codec notifies)
//! travels as the integer it is, and [`Marshalled::targets`] lists its value: the
//! application side lets a hosted driver's `DCB_FUNCTION` callback name only values
//! it gave the driver (see `remote`). Function pointers a driver would *call*
//! itself — VfW's `ICCOMPRESSFRAMES` `GetData`/`PutData` (`ICM_COMPRESS_FRAMES_INFO`)
//! and `ICSETSTATUSPROC`'s `Status` (`ICM_SET_STATUS_PROC`) — name code of the
//! application that no driver in another process can run, so those messages are
//! not in the table and are refused when their parameters are not 0.
//!
//! # The message table
//!
//! | message | `lParam1` | `lParam2` |
//! |---|---|---|
//! | `DRV_LOAD`, `DRV_ENABLE`, `DRV_DISABLE`, `DRV_FREE`, `DRV_CLOSE`, `DRV_QUERYCONFIGURE`, `DRV_REMOVE`, `DRV_EXITSESSION`, `DRV_POWER` | integer | integer |
//! | `DRV_OPEN` | args: NUL-terminated UTF-16 or NULL, in | NULL, or by class `ACMDRVOPENDESCW` / `ICOPEN`, in-out (`dwError`) |
//! | `DRV_CONFIGURE`, `DRV_INSTALL` | integer (window) | NULL or `DRVCONFIGINFO` (packed or aligned, by `dwDCISize`) with its two strings, in |
//! | ACM `ACMDM_DRIVER_DETAILS`, `ACMDM_FORMATTAG_DETAILS` | the details structure (`cbStruct`), in-out | integer |
//! | ACM `ACMDM_FORMAT_DETAILS` | `ACMFORMATDETAILSW`, in-out; `pwfx` (`cbwfx` bytes), in-out | integer |
//! | ACM `ACMDM_FORMAT_SUGGEST` | `ACMDRVFORMATSUGGEST`, in; `pwfxSrc` (`cbwfxSrc`), in; `pwfxDst` (`cbwfxDst`), in-out | integer |
//! | ACM `ACMDM_STREAM_OPEN` | `ACMDRVSTREAMINSTANCE`, in-out (`fdwDriver`, `dwDriver`); its formats (by their `cbSize`) and filter (by its `cbStruct`), in | integer |
//! | ACM `ACMDM_STREAM_CLOSE`, `ACMDM_STREAM_RESET` | `ACMDRVSTREAMINSTANCE` as above, in | integer |
//! | ACM `ACMDM_STREAM_SIZE` | `ACMDRVSTREAMINSTANCE`, in | `ACMDRVSTREAMSIZE`, in-out |
//! | ACM `ACMDM_STREAM_CONVERT` | `ACMDRVSTREAMINSTANCE`, in | `ACMDRVSTREAMHEADER`, in-out; `pbSrc` (`cbSrcLength`), bulk in; `pbDst` (`cbDstLength`), bulk out, `cbDstLengthUsed` bytes back |
//! | ACM `ACMDM_STREAM_PREPARE`, `_UNPREPARE`, `_UPDATE` | `ACMDRVSTREAMINSTANCE`, in | `ACMDRVSTREAMHEADER` as above, nothing of `pbDst` back |
//! | VfW `ICM_GETINFO` | NULL or `lParam2` bytes (`ICINFO`), in-out | integer (size) |
//! | VfW `ICM_GETDEFAULTQUALITY`, `ICM_GETQUALITY` | NULL or a `DWORD`, in-out | integer |
//! | VfW `ICM_GETSTATE` / `ICM_SETSTATE` | NULL or `lParam2` bytes, out / in | integer (size) |
//! | VfW `ICM_CONFIGURE`, `ICM_ABOUT`, `ICM_COMPRESS_END`, `ICM_DECOMPRESS_END` | integer | integer |
//! | VfW `ICM_COMPRESS_QUERY`, `_BEGIN`, `_GET_SIZE`, `ICM_DECOMPRESS_QUERY`, `_BEGIN` | `BITMAPINFO` (header and colour table), in | NULL or `BITMAPINFO`, in |
//! | VfW `ICM_COMPRESS_GET_FORMAT`, `ICM_DECOMPRESS_GET_FORMAT` | `BITMAPINFO`, in | NULL, or a format buffer, out ([`MAX_BITMAP_FORMAT`] bytes, the written format's length back) |
//! | VfW `ICM_COMPRESS` | `ICCOMPRESS`, in; formats in (`lpbiOutput` in-out), `lpInput`/`lpPrev` bulk in (the input format's image size), `lpOutput` bulk out ([`Context::compress_capacity`] bytes, `biSizeImage` back), `lpckid`/`lpdwFlags` in-out | the structure's size |
//! | VfW `ICM_DECOMPRESS` | `ICDECOMPRESS`, in; `lpbiInput` in, `lpInput` bulk in (its image size), `lpbiOutput` in-out, `lpOutput` bulk in-out (its image size) | the structure's size |
//!
//! ACM messages are known only for [`DriverClass::Acm`] and VfW ones only for
//! [`DriverClass::Icm`]: both live in the range of driver-defined messages, where
//! another driver's message of the same number means something else. For a
//! driver of no known class, a `DRV_OPEN` whose `lParam2` is not NULL is read
//! only as its opener said it is (`open_param`): a number travels as it is, an
//! `ACMDRVOPENDESCW` or `ICOPEN` is copied (and the hosted module learns its class
//! from it); unsaid, it is refused ([`MarshalError::UnknownOpenParam`]) without
//! being read: `OpenDriver`'s `lParam2` may be an integer the driver never
//! dereferences as well as an MCI driver's `MCI_OPEN_DRIVER_PARMSW` or a private
//! structure, and nothing in the value tells them apart.
//!
//! Any other message (driver-defined ones from `DRV_USER`, and system ones not
//! listed) is refused by [`marshal`] when either parameter is not 0
//! ([`MarshalError::Undescribed`]): an integer that may be an address is never
//! forwarded. Its sender describes the parameters with [`Arg`] and
//! [`marshal_args`] instead. Two zero parameters carry nothing to misread and
//! pass as integers.
//!
//! # What is `unsafe`
//!
//! Reading and writing the application's memory through the parameters of a
//! known message ([`marshal`], [`copy_back`]): the caller vouches that they are
//! what the message's contract says. All of those accesses are in the `caller`
//! section below. Everything else — the typed [`Arg`] path and the host side
//! ([`rebuild`], [`finish`]), which only touch the payload slice — is safe.

// The channel and the host process build on this module; until they are in,
// only its tests use it.
#![cfg_attr(not(test), allow(dead_code))]

use std::mem::{offset_of, size_of};

use super::open_param::OpenParam;
use drvproc::DriverClass;
use drvproc::acm::consts::{
    ACMDM_DRIVER_DETAILS, ACMDM_FORMAT_DETAILS, ACMDM_FORMAT_SUGGEST, ACMDM_FORMATTAG_DETAILS,
    ACMDM_STREAM_CLOSE, ACMDM_STREAM_CONVERT, ACMDM_STREAM_OPEN, ACMDM_STREAM_PREPARE, ACMDM_STREAM_RESET,
    ACMDM_STREAM_SIZE, ACMDM_STREAM_UNPREPARE, ACMDM_STREAM_UPDATE, WAVE_FORMAT_PCM,
};
use drvproc::acm::format::WAVEFORMATEX_SIZE;
use drvproc::acm::layout::{
    AcmDriverDetailsW, AcmDrvFormatSuggest, AcmDrvOpenDescW, AcmDrvStreamHeader, AcmDrvStreamInstance,
    AcmFormatDetailsW, AcmFormatTagDetailsW,
};
use drvproc::config_info::{DRVCONFIGINFO_NATURAL_SIZE, DRVCONFIGINFO_SIZE, DrvConfigInfo};
use drvproc::consts::{
    DRV_CLOSE, DRV_CONFIGURE, DRV_DISABLE, DRV_ENABLE, DRV_EXITSESSION, DRV_FREE, DRV_INSTALL, DRV_LOAD,
    DRV_OPEN, DRV_POWER, DRV_QUERYCONFIGURE, DRV_REMOVE,
};
use drvproc::types::{LParam, Msg};
use drvproc::vfw::consts::{
    ICM_ABOUT, ICM_COMPRESS, ICM_COMPRESS_BEGIN, ICM_COMPRESS_END, ICM_COMPRESS_GET_FORMAT,
    ICM_COMPRESS_GET_SIZE, ICM_COMPRESS_QUERY, ICM_CONFIGURE, ICM_DECOMPRESS, ICM_DECOMPRESS_BEGIN,
    ICM_DECOMPRESS_END, ICM_DECOMPRESS_GET_FORMAT, ICM_DECOMPRESS_QUERY, ICM_GETDEFAULTQUALITY, ICM_GETINFO,
    ICM_GETQUALITY, ICM_GETSTATE, ICM_SETSTATE,
};
use drvproc::vfw::format::{
    BITMAPINFOHEADER_SIZE, BitmapFormat, BitmapFormatError, MAX_COLOURS, MAX_HEADER_SIZE,
};
use drvproc::vfw::layout::{BitmapInfoHeader, IcCompress, IcDecompress, IcOpen};
/// Every segment starts at a multiple of this many bytes from the payload's
/// start, and the host's copy of the payload must start at such an address, so
/// that the structures it rebuilds are aligned for its driver.
pub(crate) const PAYLOAD_ALIGN: usize = 16;

/// A NULL pointer field in a structure's wire form.
pub(crate) const WIRE_NULL: u64 = u64::MAX;

/// The largest `BITMAPINFO` a driver can write into a `*_GET_FORMAT` buffer: the
/// largest header and a full colour table.
pub(crate) const MAX_BITMAP_FORMAT: usize = MAX_HEADER_SIZE + MAX_COLOURS as usize * 4;

/// The first word of a payload ("DPMS").
const MAGIC: u32 = u32::from_le_bytes(*b"DPMS");
/// The most segments one message needs (`ICM_COMPRESS`: the structure and eight).
const MAX_SEGMENTS: usize = 16;
/// Bytes of one segment record in the payload's table.
const RECORD_SIZE: usize = 24;
/// A native pointer or pointer-sized field.
const PTR: usize = size_of::<usize>();

/// Which way a segment's bytes travel.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dir {
    /// Read by the driver only: copied in.
    In = 1,
    /// Written by the driver only: copied back.
    Out = 2,
    /// Read and written: copied in and back.
    InOut = 3,
}

impl Dir {
    fn copies_in(self) -> bool {
        matches!(self, Dir::In | Dir::InOut)
    }

    fn copies_back(self) -> bool {
        matches!(self, Dir::Out | Dir::InOut)
    }

    fn from_u32(v: u32) -> Option<Dir> {
        [Dir::In, Dir::Out, Dir::InOut].into_iter().find(|d| *d as u32 == v)
    }
}

impl Segment {
    /// Its bytes in the payload.
    pub(crate) fn range(&self) -> std::ops::Range<usize> {
        self.offset as usize..self.offset as usize + self.len as usize
    }
}

/// Which parameter a segment belongs to (directly, or through a structure).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Which {
    L1 = 1,
    L2 = 2,
}

/// What a segment holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A structure in its wire form, with the id of its field table.
    Struct(u32),
    /// A NUL-terminated UTF-16 string.
    Text,
    /// A `WAVEFORMATEX` or `BITMAPINFO`.
    Format,
    /// Other bytes.
    Bytes,
    /// A large data buffer (stream data, pixels).
    Bulk,
}

impl Kind {
    fn code(self) -> u32 {
        match self {
            Kind::Struct(id) => 0x100 | id,
            Kind::Text => 1,
            Kind::Format => 2,
            Kind::Bytes => 3,
            Kind::Bulk => 4,
        }
    }

    fn from_code(code: u32) -> Option<Kind> {
        match code {
            1 => Some(Kind::Text),
            2 => Some(Kind::Format),
            3 => Some(Kind::Bytes),
            4 => Some(Kind::Bulk),
            c if c & !0xFF == 0x100 && layout_by_id(c & 0xFF).is_some() => Some(Kind::Struct(c & 0xFF)),
            _ => None,
        }
    }
}

/// One region of the payload: where, how long, which way, what, and for which
/// parameter (`nested` when a structure of that parameter points to it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Segment {
    pub offset: u32,
    pub len: u32,
    pub dir: Dir,
    pub kind: Kind,
    pub which: Which,
    pub nested: bool,
}

/// A parameter as it crosses: fixed-width, no address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WireArg {
    /// An integer, passed as it is.
    Int(i64),
    /// A pointer to the segment at this payload offset.
    Payload { offset: u32 },
    /// The size of `lParam1`'s structure (`ICM_COMPRESS`, `ICM_DECOMPRESS`), in
    /// wire bytes; the host passes its own native size for it.
    StructSize(i64),
}

impl WireArg {
    /// As two fixed-width fields (tag, value) for a protocol frame.
    pub(crate) fn encode(self) -> (u32, i64) {
        match self {
            WireArg::Int(v) => (0, v),
            WireArg::Payload { offset } => (1, i64::from(offset)),
            WireArg::StructSize(v) => (2, v),
        }
    }

    /// The inverse of [`encode`](Self::encode).
    pub(crate) fn decode(tag: u32, value: i64) -> Result<WireArg, MarshalError> {
        match tag {
            0 => Ok(WireArg::Int(value)),
            1 => u32::try_from(value)
                .map(|offset| WireArg::Payload { offset })
                .map_err(|_| MarshalError::BadPayload("a parameter's offset is out of range")),
            2 => Ok(WireArg::StructSize(value)),
            _ => Err(MarshalError::BadPayload("unknown parameter tag")),
        }
    }
}

/// A parameter of a message the table does not know, as its sender describes it.
pub(crate) use crate::params::Param as Arg;

/// What the marshaller needs to know beyond the message.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Context {
    /// The class of the driver, which decides whether ACM or VfW messages are
    /// known (see the module's table) and how `DRV_OPEN`'s `lParam2` is read.
    pub class: DriverClass,
    /// The bytes `ICCOMPRESS::lpOutput` holds: the instance's last
    /// `ICM_COMPRESS_GET_SIZE` answer (what a VfW client allocates), which the
    /// structure itself does not carry.
    pub compress_capacity: Option<u32>,
}

/// Why a message cannot be carried.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum MarshalError {
    #[error(
        "message {name} ({msg:#06x}) has no known parameter layout and lParam1/lParam2 are not 0: describe \
         them (integer, input buffer, output buffer or in-out buffer) to send it to an isolated driver; \
         an integer that may be an address is never forwarded"
    )]
    Undescribed { msg: Msg, name: String },
    #[error("the parameters need a {needed}-byte payload, the channel holds {available}")]
    PayloadTooSmall { needed: u64, available: usize },
    #[error("a parameter of {len} bytes is more than a payload can address")]
    TooLong { len: u64 },
    #[error("DRVCONFIGINFO has dwDCISize {0}, which is neither the packed nor the aligned size")]
    BadConfigInfo(u32),
    #[error(
        "DRV_OPEN's lParam2 is not NULL, and what it is cannot be known for a driver of class {class:?}: \
         an isolated driver is opened with lParam2 = 0, or as an ACM or VfW codec"
    )]
    UnknownOpenParam { class: DriverClass },
    #[error("ICM_COMPRESS: the output buffer's capacity (the ICM_COMPRESS_GET_SIZE answer) is not known")]
    NoCompressCapacity,
    #[error("{what}: {error}")]
    Bitmap { what: &'static str, error: BitmapFormatError },
    #[error("{what} is {len} bytes, a negative size")]
    NegativeSize { what: &'static str, len: i64 },
    #[error("the payload does not start on a {PAYLOAD_ALIGN}-byte boundary")]
    Misaligned,
    #[error("the payload is damaged: {0}")]
    BadPayload(&'static str),
}

// ---------------------------------------------------------------------------------
// Structures: one table of fields per structure, native and wire offsets.
// ---------------------------------------------------------------------------------

/// How many bytes a length or "used" field says, and what comes back.
#[derive(Clone, Copy, Debug)]
enum Back {
    /// The whole segment.
    All,
    /// Nothing (the driver is not to write it in this message).
    Nothing,
    /// The `u32` at this wire offset of the structure holding the pointer.
    UsedAtWire(usize),
}

/// What a pointer field points to.
#[derive(Clone, Copy, Debug)]
enum Child {
    /// A NUL-terminated UTF-16 string, in.
    Text,
    /// Bytes as long as the `u32` at native offset `len_at` of the structure says.
    Sized { len_at: usize, dir: Dir, kind: Kind, back: Back },
    /// A `WAVEFORMATEX` sized by itself (18 bytes for PCM, else 18 + `cbSize`), in.
    Wave,
    /// A structure sized by its leading `cbStruct` (`WAVEFILTER`), in.
    SelfSized,
    /// A `BITMAPINFO`: header and colour table.
    Bitmap(Dir),
    /// An image in the format the sibling pointer at native offset `format_at` points to.
    Image { format_at: usize, dir: Dir, back: Back },
    /// `ICCOMPRESS::lpOutput`: [`Context::compress_capacity`] bytes.
    CompressOutput { size_image_of: usize },
    /// A `DWORD`, in-out.
    Dword,
}

/// One field: its native and wire offsets and what it is.
#[derive(Clone, Copy, Debug)]
struct Field {
    native: usize,
    wire: usize,
    ty: Ty,
}

#[derive(Clone, Copy, Debug)]
enum Ty {
    /// The structure's own size (`u32`), counted in the layout of each side.
    Size,
    /// Bytes identical on both sides.
    Bytes(usize),
    /// A pointer-sized unsigned integer or handle.
    Word,
    /// A pointer-sized signed integer (`LRESULT`).
    SWord,
    /// A callback target the application hands the driver (`dwCallback`): carried
    /// exactly as a [`Ty::Word`], and its value, as the application packed it, is
    /// kept in [`Marshalled::targets`]: a hosted driver's `DCB_FUNCTION` callback
    /// may name only a value the application gave it.
    Target,
    /// A pointer the host rebuilds.
    Ptr(Child),
    /// A pointer nobody may follow (reserved, or the manager's own): NULL on the host.
    Null,
}

impl Field {
    /// Its length in a native layout whose pointers are `ptr` bytes.
    fn native_len(&self, ptr: usize) -> usize {
        match self.ty {
            Ty::Size => 4,
            Ty::Bytes(n) => n,
            Ty::Word | Ty::SWord | Ty::Target | Ty::Ptr(_) | Ty::Null => ptr,
        }
    }

    fn wire_len(&self) -> usize {
        match self.ty {
            Ty::Size => 4,
            Ty::Bytes(n) => n,
            Ty::Word | Ty::SWord | Ty::Target | Ty::Ptr(_) | Ty::Null => 8,
        }
    }
}

/// Where a structure's size comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SizeIn {
    /// Its first field.
    Field0,
    /// The other parameter of the message.
    OtherParam,
}

/// A structure's field table.
#[derive(Debug)]
pub(crate) struct Layout {
    id: u32,
    name: &'static str,
    native_size: usize,
    wire_size: usize,
    size_in: SizeIn,
    /// The native pointer width: this build's (a table for the other width exists
    /// only in tests, to check the conversions between widths).
    ptr: usize,
    /// In ascending order of both offsets.
    fields: &'static [Field],
}

const fn f(native: usize, wire: usize, ty: Ty) -> Field {
    Field { native, wire, ty }
}

const fn b(native: usize, wire: usize, n: usize) -> Field {
    Field { native, wire, ty: Ty::Bytes(n) }
}

const SIZE0: Field = Field { native: 0, wire: 0, ty: Ty::Size };

static OPEN_DESC: Layout = Layout {
    id: 1,
    name: "ACMDRVOPENDESCW",
    native_size: size_of::<AcmDrvOpenDescW>(),
    wire_size: 48,
    size_in: SizeIn::Field0,
    ptr: PTR,
    fields: &[
        SIZE0,
        b(offset_of!(AcmDrvOpenDescW, fcc_type), 4, 20),
        f(offset_of!(AcmDrvOpenDescW, section_name), 24, Ty::Ptr(Child::Text)),
        f(offset_of!(AcmDrvOpenDescW, alias_name), 32, Ty::Ptr(Child::Text)),
        b(offset_of!(AcmDrvOpenDescW, dev_node), 40, 4),
    ],
};

static IC_OPEN: Layout = Layout {
    id: 2,
    name: "ICOPEN",
    native_size: size_of::<IcOpen>(),
    wire_size: 56,
    size_in: SizeIn::Field0,
    ptr: PTR,
    fields: &[
        SIZE0,
        b(offset_of!(IcOpen, fcc_type), 4, 16),
        f(offset_of!(IcOpen, error), 24, Ty::SWord),
        f(offset_of!(IcOpen, v1_reserved), 32, Ty::Null),
        f(offset_of!(IcOpen, v2_reserved), 40, Ty::Null),
        b(offset_of!(IcOpen, dev_node), 48, 4),
    ],
};

/// `DRVCONFIGINFO` as `mmsystem.h` packs it (wire: the Win64 packed layout, 20 bytes).
static CONFIG_PACKED: Layout = Layout {
    id: 3,
    name: "DRVCONFIGINFO",
    native_size: size_of::<DrvConfigInfo>(),
    wire_size: 20,
    size_in: SizeIn::Field0,
    ptr: PTR,
    fields: &[
        SIZE0,
        f(offset_of!(DrvConfigInfo, lpsz_dci_section_name), 4, Ty::Ptr(Child::Text)),
        f(offset_of!(DrvConfigInfo, lpsz_dci_alias_name), 12, Ty::Ptr(Child::Text)),
    ],
};

/// `DRVCONFIGINFO` naturally aligned (wire: the Win64 aligned layout, 24 bytes).
static CONFIG_NATURAL: Layout = Layout {
    id: 4,
    name: "DRVCONFIGINFO",
    native_size: 3 * PTR,
    wire_size: 24,
    size_in: SizeIn::Field0,
    ptr: PTR,
    fields: &[SIZE0, f(PTR, 8, Ty::Ptr(Child::Text)), f(2 * PTR, 16, Ty::Ptr(Child::Text))],
};

static DRIVER_DETAILS: Layout = Layout {
    id: 5,
    name: "ACMDRIVERDETAILSW",
    native_size: size_of::<AcmDriverDetailsW>(),
    wire_size: 1804,
    size_in: SizeIn::Field0,
    ptr: PTR,
    fields: &[
        SIZE0,
        b(offset_of!(AcmDriverDetailsW, fcc_type), 4, 32),
        f(offset_of!(AcmDriverDetailsW, hicon), 36, Ty::Word),
        b(offset_of!(AcmDriverDetailsW, short_name), 44, 1760),
    ],
};

static FORMATTAG_DETAILS: Layout = Layout {
    id: 6,
    name: "ACMFORMATTAGDETAILSW",
    native_size: size_of::<AcmFormatTagDetailsW>(),
    wire_size: 120,
    size_in: SizeIn::Field0,
    ptr: PTR,
    fields: &[SIZE0, b(4, 4, 116)],
};

static FORMAT_DETAILS: Layout = Layout {
    id: 7,
    name: "ACMFORMATDETAILSW",
    native_size: size_of::<AcmFormatDetailsW>(),
    wire_size: 284,
    size_in: SizeIn::Field0,
    ptr: PTR,
    fields: &[
        SIZE0,
        b(offset_of!(AcmFormatDetailsW, format_index), 4, 12),
        f(
            offset_of!(AcmFormatDetailsW, pwfx),
            16,
            Ty::Ptr(Child::Sized {
                len_at: offset_of!(AcmFormatDetailsW, cbwfx),
                dir: Dir::InOut,
                kind: Kind::Format,
                back: Back::All,
            }),
        ),
        b(offset_of!(AcmFormatDetailsW, cbwfx), 24, 4),
        b(offset_of!(AcmFormatDetailsW, format_name), 28, 256),
    ],
};

static FORMAT_SUGGEST: Layout = Layout {
    id: 8,
    name: "ACMDRVFORMATSUGGEST",
    native_size: size_of::<AcmDrvFormatSuggest>(),
    wire_size: 40,
    size_in: SizeIn::Field0,
    ptr: PTR,
    fields: &[
        SIZE0,
        b(offset_of!(AcmDrvFormatSuggest, fdw_suggest), 4, 4),
        f(
            offset_of!(AcmDrvFormatSuggest, pwfx_src),
            8,
            Ty::Ptr(Child::Sized {
                len_at: offset_of!(AcmDrvFormatSuggest, cbwfx_src),
                dir: Dir::In,
                kind: Kind::Format,
                back: Back::Nothing,
            }),
        ),
        b(offset_of!(AcmDrvFormatSuggest, cbwfx_src), 16, 4),
        f(
            offset_of!(AcmDrvFormatSuggest, pwfx_dst),
            24,
            Ty::Ptr(Child::Sized {
                len_at: offset_of!(AcmDrvFormatSuggest, cbwfx_dst),
                dir: Dir::InOut,
                kind: Kind::Format,
                back: Back::All,
            }),
        ),
        b(offset_of!(AcmDrvFormatSuggest, cbwfx_dst), 32, 4),
    ],
};

static STREAM_INSTANCE: Layout = Layout {
    id: 9,
    name: "ACMDRVSTREAMINSTANCE",
    native_size: size_of::<AcmDrvStreamInstance>(),
    wire_size: 72,
    size_in: SizeIn::Field0,
    ptr: PTR,
    fields: &[
        SIZE0,
        f(offset_of!(AcmDrvStreamInstance, pwfx_src), 8, Ty::Ptr(Child::Wave)),
        f(offset_of!(AcmDrvStreamInstance, pwfx_dst), 16, Ty::Ptr(Child::Wave)),
        f(offset_of!(AcmDrvStreamInstance, pwflt), 24, Ty::Ptr(Child::SelfSized)),
        // The opener's callback (`CALLBACK_*` in `fdwOpen`'s high word), which an
        // asynchronous codec notifies with `DriverCallback`.
        f(offset_of!(AcmDrvStreamInstance, callback), 32, Ty::Target),
        f(offset_of!(AcmDrvStreamInstance, instance), 40, Ty::Word),
        b(offset_of!(AcmDrvStreamInstance, fdw_open), 48, 8),
        f(offset_of!(AcmDrvStreamInstance, dw_driver), 56, Ty::Word),
        // HACMSTREAM: msacm32's handle, which a driver passes back, never follows.
        f(offset_of!(AcmDrvStreamInstance, has), 64, Ty::Word),
    ],
};

static STREAM_SIZE: Layout = Layout {
    id: 10,
    name: "ACMDRVSTREAMSIZE",
    native_size: 16,
    wire_size: 16,
    size_in: SizeIn::Field0,
    ptr: PTR,
    fields: &[SIZE0, b(4, 4, 12)],
};

/// The fields of `ACMDRVSTREAMHEADER`, with what comes back of `pbDst`.
macro_rules! stream_header_fields {
    ($dst_back:expr) => {
        &[
            SIZE0,
            b(offset_of!(AcmDrvStreamHeader, fdw_status), 4, 4),
            f(offset_of!(AcmDrvStreamHeader, dw_user), 8, Ty::Word),
            f(
                offset_of!(AcmDrvStreamHeader, pb_src),
                16,
                Ty::Ptr(Child::Sized {
                    len_at: offset_of!(AcmDrvStreamHeader, cb_src_length),
                    dir: Dir::In,
                    kind: Kind::Bulk,
                    back: Back::Nothing,
                }),
            ),
            b(offset_of!(AcmDrvStreamHeader, cb_src_length), 24, 8),
            f(offset_of!(AcmDrvStreamHeader, dw_src_user), 32, Ty::Word),
            f(
                offset_of!(AcmDrvStreamHeader, pb_dst),
                40,
                Ty::Ptr(Child::Sized {
                    len_at: offset_of!(AcmDrvStreamHeader, cb_dst_length),
                    dir: Dir::Out,
                    kind: Kind::Bulk,
                    back: $dst_back,
                }),
            ),
            b(offset_of!(AcmDrvStreamHeader, cb_dst_length), 48, 8),
            f(offset_of!(AcmDrvStreamHeader, dw_dst_user), 56, Ty::Word),
            b(offset_of!(AcmDrvStreamHeader, fdw_convert), 64, 4),
            // msacm32's own list link.
            f(offset_of!(AcmDrvStreamHeader, padsh_next), 68, Ty::Null),
            b(offset_of!(AcmDrvStreamHeader, fdw_driver), 76, 4),
            f(offset_of!(AcmDrvStreamHeader, dw_driver), 80, Ty::Word),
            b(offset_of!(AcmDrvStreamHeader, fdw_prepared), 88, 4),
            f(offset_of!(AcmDrvStreamHeader, dw_prepared), 92, Ty::Word),
            // msacm32's bookkeeping of what it prepared; drivers use pbSrc/pbDst.
            f(offset_of!(AcmDrvStreamHeader, pb_prepared_src), 100, Ty::Null),
            b(offset_of!(AcmDrvStreamHeader, cb_prepared_src_length), 108, 4),
            f(offset_of!(AcmDrvStreamHeader, pb_prepared_dst), 112, Ty::Null),
            b(offset_of!(AcmDrvStreamHeader, cb_prepared_dst_length), 120, 4),
        ]
    };
}

/// `ACMDRVSTREAMHEADER` of `ACMDM_STREAM_CONVERT`: `cbDstLengthUsed` bytes of
/// `pbDst` come back.
static HEADER_CONVERT: Layout = Layout {
    id: 11,
    name: "ACMDRVSTREAMHEADER",
    native_size: size_of::<AcmDrvStreamHeader>(),
    wire_size: 124,
    size_in: SizeIn::Field0,
    ptr: PTR,
    fields: stream_header_fields!(Back::UsedAtWire(52)),
};

/// `ACMDRVSTREAMHEADER` of the prepare, unprepare and update messages, which
/// convert nothing: nothing of `pbDst` comes back.
static HEADER_PREPARE: Layout = Layout {
    id: 12,
    name: "ACMDRVSTREAMHEADER",
    native_size: size_of::<AcmDrvStreamHeader>(),
    wire_size: 124,
    size_in: SizeIn::Field0,
    ptr: PTR,
    fields: stream_header_fields!(Back::Nothing),
};

static IC_COMPRESS: Layout = Layout {
    id: 13,
    name: "ICCOMPRESS",
    native_size: size_of::<IcCompress>(),
    wire_size: 88,
    size_in: SizeIn::OtherParam,
    ptr: PTR,
    fields: &[
        b(offset_of!(IcCompress, flags), 0, 4),
        f(offset_of!(IcCompress, bi_output), 8, Ty::Ptr(Child::Bitmap(Dir::InOut))),
        f(
            offset_of!(IcCompress, output),
            16,
            Ty::Ptr(Child::CompressOutput { size_image_of: offset_of!(IcCompress, bi_output) }),
        ),
        f(offset_of!(IcCompress, bi_input), 24, Ty::Ptr(Child::Bitmap(Dir::In))),
        f(
            offset_of!(IcCompress, input),
            32,
            Ty::Ptr(Child::Image {
                format_at: offset_of!(IcCompress, bi_input),
                dir: Dir::In,
                back: Back::Nothing,
            }),
        ),
        f(offset_of!(IcCompress, ckid), 40, Ty::Ptr(Child::Dword)),
        f(offset_of!(IcCompress, dw_flags), 48, Ty::Ptr(Child::Dword)),
        b(offset_of!(IcCompress, frame_num), 56, 12),
        f(offset_of!(IcCompress, bi_prev), 72, Ty::Ptr(Child::Bitmap(Dir::In))),
        // The previous frame has the input's format (msvfw32 passes the same one).
        f(
            offset_of!(IcCompress, prev),
            80,
            Ty::Ptr(Child::Image {
                format_at: offset_of!(IcCompress, bi_input),
                dir: Dir::In,
                back: Back::Nothing,
            }),
        ),
    ],
};

static IC_DECOMPRESS: Layout = Layout {
    id: 14,
    name: "ICDECOMPRESS",
    native_size: size_of::<IcDecompress>(),
    wire_size: 48,
    size_in: SizeIn::OtherParam,
    ptr: PTR,
    fields: &[
        b(offset_of!(IcDecompress, flags), 0, 4),
        f(offset_of!(IcDecompress, bi_input), 8, Ty::Ptr(Child::Bitmap(Dir::In))),
        f(
            offset_of!(IcDecompress, input),
            16,
            Ty::Ptr(Child::Image {
                format_at: offset_of!(IcDecompress, bi_input),
                dir: Dir::In,
                back: Back::Nothing,
            }),
        ),
        f(offset_of!(IcDecompress, bi_output), 24, Ty::Ptr(Child::Bitmap(Dir::InOut))),
        // In-out: a delta frame leaves the pixels it skips as they were.
        f(
            offset_of!(IcDecompress, output),
            32,
            Ty::Ptr(Child::Image {
                format_at: offset_of!(IcDecompress, bi_output),
                dir: Dir::InOut,
                back: Back::All,
            }),
        ),
        b(offset_of!(IcDecompress, ckid), 40, 4),
    ],
};

static LAYOUTS: [&Layout; 14] = [
    &OPEN_DESC,
    &IC_OPEN,
    &CONFIG_PACKED,
    &CONFIG_NATURAL,
    &DRIVER_DETAILS,
    &FORMATTAG_DETAILS,
    &FORMAT_DETAILS,
    &FORMAT_SUGGEST,
    &STREAM_INSTANCE,
    &STREAM_SIZE,
    &HEADER_CONVERT,
    &HEADER_PREPARE,
    &IC_COMPRESS,
    &IC_DECOMPRESS,
];

fn layout_by_id(id: u32) -> Option<&'static Layout> {
    LAYOUTS.iter().copied().find(|l| l.id == id)
}

/// Which side a size or offset counts in.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Native,
    Wire,
}

impl Layout {
    fn at(&self, field: &Field, side: Side) -> (usize, usize) {
        match side {
            Side::Native => (field.native, field.native_len(self.ptr)),
            Side::Wire => (field.wire, field.wire_len()),
        }
    }

    /// A structure size of `cb` bytes counted in `from`'s layout, counted in the
    /// other: the whole structure maps to the whole structure, and a shorter one to
    /// the same fields, plus as many bytes of the field it ends in (or of the
    /// padding before it) as the other side has there.
    fn translate(&self, cb: usize, from: Side) -> usize {
        let to = if from == Side::Native { Side::Wire } else { Side::Native };
        let size = |s: Side| if s == Side::Native { self.native_size } else { self.wire_size };
        if cb >= size(from) {
            return size(to);
        }
        // Ends of the last field `cb` covers, on both sides.
        let (mut end_from, mut end_to) = (0, 0);
        for field in self.fields {
            let ((fa, fl), (ta, tl)) = (self.at(field, from), self.at(field, to));
            if fa + fl <= cb {
                (end_from, end_to) = (fa + fl, ta + tl);
            } else if cb > fa {
                return ta + (cb - fa).min(tl);
            } else {
                return end_to + (cb - end_from).min(ta - end_to);
            }
        }
        end_to + (cb - end_from).min(size(to) - end_to)
    }

    /// Rewrites the fields `src` (in `from`'s layout) covers into `dst` (the other
    /// layout), as far as `dst` covers them. `ptr` gives the new value of each
    /// pointer field, `Ptr` and `Null` alike, from its index and old value (`None`:
    /// leave the field alone).
    fn convert(
        &self,
        src: &[u8],
        from: Side,
        dst: &mut [u8],
        mut ptr: impl FnMut(usize, u64) -> Result<Option<u64>, MarshalError>,
    ) -> Result<(), MarshalError> {
        let to = if from == Side::Native { Side::Wire } else { Side::Native };
        for (index, field) in self.fields.iter().enumerate() {
            let (sa, sl) = self.at(field, from);
            let (da, dl) = self.at(field, to);
            if let Ty::Bytes(n) = field.ty {
                // Bytes are the same on both sides: as many as both cover (a structure
                // may end inside a string).
                let n = n.min(src.len().saturating_sub(sa)).min(dst.len().saturating_sub(da));
                if n > 0 {
                    dst[da..da + n].copy_from_slice(&src[sa..sa + n]);
                }
                continue;
            }
            if sa + sl > src.len() || da + dl > dst.len() {
                // An integer the structure's size cuts: its low bytes, as far as both
                // sides cover them (little endian on both).
                if matches!(field.ty, Ty::Word | Ty::SWord | Ty::Target) {
                    let n = sl.min(dl).min(src.len().saturating_sub(sa)).min(dst.len().saturating_sub(da));
                    if n > 0 {
                        dst[da..da + n].copy_from_slice(&src[sa..sa + n]);
                    }
                }
                continue;
            }
            let s = &src[sa..sa + sl];
            let value = match field.ty {
                Ty::Bytes(_) => continue,
                Ty::Size => Some(self.translate(read_uint(s) as usize, from) as u64),
                Ty::Word | Ty::Target => Some(read_uint(s)),
                Ty::SWord => Some(read_int(s) as u64),
                Ty::Ptr(_) | Ty::Null => ptr(index, read_uint(s))?,
            };
            if let Some(v) = value {
                write_uint(&mut dst[da..da + dl], v);
            }
        }
        Ok(())
    }

    /// Writes into `native` (an application's structure, `covered` bytes) what the
    /// driver may have changed in `wire`: every field but the pointers.
    fn apply_wire(&self, wire: &[u8], native: &mut [u8]) -> Result<(), MarshalError> {
        self.convert(wire, Side::Wire, native, |_, _| Ok(None))
    }
}

/// A little-endian unsigned integer of 4 or 8 bytes (native byte order is little
/// endian on every target drvproc builds for, as the wire's is).
fn read_uint(b: &[u8]) -> u64 {
    let mut buf = [0u8; 8];
    buf[..b.len()].copy_from_slice(b);
    u64::from_le_bytes(buf)
}

/// A little-endian signed integer of 4 or 8 bytes, sign-extended.
fn read_int(b: &[u8]) -> i64 {
    let shift = 64 - 8 * b.len() as u32;
    ((read_uint(b) << shift) as i64) >> shift
}

/// Writes the low `dst.len()` bytes of `v`, little endian.
fn write_uint(dst: &mut [u8], v: u64) {
    let n = dst.len();
    dst.copy_from_slice(&v.to_le_bytes()[..n]);
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 4).map(|s| read_uint(s) as u32)
}

// ---------------------------------------------------------------------------------
// The message table.
// ---------------------------------------------------------------------------------

/// What one parameter of a known message is.
#[derive(Clone, Copy, Debug)]
enum Rule {
    Int,
    /// NULL or a NUL-terminated UTF-16 string, in.
    Text,
    /// NULL or a structure.
    Struct(&'static Layout, Dir),
    /// `DRV_OPEN`'s class structure.
    OpenParam,
    /// `DRVCONFIGINFO`.
    ConfigInfo,
    /// NULL or as many bytes as the other parameter says.
    SizedByOther {
        dir: Dir,
    },
    /// NULL or a `DWORD`, in-out.
    Dword,
    /// NULL or a `BITMAPINFO`, in.
    Bitmap,
    /// NULL or a format buffer to fill.
    FormatOut,
    /// The size of the other parameter's structure.
    StructSize,
}

/// The two parameters of `msg` for a driver of `class`, if the table knows it.
fn describe(class: DriverClass, msg: Msg) -> Option<[Rule; 2]> {
    use Rule::*;
    let rules = match msg {
        DRV_LOAD | DRV_ENABLE | DRV_DISABLE | DRV_FREE | DRV_CLOSE | DRV_QUERYCONFIGURE | DRV_REMOVE
        | DRV_EXITSESSION | DRV_POWER => [Int, Int],
        DRV_OPEN => [Text, OpenParam],
        DRV_CONFIGURE | DRV_INSTALL => [Int, ConfigInfo],
        _ => match class {
            DriverClass::Acm => describe_acm(msg)?,
            DriverClass::Icm => describe_vfw(msg)?,
            DriverClass::Generic | DriverClass::Mci => return None,
        },
    };
    Some(rules)
}

fn describe_acm(msg: Msg) -> Option<[Rule; 2]> {
    use Rule::*;
    Some(match msg {
        ACMDM_DRIVER_DETAILS => [Struct(&DRIVER_DETAILS, Dir::InOut), Int],
        ACMDM_FORMATTAG_DETAILS => [Struct(&FORMATTAG_DETAILS, Dir::InOut), Int],
        ACMDM_FORMAT_DETAILS => [Struct(&FORMAT_DETAILS, Dir::InOut), Int],
        ACMDM_FORMAT_SUGGEST => [Struct(&FORMAT_SUGGEST, Dir::In), Int],
        ACMDM_STREAM_OPEN => [Struct(&STREAM_INSTANCE, Dir::InOut), Int],
        ACMDM_STREAM_CLOSE | ACMDM_STREAM_RESET => [Struct(&STREAM_INSTANCE, Dir::In), Int],
        ACMDM_STREAM_SIZE => [Struct(&STREAM_INSTANCE, Dir::In), Struct(&STREAM_SIZE, Dir::InOut)],
        ACMDM_STREAM_CONVERT => [Struct(&STREAM_INSTANCE, Dir::In), Struct(&HEADER_CONVERT, Dir::InOut)],
        ACMDM_STREAM_PREPARE | ACMDM_STREAM_UNPREPARE | ACMDM_STREAM_UPDATE => {
            [Struct(&STREAM_INSTANCE, Dir::In), Struct(&HEADER_PREPARE, Dir::InOut)]
        }
        _ => return None,
    })
}

fn describe_vfw(msg: Msg) -> Option<[Rule; 2]> {
    use Rule::*;
    Some(match msg {
        ICM_GETINFO => [SizedByOther { dir: Dir::InOut }, Int],
        ICM_GETSTATE => [SizedByOther { dir: Dir::Out }, Int],
        ICM_SETSTATE => [SizedByOther { dir: Dir::In }, Int],
        ICM_GETDEFAULTQUALITY | ICM_GETQUALITY => [Dword, Int],
        ICM_CONFIGURE | ICM_ABOUT | ICM_COMPRESS_END | ICM_DECOMPRESS_END => [Int, Int],
        ICM_COMPRESS_QUERY
        | ICM_COMPRESS_BEGIN
        | ICM_COMPRESS_GET_SIZE
        | ICM_DECOMPRESS_QUERY
        | ICM_DECOMPRESS_BEGIN => [Bitmap, Bitmap],
        ICM_COMPRESS_GET_FORMAT | ICM_DECOMPRESS_GET_FORMAT => [Bitmap, FormatOut],
        ICM_COMPRESS => [Struct(&IC_COMPRESS, Dir::In), StructSize],
        ICM_DECOMPRESS => [Struct(&IC_DECOMPRESS, Dir::In), StructSize],
        _ => return None,
    })
}

// ---------------------------------------------------------------------------------
// The application's memory: every read and write through a caller's pointer.
// ---------------------------------------------------------------------------------

mod caller {
    use drvproc::wide::MAX_WIDE_LEN;

    /// The `len` bytes at `addr`.
    ///
    /// # Safety
    /// `addr` points to `len` readable bytes that nothing writes for `'a`.
    pub(super) unsafe fn bytes<'a>(addr: usize, len: usize) -> &'a [u8] {
        if len == 0 {
            return &[];
        }
        // SAFETY: the caller's contract.
        unsafe { std::slice::from_raw_parts(addr as *const u8, len) }
    }

    /// A copy of the `N` bytes at `addr`.
    ///
    /// # Safety
    /// `addr` points to `N` readable bytes.
    pub(super) unsafe fn array<const N: usize>(addr: usize) -> [u8; N] {
        // SAFETY: the caller's contract; an unaligned read of plain bytes.
        unsafe { std::ptr::read_unaligned(addr as *const [u8; N]) }
    }

    /// The units of the NUL-terminated UTF-16 string at `addr`, without the NUL,
    /// at most [`MAX_WIDE_LEN`].
    ///
    /// # Safety
    /// `addr` points to UTF-16 units readable up to a NUL or `MAX_WIDE_LEN` units.
    pub(super) unsafe fn wide_len(addr: usize) -> usize {
        let p = addr as *const u16;
        let mut n = 0;
        // SAFETY: never past the NUL or the cap (the caller's contract); unaligned
        // because a caller's string need not be aligned.
        while n < MAX_WIDE_LEN && unsafe { std::ptr::read_unaligned(p.add(n)) } != 0 {
            n += 1;
        }
        n
    }

    /// Writes `data` at `addr`.
    ///
    /// # Safety
    /// `addr` points to `data.len()` writable bytes, not overlapping `data`.
    pub(super) unsafe fn write(addr: usize, data: &[u8]) {
        if !data.is_empty() {
            // SAFETY: the caller's contract.
            unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), addr as *mut u8, data.len()) };
        }
    }
}

// ---------------------------------------------------------------------------------
// The application's side: planning, packing and copying back.
// ---------------------------------------------------------------------------------

/// Where a segment's bytes come from in the application, and go back to.
#[derive(Debug)]
enum Origin {
    /// A structure at this address, `covered` native bytes of it, with its native
    /// bytes as read and the plan index of each pointer field's target.
    Struct { addr: usize, layout: &'static Layout, native: Vec<u8>, links: Vec<(usize, usize)> },
    /// A string of `units` UTF-16 units at this address.
    Text { addr: usize, units: usize },
    /// Bytes at this address.
    Bytes { addr: usize },
    /// The buffer of an [`Arg`].
    Arg(Which),
}

#[derive(Debug)]
struct Plan {
    seg: Segment,
    origin: Origin,
    /// What comes back, with `SizeImageOf` already resolved to a plan index
    /// ([`Resolved`]).
    back: Resolved,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Resolved {
    All,
    Nothing,
    /// The `u32` at this offset of the segment of this plan index.
    UsedIn {
        plan: usize,
        at: usize,
    },
    /// The length of the `BITMAPINFO` the driver wrote.
    BitmapSpan,
}

/// A message's parameters, packed: what the transport sends (`msg`, `l1`, `l2`
/// and the first `used` bytes of the payload) and what the application side
/// needs to copy the results back.
#[derive(Debug)]
pub(crate) struct Marshalled {
    pub msg: Msg,
    pub l1: WireArg,
    pub l2: WireArg,
    /// Every segment, in payload order (also in the payload's table).
    pub segments: Vec<Segment>,
    /// Bytes of the payload in use.
    pub used: usize,
    /// The values of the callback-target fields ([`Ty::Target`]) of the
    /// structures packed, each read whole (a structure whose size cuts the field
    /// hands over no target).
    pub targets: Vec<u64>,
    plans: Vec<Plan>,
}

struct Planner {
    plans: Vec<Plan>,
}

fn to_len(v: i64, what: &'static str) -> Result<usize, MarshalError> {
    usize::try_from(v).map_err(|_| MarshalError::NegativeSize { what, len: v })
}

fn too_large(len: usize) -> MarshalError {
    MarshalError::TooLong { len: len as u64 }
}

impl Planner {
    fn push(&mut self, seg: Segment, origin: Origin, back: Resolved) -> Result<usize, MarshalError> {
        if self.plans.len() == MAX_SEGMENTS {
            return Err(MarshalError::BadPayload("too many segments"));
        }
        self.plans.push(Plan { seg, origin, back });
        Ok(self.plans.len() - 1)
    }

    fn seg(len: usize, dir: Dir, kind: Kind, which: Which, nested: bool) -> Result<Segment, MarshalError> {
        let len = u32::try_from(len).map_err(|_| too_large(len))?;
        Ok(Segment { offset: 0, len, dir, kind, which, nested })
    }

    /// Plans a string.
    ///
    /// # Safety
    /// `addr` is a NUL-terminated UTF-16 string.
    unsafe fn text(&mut self, addr: usize, which: Which, nested: bool) -> Result<usize, MarshalError> {
        // SAFETY: forwarded contract.
        let units = unsafe { caller::wide_len(addr) };
        let seg = Self::seg((units + 1) * 2, Dir::In, Kind::Text, which, nested)?;
        self.push(seg, Origin::Text { addr, units }, Resolved::Nothing)
    }

    /// Plans the bytes at `addr` that `seg` describes.
    fn bytes(
        &mut self,
        addr: usize,
        seg: Result<Segment, MarshalError>,
        back: Resolved,
    ) -> Result<usize, MarshalError> {
        self.push(seg?, Origin::Bytes { addr }, back)
    }

    /// Plans a `BITMAPINFO` at `addr` (its header and colour table).
    ///
    /// # Safety
    /// `addr` is a `BITMAPINFO` as long as its header says.
    unsafe fn bitmap(
        &mut self,
        addr: usize,
        dir: Dir,
        which: Which,
        nested: bool,
    ) -> Result<usize, MarshalError> {
        // SAFETY: forwarded contract.
        let fixed = unsafe { caller::array::<BITMAPINFOHEADER_SIZE>(addr) };
        let len =
            BitmapFormat::span(&fixed).map_err(|error| MarshalError::Bitmap { what: "BITMAPINFO", error })?;
        let back = if dir.copies_back() { Resolved::All } else { Resolved::Nothing };
        self.bytes(addr, Self::seg(len, dir, Kind::Format, which, nested), back)
    }

    /// Plans a structure at `addr`, then what its pointers point to.
    ///
    /// # Safety
    /// `addr` is the structure `layout` describes, `other` is the message's other
    /// parameter when the structure's size is there, and its pointers are NULL or
    /// point to what the layout says.
    unsafe fn structure(
        &mut self,
        layout: &'static Layout,
        addr: usize,
        other: LParam,
        dir: Dir,
        which: Which,
        ctx: &Context,
    ) -> Result<usize, MarshalError> {
        let cb = match layout.size_in {
            // SAFETY: every such structure starts with its u32 size.
            SizeIn::Field0 => u32::from_le_bytes(unsafe { caller::array::<4>(addr) }) as usize,
            SizeIn::OtherParam => to_len(other as i64, layout.name)?,
        };
        let covered = cb.min(layout.native_size);
        // SAFETY: the structure holds `cb` bytes (its size, the contract), of which
        // the known `covered` are read.
        let native = unsafe { caller::bytes(addr, covered) }.to_vec();
        let seg = Self::seg(layout.translate(cb, Side::Native), dir, Kind::Struct(layout.id), which, false)?;
        let back = if dir.copies_back() { Resolved::All } else { Resolved::Nothing };
        let me =
            self.push(seg, Origin::Struct { addr, layout, native: native.clone(), links: Vec::new() }, back)?;
        // (field index, plan index) of each pointer planned.
        let mut links: Vec<(usize, usize)> = Vec::new();
        for (index, field) in layout.fields.iter().enumerate() {
            let Ty::Ptr(child) = field.ty else { continue };
            let Some(p) = native.get(field.native..field.native + PTR).map(|s| read_uint(s) as usize) else {
                continue;
            };
            if p == 0 {
                continue;
            }
            let len_at = |at: usize| u32_at(&native, at).unwrap_or(0) as usize;
            let planned = match child {
                // SAFETY: the layout's contract for this field.
                Child::Text => unsafe { self.text(p, which, true) }?,
                Child::Sized { len_at: at, dir, kind, back } => {
                    let back = match back {
                        Back::UsedAtWire(w) => Resolved::UsedIn { plan: me, at: w },
                        Back::All => Resolved::All,
                        Back::Nothing => Resolved::Nothing,
                    };
                    self.bytes(p, Self::seg(len_at(at), dir, kind, which, true), back)?
                }
                Child::Wave => {
                    // SAFETY: a complete WAVEFORMATEX (the contract).
                    let head = unsafe { caller::array::<WAVEFORMATEX_SIZE>(p) };
                    let tag = u16::from_le_bytes([head[0], head[1]]);
                    let extra = if tag == WAVE_FORMAT_PCM {
                        0
                    } else {
                        usize::from(u16::from_le_bytes([head[16], head[17]]))
                    };
                    let len = WAVEFORMATEX_SIZE + extra;
                    self.bytes(p, Self::seg(len, Dir::In, Kind::Format, which, true), Resolved::Nothing)?
                }
                Child::SelfSized => {
                    // SAFETY: a structure that starts with its u32 size (the contract).
                    let cb = u32::from_le_bytes(unsafe { caller::array::<4>(p) }) as usize;
                    self.bytes(p, Self::seg(cb.max(4), Dir::In, Kind::Bytes, which, true), Resolved::Nothing)?
                }
                // SAFETY: a BITMAPINFO (the contract).
                Child::Bitmap(dir) => unsafe { self.bitmap(p, dir, which, true) }?,
                Child::Image { format_at, dir, back } => {
                    let format = native.get(format_at..format_at + PTR).map_or(0, |s| read_uint(s) as usize);
                    if format == 0 {
                        let error = BitmapFormatError::TooShort(0);
                        return Err(MarshalError::Bitmap { what: "an image without a format", error });
                    }
                    // SAFETY: the format the image is in (the contract).
                    let len = unsafe { image_len(format) }?;
                    let back = if matches!(back, Back::All) { Resolved::All } else { Resolved::Nothing };
                    self.bytes(p, Self::seg(len, dir, Kind::Bulk, which, true), back)?
                }
                Child::CompressOutput { size_image_of } => {
                    let capacity = ctx.compress_capacity.ok_or(MarshalError::NoCompressCapacity)?;
                    let holder = layout.fields.iter().position(|g| g.native == size_image_of);
                    let back = match links.iter().find(|(fi, _)| Some(*fi) == holder) {
                        Some(&(_, plan)) => {
                            Resolved::UsedIn { plan, at: offset_of!(BitmapInfoHeader, size_image) }
                        }
                        None => Resolved::Nothing,
                    };
                    self.bytes(p, Self::seg(capacity as usize, Dir::Out, Kind::Bulk, which, true), back)?
                }
                Child::Dword => {
                    self.bytes(p, Self::seg(4, Dir::InOut, Kind::Bytes, which, true), Resolved::All)?
                }
            };
            links.push((index, planned));
        }
        if let Origin::Struct { links: l, .. } = &mut self.plans[me].origin {
            *l = links;
        }
        Ok(me)
    }

    /// Plans one parameter of a known message.
    ///
    /// # Safety
    /// `value` is what `rule` says (with `other` the message's other parameter).
    unsafe fn param(
        &mut self,
        rule: Rule,
        value: LParam,
        other: LParam,
        which: Which,
        ctx: &Context,
        l1_layout: Option<&'static Layout>,
    ) -> Result<WireArg, MarshalError> {
        let addr = value as usize;
        if value == 0 && !matches!(rule, Rule::Int | Rule::StructSize) {
            return Ok(WireArg::Int(0));
        }
        let planned = match rule {
            Rule::Int => return Ok(WireArg::Int(value as i64)),
            Rule::StructSize => {
                let v = value as i64;
                return Ok(WireArg::StructSize(match l1_layout {
                    Some(layout) if v >= 0 => layout.translate(v as usize, Side::Native) as i64,
                    _ => v,
                }));
            }
            // SAFETY: forwarded contract.
            Rule::Text => unsafe { self.text(addr, which, false) }?,
            // SAFETY: forwarded contract.
            Rule::Struct(layout, dir) => unsafe { self.structure(layout, addr, other, dir, which, ctx) }?,
            Rule::OpenParam if super::open_param::current() == OpenParam::Number => {
                return Ok(WireArg::Int(value as i64));
            }
            Rule::OpenParam => {
                // Chosen by the class, or what the opener said: unsaid, for a driver of
                // no known class the value may be an integer the driver never
                // dereferences, so it is not read.
                let class = super::open_param::current().class().unwrap_or(ctx.class);
                let layout = open_layout(class)?;
                // SAFETY: forwarded contract, the layout chosen by the class.
                unsafe { self.structure(layout, addr, other, Dir::InOut, which, ctx) }?
            }
            Rule::ConfigInfo => {
                // SAFETY: a DRVCONFIGINFO starts with its size.
                let size = u32::from_le_bytes(unsafe { caller::array::<4>(addr) });
                let layout = if size == DRVCONFIGINFO_SIZE || (PTR == 4 && size == 16) {
                    &CONFIG_PACKED
                } else if size == DRVCONFIGINFO_NATURAL_SIZE {
                    &CONFIG_NATURAL
                } else {
                    return Err(MarshalError::BadConfigInfo(size));
                };
                // SAFETY: forwarded contract.
                unsafe { self.structure(layout, addr, other, Dir::In, which, ctx) }?
            }
            Rule::SizedByOther { dir } => {
                let len = to_len(other as i64, "the buffer")?;
                let back = if dir.copies_back() { Resolved::All } else { Resolved::Nothing };
                self.bytes(addr, Self::seg(len, dir, Kind::Bytes, which, false), back)?
            }
            Rule::Dword => {
                self.bytes(addr, Self::seg(4, Dir::InOut, Kind::Bytes, which, false), Resolved::All)?
            }
            // SAFETY: forwarded contract.
            Rule::Bitmap => unsafe { self.bitmap(addr, Dir::In, which, false) }?,
            Rule::FormatOut => {
                let seg = Self::seg(MAX_BITMAP_FORMAT, Dir::Out, Kind::Format, which, false);
                self.bytes(addr, seg, Resolved::BitmapSpan)?
            }
        };
        // The plan's index, until `pack` gives it its payload offset.
        Ok(WireArg::Payload { offset: planned as u32 })
    }
}

/// The bytes of an image in the format at `format`.
///
/// # Safety
/// `format` is a `BITMAPINFO` as long as its header says.
unsafe fn image_len(format: usize) -> Result<usize, MarshalError> {
    // SAFETY: forwarded contract.
    let fixed = unsafe { caller::array::<BITMAPINFOHEADER_SIZE>(format) };
    let what = "the image's format";
    let span = BitmapFormat::span(&fixed).map_err(|error| MarshalError::Bitmap { what, error })?;
    // SAFETY: `span` bytes are the format (the contract).
    let bytes = unsafe { caller::bytes(format, span) };
    let parsed = BitmapFormat::from_bytes(bytes).map_err(|error| MarshalError::Bitmap { what, error })?;
    Ok(parsed.data_size())
}

/// Which structure `DRV_OPEN`'s `lParam2` is, by the driver's class.
fn open_layout(class: DriverClass) -> Result<&'static Layout, MarshalError> {
    match class {
        DriverClass::Acm => Ok(&OPEN_DESC),
        DriverClass::Icm => Ok(&IC_OPEN),
        other => Err(MarshalError::UnknownOpenParam { class: other }),
    }
}

const fn align_up(n: usize) -> usize {
    n.div_ceil(PAYLOAD_ALIGN) * PAYLOAD_ALIGN
}

impl Planner {
    /// Lays the plans out and writes the payload; nothing is written when it does
    /// not fit.
    fn pack(
        mut self,
        msg: Msg,
        l1: WireArg,
        l2: WireArg,
        payload: &mut [u8],
        args: [Option<&Arg<'_>>; 2],
    ) -> Result<Marshalled, MarshalError> {
        let mut at = align_up(8 + self.plans.len() * RECORD_SIZE) as u64;
        for plan in &mut self.plans {
            plan.seg.offset = u32::try_from(at).unwrap_or(u32::MAX);
            at = align_up(at as usize + plan.seg.len as usize) as u64;
        }
        let needed = self.plans.last().map_or(at, |p| u64::from(p.seg.offset) + u64::from(p.seg.len));
        if needed > payload.len() as u64 || at > u64::from(u32::MAX) {
            return Err(MarshalError::PayloadTooSmall { needed, available: payload.len() });
        }
        let used = needed as usize;
        payload[0..4].copy_from_slice(&MAGIC.to_le_bytes());
        payload[4..8].copy_from_slice(&(self.plans.len() as u32).to_le_bytes());
        for (i, plan) in self.plans.iter().enumerate() {
            let s = plan.seg;
            let record = [s.offset, s.len, s.dir as u32, s.kind.code(), s.which as u32, u32::from(s.nested)];
            for (j, word) in record.iter().enumerate() {
                let o = 8 + i * RECORD_SIZE + 4 * j;
                payload[o..o + 4].copy_from_slice(&word.to_le_bytes());
            }
        }
        let offsets: Vec<u32> = self.plans.iter().map(|p| p.seg.offset).collect();
        let mut targets = Vec::new();
        for plan in &self.plans {
            let s = plan.seg;
            let region = &mut payload[s.range()];
            match &plan.origin {
                Origin::Struct { layout, native, links, .. } => {
                    for field in layout.fields.iter().filter(|f| matches!(f.ty, Ty::Target)) {
                        let len = field.native_len(layout.ptr);
                        if let Some(value) = native.get(field.native..field.native + len) {
                            targets.push(read_uint(value));
                        }
                    }
                    region.fill(0);
                    layout.convert(native, Side::Native, region, |index, _| {
                        Ok(Some(
                            links
                                .iter()
                                .find(|(fi, _)| *fi == index)
                                .map_or(WIRE_NULL, |(_, p)| u64::from(offsets[*p])),
                        ))
                    })?;
                }
                Origin::Text { addr, units } => {
                    // SAFETY: the `units` units `text` counted at `addr` (the contract
                    // `marshal`'s caller vouched for).
                    region[..units * 2].copy_from_slice(unsafe { caller::bytes(*addr, units * 2) });
                    region[units * 2..].fill(0);
                }
                Origin::Bytes { addr } if s.dir.copies_in() => {
                    // SAFETY: `len` bytes at `addr`, as the message's contract sized them.
                    region.copy_from_slice(unsafe { caller::bytes(*addr, region.len()) });
                }
                Origin::Bytes { .. } if s.kind != Kind::Bulk => region.fill(0),
                Origin::Bytes { .. } => {}
                Origin::Arg(which) => match args[*which as usize - 1] {
                    Some(Arg::In(b)) => region.copy_from_slice(b),
                    Some(Arg::InOut(b)) => region.copy_from_slice(b),
                    _ => region.fill(0),
                },
            }
        }
        let arg = |w: WireArg| match w {
            WireArg::Payload { offset } => WireArg::Payload { offset: offsets[offset as usize] },
            other => other,
        };
        let segments = self.plans.iter().map(|p| p.seg).collect();
        Ok(Marshalled { msg, l1: arg(l1), l2: arg(l2), segments, used, targets, plans: self.plans })
    }
}

/// Packs the parameters of a message the table knows (see the module's table)
/// into `payload`.
///
/// A message the table does not know for `ctx.class` is refused with
/// [`MarshalError::Undescribed`] unless both parameters are 0; use
/// [`marshal_args`] for those. When the payload is too small, nothing is written.
///
/// # Safety
/// `l1` and `l2` are what `msg`'s contract says for a driver of `ctx.class`
/// (pointers to readable structures and buffers of the stated sizes), and they
/// stay valid and unchanged by others until [`copy_back`] returns.
pub(crate) unsafe fn marshal(
    ctx: &Context,
    msg: Msg,
    l1: LParam,
    l2: LParam,
    payload: &mut [u8],
) -> Result<Marshalled, MarshalError> {
    let Some([r1, r2]) = describe(ctx.class, msg) else {
        if l1 == 0 && l2 == 0 {
            return Planner { plans: Vec::new() }.pack(
                msg,
                WireArg::Int(0),
                WireArg::Int(0),
                payload,
                [None, None],
            );
        }
        let name = drvproc::message_name_for(msg, ctx.class).into_owned();
        return Err(MarshalError::Undescribed { msg, name });
    };
    let mut planner = Planner { plans: Vec::new() };
    let l1_layout = match r1 {
        Rule::Struct(layout, _) => Some(layout),
        _ => None,
    };
    // SAFETY: forwarded contract.
    let w1 = unsafe { planner.param(r1, l1, l2, Which::L1, ctx, None) }?;
    // SAFETY: forwarded contract.
    let w2 = unsafe { planner.param(r2, l2, l1, Which::L2, ctx, l1_layout) }?;
    planner.pack(msg, w1, w2, payload, [None, None])
}

/// Packs a message whose parameters its sender describes.
pub(crate) fn marshal_args(
    msg: Msg,
    l1: &Arg<'_>,
    l2: &Arg<'_>,
    payload: &mut [u8],
) -> Result<Marshalled, MarshalError> {
    let mut planner = Planner { plans: Vec::new() };
    let mut wire = [WireArg::Int(0); 2];
    for (i, (arg, which)) in [(l1, Which::L1), (l2, Which::L2)].into_iter().enumerate() {
        let (len, dir) = match arg {
            Arg::Int(v) => {
                wire[i] = WireArg::Int(*v as i64);
                continue;
            }
            Arg::In(b) => (b.len(), Dir::In),
            Arg::Out(b) => (b.len(), Dir::Out),
            Arg::InOut(b) => (b.len(), Dir::InOut),
        };
        let seg = Planner::seg(len, dir, Kind::Bytes, which, false)?;
        let back = if dir.copies_back() { Resolved::All } else { Resolved::Nothing };
        let planned = planner.push(seg, Origin::Arg(which), back)?;
        // The plan's index, until `pack` gives it its payload offset.
        wire[i] = WireArg::Payload { offset: planned as u32 };
    }
    planner.pack(msg, wire[0], wire[1], payload, [Some(l1), Some(l2)])
}

impl Marshalled {
    /// How many bytes of segment `plan` come back, read from the payload after the call.
    fn back_len(&self, plan: &Plan, payload: &[u8]) -> usize {
        let s = plan.seg;
        let n = match plan.back {
            Resolved::All => s.len as usize,
            Resolved::Nothing => 0,
            Resolved::UsedIn { plan: p, at } => {
                let holder = self.plans[p].seg;
                let holder = &payload[holder.range()];
                u32_at(holder, at).unwrap_or(0) as usize
            }
            Resolved::BitmapSpan => {
                let region = &payload[s.range()];
                BitmapFormat::span(region).unwrap_or(0)
            }
        };
        n.min(s.len as usize)
    }

    fn check_payload(&self, payload: &[u8]) -> Result<(), MarshalError> {
        if payload.len() < self.used {
            return Err(MarshalError::PayloadTooSmall { needed: self.used as u64, available: payload.len() });
        }
        Ok(())
    }
}

/// After the host's [`finish`], copies what the driver wrote from `payload` into
/// the application's memory: the `Out`/`InOut` segments of a message packed by
/// [`marshal`], each as far as its rule says.
///
/// # Safety
/// The parameters `m` was packed from are still valid and writable where their
/// message's contract lets the driver write (as [`marshal`] required).
pub(crate) unsafe fn copy_back(m: &Marshalled, payload: &[u8]) -> Result<(), MarshalError> {
    m.check_payload(payload)?;
    for plan in &m.plans {
        let s = plan.seg;
        if !s.dir.copies_back() {
            continue;
        }
        let region = &payload[s.range()];
        match &plan.origin {
            Origin::Struct { addr, layout, native, .. } => {
                // SAFETY: the structure's `covered` bytes are the caller's (the contract).
                let mut current = unsafe { caller::bytes(*addr, native.len()) }.to_vec();
                layout.apply_wire(region, &mut current)?;
                // SAFETY: as above, writable by the message's contract.
                unsafe { caller::write(*addr, &current) };
            }
            Origin::Bytes { addr } => {
                let n = m.back_len(plan, payload);
                // SAFETY: the segment came from `s.len` bytes at `addr`, writable by the
                // message's contract; `n <= s.len`.
                unsafe { caller::write(*addr, &region[..n]) };
            }
            Origin::Text { .. } | Origin::Arg(_) => {}
        }
    }
    Ok(())
}

/// After the host's [`finish`], copies the `Out`/`InOut` buffers of a message
/// packed by [`marshal_args`] back into them.
pub(crate) fn copy_back_args<'a>(
    m: &Marshalled,
    l1: &mut Arg<'a>,
    l2: &mut Arg<'a>,
    payload: &[u8],
) -> Result<(), MarshalError> {
    m.check_payload(payload)?;
    for plan in &m.plans {
        let (Origin::Arg(which), s) = (&plan.origin, plan.seg) else { continue };
        let arg = if *which == Which::L1 { &mut *l1 } else { &mut *l2 };
        let region = &payload[s.range()];
        match arg {
            Arg::Out(b) | Arg::InOut(b) if b.len() == region.len() => b.copy_from_slice(region),
            Arg::Out(_) | Arg::InOut(_) => return Err(MarshalError::BadPayload("a buffer changed length")),
            Arg::Int(_) | Arg::In(_) => {}
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------
// The host's side: rebuilding pointers into its copy, and the wire form after.
// ---------------------------------------------------------------------------------

/// The payload's segment table, checked against the payload's bounds.
fn read_table(payload: &[u8]) -> Result<Vec<Segment>, MarshalError> {
    let bad = MarshalError::BadPayload;
    if u32_at(payload, 0) != Some(MAGIC) {
        return Err(bad("no segment table"));
    }
    let count = u32_at(payload, 4).ok_or(bad("no segment table"))? as usize;
    if count > MAX_SEGMENTS {
        return Err(bad("too many segments"));
    }
    let data_start = align_up(8 + count * RECORD_SIZE);
    let mut table = Vec::with_capacity(count);
    for i in 0..count {
        let word =
            |j: usize| u32_at(payload, 8 + i * RECORD_SIZE + 4 * j).ok_or(bad("the segment table is cut"));
        let (offset, len) = (word(0)?, word(1)?);
        let end = offset as usize + len as usize;
        if (offset as usize) < data_start
            || !(offset as usize).is_multiple_of(PAYLOAD_ALIGN)
            || end > payload.len()
        {
            return Err(bad("a segment lies outside the payload"));
        }
        let dir = Dir::from_u32(word(2)?).ok_or(bad("a segment has no direction"))?;
        let kind = Kind::from_code(word(3)?).ok_or(bad("a segment of unknown kind"))?;
        let which = match word(4)? {
            1 => Which::L1,
            2 => Which::L2,
            _ => return Err(bad("a segment of no parameter")),
        };
        table.push(Segment { offset, len, dir, kind, which, nested: word(5)? & 1 != 0 });
    }
    Ok(table)
}

/// The parameters to call the driver with: integers, or addresses inside the
/// payload slice [`rebuild`] was given (valid while it is neither moved nor freed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct HostCall {
    pub l1: LParam,
    pub l2: LParam,
}

/// On the host: turns the structures of `payload` (its copy of the application's
/// payload) into native ones whose pointers point into `payload`, and the wire
/// parameters into the driver's `lParam1`/`lParam2`.
pub(crate) fn rebuild(l1: WireArg, l2: WireArg, payload: &mut [u8]) -> Result<HostCall, MarshalError> {
    let base = payload.as_mut_ptr() as usize;
    if !base.is_multiple_of(PAYLOAD_ALIGN) {
        return Err(MarshalError::Misaligned);
    }
    let table = read_table(payload)?;
    for s in &table {
        let region = &mut payload[s.range()];
        match s.kind {
            Kind::Struct(id) => {
                let layout =
                    layout_by_id(id).ok_or(MarshalError::BadPayload("a structure of unknown kind"))?;
                // The driver trusts the size: it must not reach past the segment.
                if layout.size_in == SizeIn::Field0 && u32_at(region, 0).is_some_and(|cb| cb > s.len) {
                    return Err(MarshalError::BadPayload("a structure's size is larger than its segment"));
                }
                let wire = region.to_vec();
                region.fill(0);
                layout.convert(&wire, Side::Wire, region, |index, v| {
                    if v == WIRE_NULL || matches!(layout.fields[index].ty, Ty::Null) {
                        return Ok(Some(0));
                    }
                    table
                        .iter()
                        .find(|t| u64::from(t.offset) == v && t.nested)
                        .map(|t| Some((base + t.offset as usize) as u64))
                        .ok_or(MarshalError::BadPayload("a pointer to no segment"))
                })?;
            }
            // A string always ends within its segment, whatever the sender put there.
            Kind::Text if region.len() >= 2 => {
                let n = region.len();
                region[n - 2..].fill(0);
            }
            _ => {}
        }
    }
    let param = |w: WireArg, which: Which| -> Result<LParam, MarshalError> {
        Ok(match w {
            WireArg::Int(v) => v as LParam,
            WireArg::Payload { offset } => {
                table
                    .iter()
                    .find(|t| t.offset == offset && t.which == which && !t.nested)
                    .ok_or(MarshalError::BadPayload("a parameter points to no segment"))?;
                (base + offset as usize) as LParam
            }
            WireArg::StructSize(v) => {
                let structure = table.iter().find_map(|t| match t.kind {
                    Kind::Struct(id) if t.which != which && !t.nested => layout_by_id(id).map(|l| (l, t.len)),
                    _ => None,
                });
                match structure {
                    Some((_, len)) if v > i64::from(len) => {
                        return Err(MarshalError::BadPayload(
                            "a structure's size is larger than its segment",
                        ));
                    }
                    Some((layout, _)) if v >= 0 => layout.translate(v as usize, Side::Wire) as LParam,
                    _ => v as LParam,
                }
            }
        })
    };
    Ok(HostCall { l1: param(l1, Which::L1)?, l2: param(l2, Which::L2)? })
}

/// On the host, after the call: turns the `Out`/`InOut` structures [`rebuild`]
/// made native back into their wire form, for the application's [`copy_back`].
/// (Pointer fields are not carried back.)
pub(crate) fn finish(payload: &mut [u8]) -> Result<(), MarshalError> {
    let table = read_table(payload)?;
    for s in table.iter().filter(|s| s.dir.copies_back()) {
        let Kind::Struct(id) = s.kind else { continue };
        let layout = layout_by_id(id).ok_or(MarshalError::BadPayload("a structure of unknown kind"))?;
        let region = &mut payload[s.range()];
        let covered = layout.translate(region.len(), Side::Wire).min(region.len());
        let native = region[..covered].to_vec();
        layout.convert(&native, Side::Native, region, |_, _| Ok(Some(WIRE_NULL)))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
