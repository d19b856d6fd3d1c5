//! Every constant of the installable-driver ABI (spec §3), with the values of the
//! Windows SDK's `mmiscapi.h`/`mmddk.h` and Wine's `mmsystem.h`.

use crate::types::{LResult, Msg};

/// Defines each constant and `ALL`, the table of every constant by name (also used by
/// the class kits' constant modules).
macro_rules! constants {
    ($($(#[$doc:meta])* $name:ident: $ty:ty = $value:expr;)*) => {
        $($(#[$doc])* pub const $name: $ty = $value;)*

        /// Every constant of this module by name, its value widened to `i64`: for tools
        /// that accept names, and for checking other language bindings (the C header)
        /// against this one source.
        pub const ALL: &[(&str, i64)] = &[$((stringify!($name), $name as i64)),*];
    };
}
pub(crate) use constants;

constants! {
    // §3.1 Standard driver messages.
    /// First message a module receives, once, before its first instance opens.
    DRV_LOAD: Msg = 0x0001;
    /// Sent right after a successful `DRV_LOAD`; the answer is ignored.
    DRV_ENABLE: Msg = 0x0002;
    /// Opens an instance; the non-zero answer becomes the instance's `dwDriverId`.
    DRV_OPEN: Msg = 0x0003;
    /// Closes an instance; the answer is ignored by the manager.
    DRV_CLOSE: Msg = 0x0004;
    /// Sent after the module's last instance closed, before `DRV_FREE`.
    DRV_DISABLE: Msg = 0x0005;
    /// Always the last message a module receives before it is unmapped.
    DRV_FREE: Msg = 0x0006;
    /// Shows the driver's configuration dialog; `lParam2` is a `DRVCONFIGINFO*` or NULL.
    DRV_CONFIGURE: Msg = 0x0007;
    /// Asks whether the driver can be configured (non-zero = yes).
    DRV_QUERYCONFIGURE: Msg = 0x0008;
    /// Sent by an installer after recording the driver; `lParam2` is a `DRVCONFIGINFO*` or NULL.
    DRV_INSTALL: Msg = 0x0009;
    /// Sent before the driver is uninstalled.
    DRV_REMOVE: Msg = 0x000A;
    /// Notice that the system is shutting down (never sent automatically, spec D17).
    DRV_EXITSESSION: Msg = 0x000B;
    /// Win16 legacy: an application is exiting; `lParam1` is a `DRVEA_*` value.
    DRV_EXITAPPLICATION: Msg = 0x000C;
    /// Notice that device power is switched (never sent automatically, spec D17).
    DRV_POWER: Msg = 0x000F;
    /// Start of the system-reserved message range.
    DRV_RESERVED: Msg = 0x0800;
    /// First MCI message.
    DRV_MCI_FIRST: Msg = DRV_RESERVED;
    /// Last MCI message.
    DRV_MCI_LAST: Msg = DRV_RESERVED + 0xFFF;
    /// First driver-defined message (spec D10: custom messages are `>= DRV_USER`).
    DRV_USER: Msg = 0x4000;

    // §3.2 Return values.
    /// `DRV_INSTALL`/`DRV_CONFIGURE`/`DRV_REMOVE`: cancelled or failed.
    DRVCNF_CANCEL: LResult = 0x0000;
    /// Success, nothing more to do.
    DRVCNF_OK: LResult = 0x0001;
    /// Success, effective after a system restart.
    DRVCNF_RESTART: LResult = 0x0002;
    /// Obsolete alias of [`DRVCNF_CANCEL`].
    DRV_CANCEL: LResult = DRVCNF_CANCEL;
    /// Obsolete alias of [`DRVCNF_OK`].
    DRV_OK: LResult = DRVCNF_OK;
    /// Obsolete alias of [`DRVCNF_RESTART`].
    DRV_RESTART: LResult = DRVCNF_RESTART;
    /// Wine's name for a successful `DRV_LOAD` answer.
    DRV_SUCCESS: LResult = 0x0001;
    /// Wine's name for a failed answer.
    DRV_FAILURE: LResult = 0x0000;
    /// `DRV_EXITAPPLICATION` lParam1: the application exited normally (Win16).
    DRVEA_NORMALEXIT: isize = 0x0001;
    /// `DRV_EXITAPPLICATION` lParam1: the application exited abnormally (Win16).
    DRVEA_ABNORMALEXIT: isize = 0x0002;
    /// Win16 `GetNextDriver` flag (not part of the Win32 API).
    GND_FIRSTINSTANCEONLY: u32 = 0x0001;
    /// Win16 `GetNextDriver` flag (not part of the Win32 API).
    GND_FORWARD: u32 = 0x0000;
    /// Win16 `GetNextDriver` flag (not part of the Win32 API).
    GND_REVERSE: u32 = 0x0002;

    // §3.3 DriverCallback types (`dwFlags & DCB_TYPEMASK`) and their open-flag twins.
    /// No notification.
    DCB_NULL: u32 = 0x0000;
    /// Post to a window (`dwCallback` is the window).
    DCB_WINDOW: u32 = 0x0001;
    /// Post to a thread/task (`dwCallback` is its id).
    DCB_TASK: u32 = 0x0002;
    /// Call a function (`dwCallback` is an `LPDRVCALLBACK`).
    DCB_FUNCTION: u32 = 0x0003;
    /// Signal an event (`dwCallback` is the event handle).
    DCB_EVENT: u32 = 0x0005;
    /// Mask of the callback type bits.
    DCB_TYPEMASK: u32 = 0x0007;
    /// Do not switch stacks (ignored on Win32).
    DCB_NOSWITCH: u32 = 0x0008;
    /// `CALLBACK_NULL` (= `DCB_NULL << 16`).
    CALLBACK_NULL: u32 = 0x0000_0000;
    /// `CALLBACK_WINDOW` (= `DCB_WINDOW << 16`).
    CALLBACK_WINDOW: u32 = 0x0001_0000;
    /// `CALLBACK_TASK` (= `DCB_TASK << 16`).
    CALLBACK_TASK: u32 = 0x0002_0000;
    /// `CALLBACK_THREAD`, the Win32 name of `CALLBACK_TASK`.
    CALLBACK_THREAD: u32 = CALLBACK_TASK;
    /// `CALLBACK_FUNCTION` (= `DCB_FUNCTION << 16`).
    CALLBACK_FUNCTION: u32 = 0x0003_0000;
    /// `CALLBACK_EVENT` (= `DCB_EVENT << 16`).
    CALLBACK_EVENT: u32 = 0x0005_0000;
    /// `CALLBACK_TYPEMASK` (= `DCB_TYPEMASK << 16`).
    CALLBACK_TYPEMASK: u32 = 0x0007_0000;

    // §3.4 System messages inside the reserved range (meaning depends on the class).
    /// `mmddk.h` query (answered by winmm or the `xxMessage` entries, not `DriverProc`).
    DRV_QUERYDRVENTRY: Msg = DRV_RESERVED + 1;
    /// `mmddk.h` query.
    DRV_QUERYDEVNODE: Msg = DRV_RESERVED + 2;
    /// `mmddk.h` query.
    DRV_QUERYNAME: Msg = DRV_RESERVED + 3;
    /// `mmddk.h` query.
    DRV_QUERYDRIVERIDS: Msg = DRV_RESERVED + 4;
    /// `mmddk.h` query.
    DRV_QUERYMAPPABLE: Msg = DRV_RESERVED + 5;
    /// `mmddk.h` query.
    DRV_QUERYMODULE: Msg = DRV_RESERVED + 9;
    /// Plug-and-Play install, sent to `DriverProc` by the Media Class Installer.
    DRV_PNPINSTALL: Msg = DRV_RESERVED + 11;
    /// `mmddk.h` query.
    DRV_QUERYDEVICEINTERFACE: Msg = DRV_RESERVED + 12;
    /// `mmddk.h` query.
    DRV_QUERYDEVICEINTERFACESIZE: Msg = DRV_RESERVED + 13;
    /// `mmddk.h` query.
    DRV_QUERYSTRINGID: Msg = DRV_RESERVED + 14;
    /// `mmddk.h` query.
    DRV_QUERYSTRINGIDSIZE: Msg = DRV_RESERVED + 15;
    /// `mmddk.h` query.
    DRV_QUERYIDFROMSTRINGID: Msg = DRV_RESERVED + 16;
    /// MCI: sent after `DRV_OPEN` with the open flags and `MCI_OPEN_PARMS*`.
    MCI_OPEN_DRIVER: Msg = 0x0801;
    /// MCI: sent before `DRV_CLOSE`.
    MCI_CLOSE_DRIVER: Msg = 0x0802;
    /// MCI command.
    MCI_OPEN: Msg = 0x0803;
    /// MCI command.
    MCI_CLOSE: Msg = 0x0804;
    /// MCI command.
    MCI_ESCAPE: Msg = 0x0805;
    /// MCI command.
    MCI_PLAY: Msg = 0x0806;
    /// MCI command.
    MCI_SEEK: Msg = 0x0807;
    /// MCI command.
    MCI_STOP: Msg = 0x0808;
    /// MCI command.
    MCI_PAUSE: Msg = 0x0809;
    /// Joystick driver message.
    JDD_GETNUMDEVS: Msg = 0x0801;
    /// Joystick driver message.
    JDD_GETDEVCAPS: Msg = 0x0802;
    /// Joystick driver message.
    JDD_GETPOS: Msg = 0x0901;
    /// Joystick driver message.
    JDD_SETCALIBRATION: Msg = 0x0902;
    /// Joystick driver message.
    JDD_CONFIGCHANGED: Msg = 0x0903;
    /// Joystick driver message.
    JDD_GETPOSEX: Msg = 0x0904;

    // Class message bases (spec §16).
    /// First ACM driver-private message (= `DRV_USER`).
    ACMDM_USER: Msg = DRV_USER;
    /// Start of the ACM system range (= `DRV_USER + 0x2000`).
    ACMDM_RESERVED_LOW: Msg = DRV_USER + 0x2000;
    /// End of the ACM system range.
    ACMDM_RESERVED_HIGH: Msg = DRV_USER + 0x2FFF;
    /// Base of the ACM driver messages (`ACMDM_DRIVER_DETAILS = ACMDM_BASE + 10`).
    ACMDM_BASE: Msg = ACMDM_RESERVED_LOW;
    /// First VfW codec message (= `DRV_USER`).
    ICM_USER: Msg = DRV_USER;
    /// Start of the VfW system range (`ICM_GETSTATE = ICM_RESERVED + 0`).
    ICM_RESERVED: Msg = DRV_USER + 0x1000;
    /// Start of the VfW system range.
    ICM_RESERVED_LOW: Msg = ICM_RESERVED;
    /// End of the VfW system range.
    ICM_RESERVED_HIGH: Msg = DRV_USER + 0x2000;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_messages() {
        let expected: [(Msg, Msg); 13] = [
            (DRV_LOAD, 1),
            (DRV_ENABLE, 2),
            (DRV_OPEN, 3),
            (DRV_CLOSE, 4),
            (DRV_DISABLE, 5),
            (DRV_FREE, 6),
            (DRV_CONFIGURE, 7),
            (DRV_QUERYCONFIGURE, 8),
            (DRV_INSTALL, 9),
            (DRV_REMOVE, 10),
            (DRV_EXITSESSION, 11),
            (DRV_EXITAPPLICATION, 12),
            (DRV_POWER, 15),
        ];
        for (got, want) in expected {
            assert_eq!(got, want);
        }
        assert_eq!(DRV_RESERVED, 0x0800);
        assert_eq!(DRV_MCI_FIRST, 0x0800);
        assert_eq!(DRV_MCI_LAST, 0x17FF);
        assert_eq!(DRV_USER, 0x4000);
    }

    #[test]
    fn return_values() {
        assert_eq!((DRVCNF_CANCEL, DRVCNF_OK, DRVCNF_RESTART), (0, 1, 2));
        assert_eq!((DRV_CANCEL, DRV_OK, DRV_RESTART), (0, 1, 2));
        assert_eq!((DRV_SUCCESS, DRV_FAILURE), (1, 0));
        assert_eq!((DRVEA_NORMALEXIT, DRVEA_ABNORMALEXIT), (1, 2));
        assert_eq!((GND_FIRSTINSTANCEONLY, GND_FORWARD, GND_REVERSE), (1, 0, 2));
    }

    #[test]
    fn callback_flags() {
        assert_eq!(
            [DCB_NULL, DCB_WINDOW, DCB_TASK, DCB_FUNCTION, DCB_EVENT, DCB_TYPEMASK, DCB_NOSWITCH],
            [0, 1, 2, 3, 5, 7, 8]
        );
        assert_eq!(
            [CALLBACK_NULL, CALLBACK_WINDOW, CALLBACK_TASK, CALLBACK_THREAD],
            [0, 0x10000, 0x20000, 0x20000]
        );
        assert_eq!([CALLBACK_FUNCTION, CALLBACK_EVENT, CALLBACK_TYPEMASK], [0x30000, 0x50000, 0x70000]);
        // DCB_x == HIWORD(CALLBACK_x)
        for (dcb, cb) in [
            (DCB_NULL, CALLBACK_NULL),
            (DCB_WINDOW, CALLBACK_WINDOW),
            (DCB_TASK, CALLBACK_TASK),
            (DCB_FUNCTION, CALLBACK_FUNCTION),
            (DCB_EVENT, CALLBACK_EVENT),
            (DCB_TYPEMASK, CALLBACK_TYPEMASK),
        ] {
            assert_eq!(dcb, cb >> 16);
        }
    }

    #[test]
    fn reserved_range_messages() {
        assert_eq!(
            [
                DRV_QUERYDRVENTRY,
                DRV_QUERYDEVNODE,
                DRV_QUERYNAME,
                DRV_QUERYDRIVERIDS,
                DRV_QUERYMAPPABLE,
                DRV_QUERYMODULE,
                DRV_PNPINSTALL,
                DRV_QUERYDEVICEINTERFACE,
                DRV_QUERYDEVICEINTERFACESIZE,
                DRV_QUERYSTRINGID,
                DRV_QUERYSTRINGIDSIZE,
                DRV_QUERYIDFROMSTRINGID,
            ],
            [0x0801, 0x0802, 0x0803, 0x0804, 0x0805, 0x0809, 0x080B, 0x080C, 0x080D, 0x080E, 0x080F, 0x0810]
        );
        assert_eq!(
            [MCI_OPEN_DRIVER, MCI_CLOSE_DRIVER, MCI_OPEN, MCI_CLOSE, MCI_ESCAPE],
            [0x0801, 0x0802, 0x0803, 0x0804, 0x0805]
        );
        assert_eq!([MCI_PLAY, MCI_SEEK, MCI_STOP, MCI_PAUSE], [0x0806, 0x0807, 0x0808, 0x0809]);
        assert_eq!(
            [JDD_GETNUMDEVS, JDD_GETDEVCAPS, JDD_GETPOS, JDD_SETCALIBRATION],
            [0x0801, 0x0802, 0x0901, 0x0902]
        );
        assert_eq!([JDD_CONFIGCHANGED, JDD_GETPOSEX], [0x0903, 0x0904]);
    }

    #[test]
    fn table_lists_every_constant_once() {
        assert_eq!(ALL.len(), 79);
        assert!(ALL.contains(&("DRV_USER", 0x4000)));
        assert!(ALL.contains(&("CALLBACK_EVENT", 0x50000)));
        let mut names: Vec<_> = ALL.iter().map(|(n, _)| *n).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), ALL.len());
    }

    #[test]
    fn class_bases() {
        assert_eq!(ACMDM_USER, 0x4000);
        assert_eq!(ACMDM_RESERVED_LOW, 0x6000);
        assert_eq!(ACMDM_RESERVED_HIGH, 0x6FFF);
        assert_eq!(ACMDM_BASE, 0x6000);
        assert_eq!(ICM_USER, 0x4000);
        assert_eq!(ICM_RESERVED, 0x5000);
        assert_eq!(ICM_RESERVED_LOW, 0x5000);
        assert_eq!(ICM_RESERVED_HIGH, 0x6000);
    }
}
