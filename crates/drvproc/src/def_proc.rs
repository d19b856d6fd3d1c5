//! `DefDriverProc`: the default answers a driver gives to messages it does not handle.

use crate::consts::*;
use crate::types::{DriverId, Hdrvr, LParam, LResult, Msg};

/// The default answer to `msg` (spec §6).
///
/// A pure function of `msg`: the id, handle and parameters are ignored and the handle
/// is never validated, exactly like Windows' and Wine's `DefDriverProc`. Lifecycle
/// notifications and install/remove succeed (1); everything else, including `DRV_OPEN`,
/// answers 0, so a driver that forwards `DRV_OPEN` here can never be opened.
///
/// ```
/// use drvproc::{consts::*, def_driver_proc, Hdrvr};
/// assert_eq!(def_driver_proc(0, Hdrvr::NULL, DRV_LOAD, 0, 0), 1);
/// assert_eq!(def_driver_proc(0, Hdrvr::NULL, DRV_OPEN, 0, 0), 0);
/// assert_eq!(def_driver_proc(7, Hdrvr::NULL, DRV_INSTALL, 0, 0), DRVCNF_OK);
/// ```
pub fn def_driver_proc(_id: DriverId, _h: Hdrvr, msg: Msg, _l1: LParam, _l2: LParam) -> LResult {
    match msg {
        DRV_LOAD | DRV_FREE | DRV_ENABLE | DRV_DISABLE => 1,
        DRV_INSTALL | DRV_REMOVE => DRV_OK,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_of_spec_section_6() {
        let h = Hdrvr::from_raw(0xdead);
        let ones = [DRV_LOAD, DRV_FREE, DRV_ENABLE, DRV_DISABLE, DRV_INSTALL, DRV_REMOVE];
        for msg in ones {
            assert_eq!(def_driver_proc(0, h, msg, 0, 0), 1, "msg {msg:#x}");
            assert_eq!(def_driver_proc(99, Hdrvr::NULL, msg, -1, 12345), 1, "msg {msg:#x}");
        }
        let zeros = [
            DRV_OPEN,
            DRV_CLOSE,
            DRV_CONFIGURE,
            DRV_QUERYCONFIGURE,
            DRV_EXITSESSION,
            DRV_EXITAPPLICATION,
            DRV_POWER,
            0,
            0x000D,
            0x000E,
            0x0010,
            DRV_RESERVED,
            DRV_PNPINSTALL,
            DRV_MCI_LAST,
            DRV_USER,
            DRV_USER + 1,
            ICM_RESERVED,
            ACMDM_BASE + 10,
            u32::MAX,
        ];
        for msg in zeros {
            assert_eq!(def_driver_proc(0, h, msg, 0, 0), 0, "msg {msg:#x}");
            assert_eq!(def_driver_proc(5, h, msg, 1, 1), 0, "msg {msg:#x}");
        }
    }

    #[test]
    fn every_16_bit_message_outside_the_table_answers_zero() {
        let ones = [DRV_LOAD, DRV_FREE, DRV_ENABLE, DRV_DISABLE, DRV_INSTALL, DRV_REMOVE];
        for msg in 0..=0xFFFFu32 {
            let expected = if ones.contains(&msg) { 1 } else { 0 };
            assert_eq!(def_driver_proc(0, Hdrvr::NULL, msg, 0, 0), expected);
        }
    }
}
