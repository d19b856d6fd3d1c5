//! The frames an application and a driver host process exchange over a channel.
//!
//! Both frames hold only `u32`, `u64` and `i64` fields at offsets that are multiples
//! of their size, with the padding spelled out as fields, and both are aligned to 8
//! bytes explicitly: `#[repr(C)]` then gives one layout on every target, so a 32-bit
//! host process (where a `u64` alone is only 4-aligned) reads exactly what a 64-bit
//! application wrote. Nothing in a frame is a pointer or a `usize`: a buffer is an
//! offset and a length into the channel's payload area ([`PayloadDesc`]), which each
//! side turns into an address in its own mapping. The const assertions below fail
//! the build of any target whose layout would differ.
//!
//! Integers are native-endian; both ends run on one machine.

use std::mem::{align_of, offset_of, size_of};
use std::ops::Range;

/// What a request asks the host process to do (`Request::op`).
pub(crate) mod op {
    /// Deliver a driver message (`Request::msg` with `l1`/`l2`) to `Request::id`.
    pub(crate) const CALL: u32 = 1;
    /// Load the module whose path is the payload (UTF-8, `descs[0]`).
    pub(crate) const LOAD_MODULE: u32 = 2;
    /// Answer, then stop serving the channel.
    pub(crate) const SHUTDOWN: u32 = 3;
    /// Not a new request: the application's answer to the [`Callback`] the host sent
    /// during the call with this `seq` (`Request::l1`: 1 if the notification went
    /// through, 0 if not). The call itself goes on.
    pub(crate) const CALLBACK_DONE: u32 = 4;
    /// Unload module `Request::module` (its driver has had `DRV_FREE`); the host
    /// goes on serving its other modules.
    pub(crate) const UNLOAD_MODULE: u32 = 5;
}

/// How a request went, apart from the driver's own answer (`Response::status`).
pub(crate) mod status {
    /// The operation ran; `Response::ret` is its result.
    pub(crate) const OK: u32 = 0;
    /// The host does not know `Request::op`.
    pub(crate) const UNKNOWN_OP: u32 = 1;
    /// A payload descriptor does not fit the payload area or names no parameter.
    pub(crate) const BAD_PAYLOAD: u32 = 2;
    /// The operation failed in the host; details travel in the payload as UTF-8.
    pub(crate) const FAILED: u32 = 3;
    /// Not the answer yet: the driver called `DriverCallback` during the call, and
    /// the channel's callback block holds its arguments ([`Callback`]). The
    /// application notifies its target, answers with [`op::CALLBACK_DONE`] and
    /// waits on for the answer.
    pub(crate) const CALLBACK: u32 = 4;
}

/// Which way a payload buffer's bytes travel (`PayloadDesc::dir`).
pub(crate) mod dir {
    /// The descriptor is unused.
    pub(crate) const NONE: u32 = 0;
    /// Application to driver only.
    pub(crate) const IN: u32 = 1;
    /// Driver to application only.
    pub(crate) const OUT: u32 = 2;
    /// Both ways.
    pub(crate) const IN_OUT: u32 = 3;
}

/// Which message parameter a payload buffer stands for (`PayloadDesc::which`).
pub(crate) mod which {
    /// `lParam1` points at the buffer.
    pub(crate) const L1: u32 = 1;
    /// `lParam2` points at the buffer.
    pub(crate) const L2: u32 = 2;
}

/// A buffer in the payload area that a message parameter points at.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct PayloadDesc {
    /// Offset of the buffer from the start of the payload area.
    pub(crate) offset: u32,
    /// Length of the buffer in bytes.
    pub(crate) len: u32,
    /// One of [`dir`].
    pub(crate) dir: u32,
    /// One of [`which`].
    pub(crate) which: u32,
}

impl PayloadDesc {
    /// The bytes of a payload area of `payload_len` bytes this descriptor covers, or
    /// `None` when they do not all lie inside it. The descriptor comes from the other
    /// process, so it is checked before anything indexes with it.
    pub(crate) fn range(&self, payload_len: usize) -> Option<Range<usize>> {
        let start = usize::try_from(self.offset).ok()?;
        let end = start.checked_add(usize::try_from(self.len).ok()?)?;
        (end <= payload_len).then_some(start..end)
    }
}

/// Number of payload descriptors a request carries.
pub(crate) const MAX_DESCS: usize = 2;

/// A request from the application to the host process.
#[repr(C, align(8))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Request {
    /// Call number; the channel sets it, and the response must carry the same.
    pub(crate) seq: u64,
    /// One of [`op`].
    pub(crate) op: u32,
    /// The driver message (`op::CALL`).
    pub(crate) msg: u32,
    /// The driver-issued instance id (`dwDriverIdentifier`).
    pub(crate) id: u64,
    /// The application's handle of the instance, as the driver sees it.
    pub(crate) hdrvr: u64,
    /// `lParam1`, when it is an integer.
    pub(crate) l1: i64,
    /// `lParam2`, when it is an integer.
    pub(crate) l2: i64,
    /// The buffers the parameters point at; [`dir::NONE`] marks an unused one.
    pub(crate) descs: [PayloadDesc; MAX_DESCS],
    /// What `l1` and `l2` are (`op::CALL`): the tags of the marshaller's wire
    /// parameters (an integer, a payload offset, a structure's size).
    pub(crate) tags: [u32; 2],
    /// Which of the host's modules (`op::CALL`, `op::UNLOAD_MODULE`): the number
    /// `op::LOAD_MODULE` answered. A host of one module has module 0 only; a
    /// group's host has one per driver file.
    pub(crate) module: u32,
    /// How many bytes of the payload area the call's parameters take, in and out
    /// (`op::CALL`). The application routes on it (a large call is served on its
    /// own CPU, see the channel's notes); the host does not need it.
    pub(crate) used: u32,
}

/// The host process's answer to a [`Request`].
#[repr(C, align(8))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Response {
    /// The `seq` of the request answered.
    pub(crate) seq: u64,
    /// The driver's return value (`LRESULT`), sign-extended from a 32-bit host.
    pub(crate) ret: i64,
    /// One of [`status`].
    pub(crate) status: u32,
    /// Explicit padding to a multiple of 8 bytes; always 0.
    pub(crate) _pad: u32,
}

/// A driver's `DriverCallback(dwCallback, fdwFlags, hdrvr, msg, dwUser, dwParam1,
/// dwParam2)`, as the host sends it back to the application, whose values these
/// are: `callback` is an address, event or queue of the application's process and
/// means nothing in the host. Pointer-sized values travel zero-extended to 64 bits.
#[repr(C, align(8))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Callback {
    /// `dwCallback`.
    pub(crate) callback: u64,
    /// The device handle the driver passed.
    pub(crate) hdrvr: u64,
    /// `dwUser`.
    pub(crate) user: u64,
    /// `dwParam1`.
    pub(crate) p1: u64,
    /// `dwParam2`.
    pub(crate) p2: u64,
    /// `fdwFlags` (`DCB_*`).
    pub(crate) flags: u32,
    /// The notification message.
    pub(crate) msg: u32,
}

// The layout both bitnesses must share. A change here is a protocol change.
const _: () = {
    assert!(size_of::<PayloadDesc>() == 16 && align_of::<PayloadDesc>() == 4);
    assert!(offset_of!(PayloadDesc, offset) == 0);
    assert!(offset_of!(PayloadDesc, len) == 4);
    assert!(offset_of!(PayloadDesc, dir) == 8);
    assert!(offset_of!(PayloadDesc, which) == 12);

    assert!(size_of::<Request>() == 96 && align_of::<Request>() == 8);
    assert!(offset_of!(Request, seq) == 0);
    assert!(offset_of!(Request, op) == 8);
    assert!(offset_of!(Request, msg) == 12);
    assert!(offset_of!(Request, id) == 16);
    assert!(offset_of!(Request, hdrvr) == 24);
    assert!(offset_of!(Request, l1) == 32);
    assert!(offset_of!(Request, l2) == 40);
    assert!(offset_of!(Request, descs) == 48);
    assert!(offset_of!(Request, tags) == 80);
    assert!(offset_of!(Request, module) == 88);
    assert!(offset_of!(Request, used) == 92);

    assert!(size_of::<Response>() == 24 && align_of::<Response>() == 8);
    assert!(offset_of!(Response, seq) == 0);
    assert!(offset_of!(Response, ret) == 8);
    assert!(offset_of!(Response, status) == 16);
    assert!(offset_of!(Response, _pad) == 20);

    assert!(size_of::<Callback>() == 48 && align_of::<Callback>() == 8);
    assert!(offset_of!(Callback, callback) == 0);
    assert!(offset_of!(Callback, hdrvr) == 8);
    assert!(offset_of!(Callback, user) == 16);
    assert!(offset_of!(Callback, p1) == 24);
    assert!(offset_of!(Callback, p2) == 32);
    assert!(offset_of!(Callback, flags) == 40);
    assert!(offset_of!(Callback, msg) == 44);
};

#[cfg(test)]
mod tests {
    use super::*;

    /// The bytes of a request, field by field at the offsets the protocol fixes, so a
    /// reordered or resized field shows here as well as in the const assertions.
    #[test]
    fn request_bytes_sit_at_fixed_offsets() {
        let req = Request {
            seq: 0x0102_0304_0506_0708,
            op: op::CALL,
            msg: 0x4000,
            id: 0x1111_2222_3333_4444,
            hdrvr: 0x5555_6666_7777_8888,
            l1: -2,
            l2: i64::MIN,
            descs: [
                PayloadDesc { offset: 16, len: 64, dir: dir::IN_OUT, which: which::L1 },
                PayloadDesc::default(),
            ],
            tags: [1, 2],
            module: 7,
            used: 0x9999,
        };
        // SAFETY: `Request` is `repr(C)` of integer fields with no implicit padding
        // (the const assertions fix every offset), so all 96 bytes are initialised.
        let bytes: [u8; 96] = unsafe { std::mem::transmute(req) };
        let at = |o: usize, n: usize| bytes[o..o + n].to_vec();
        assert_eq!(at(0, 8), 0x0102_0304_0506_0708u64.to_ne_bytes());
        assert_eq!(at(8, 4), op::CALL.to_ne_bytes());
        assert_eq!(at(12, 4), 0x4000u32.to_ne_bytes());
        assert_eq!(at(16, 8), 0x1111_2222_3333_4444u64.to_ne_bytes());
        assert_eq!(at(24, 8), 0x5555_6666_7777_8888u64.to_ne_bytes());
        assert_eq!(at(32, 8), (-2i64).to_ne_bytes());
        assert_eq!(at(40, 8), i64::MIN.to_ne_bytes());
        assert_eq!(at(48, 4), 16u32.to_ne_bytes());
        assert_eq!(at(52, 4), 64u32.to_ne_bytes());
        assert_eq!(at(56, 4), dir::IN_OUT.to_ne_bytes());
        assert_eq!(at(60, 4), which::L1.to_ne_bytes());
        assert_eq!(at(64, 16), [0u8; 16]);
        assert_eq!(at(80, 8), [1u32.to_ne_bytes(), 2u32.to_ne_bytes()].concat());
        assert_eq!(at(88, 4), 7u32.to_ne_bytes());
        assert_eq!(at(92, 4), 0x9999u32.to_ne_bytes());
    }

    #[test]
    fn response_bytes_sit_at_fixed_offsets() {
        let resp = Response { seq: 7, ret: -1, status: status::FAILED, _pad: 0 };
        // SAFETY: as above; `_pad` is a field, so no byte is padding.
        let bytes: [u8; 24] = unsafe { std::mem::transmute(resp) };
        assert_eq!(bytes[0..8], 7u64.to_ne_bytes());
        assert_eq!(bytes[8..16], (-1i64).to_ne_bytes());
        assert_eq!(bytes[16..20], status::FAILED.to_ne_bytes());
        assert_eq!(bytes[20..24], [0u8; 4]);
    }

    #[test]
    fn callback_bytes_sit_at_fixed_offsets() {
        let cb = Callback { callback: 1 << 40, hdrvr: 2, user: 3, p1: 4, p2: u64::MAX, flags: 5, msg: 0x3BD };
        // SAFETY: `Callback` is `repr(C)` of integer fields with no implicit padding.
        let bytes: [u8; 48] = unsafe { std::mem::transmute(cb) };
        assert_eq!(bytes[0..8], (1u64 << 40).to_ne_bytes());
        assert_eq!(bytes[8..16], 2u64.to_ne_bytes());
        assert_eq!(bytes[16..24], 3u64.to_ne_bytes());
        assert_eq!(bytes[24..32], 4u64.to_ne_bytes());
        assert_eq!(bytes[32..40], u64::MAX.to_ne_bytes());
        assert_eq!(bytes[40..44], 5u32.to_ne_bytes());
        assert_eq!(bytes[44..48], 0x3BDu32.to_ne_bytes());
    }

    #[test]
    fn payload_desc_range_stays_inside_the_area() {
        let d = |offset, len| PayloadDesc { offset, len, dir: dir::IN, which: which::L1 };
        assert_eq!(d(0, 0).range(0), Some(0..0));
        assert_eq!(d(10, 20).range(30), Some(10..30));
        assert_eq!(d(10, 21).range(30), None);
        assert_eq!(d(31, 0).range(30), None);
        // Overflows `usize` on a 32-bit target, runs past the end on a 64-bit one.
        assert_eq!(d(u32::MAX, 2).range(u32::MAX as usize), None);
    }
}
