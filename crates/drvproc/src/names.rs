//! Human-readable message names, used by every trace, log line and by `drvctl`.
//!
//! The reserved range and the class ranges share numbers between driver classes
//! (0x0801 is `MCI_OPEN_DRIVER` to an MCI driver and `JDD_GETNUMDEVS` to a joystick
//! driver), so [`message_name`] names them neutrally and [`message_name_for`] names
//! them for a known [`DriverClass`].

use std::borrow::Cow;
use std::fmt;

use crate::consts::*;
use crate::types::Msg;

/// The class of driver a message is addressed to; it decides how class ranges are named.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum DriverClass {
    /// No class known: custom messages are `DRV_USER+n`.
    #[default]
    Generic,
    /// VfW video codec: `ICM_USER+n` and `ICM_RESERVED+n`.
    Icm,
    /// ACM audio codec: `ACMDM_USER+n` and `ACMDM_BASE+n`.
    Acm,
    /// MCI driver: the MCI command names in the reserved range.
    Mci,
}

const STANDARD: [(Msg, &str); 14] = [
    (DRV_LOAD, "DRV_LOAD"),
    (DRV_ENABLE, "DRV_ENABLE"),
    (DRV_OPEN, "DRV_OPEN"),
    (DRV_CLOSE, "DRV_CLOSE"),
    (DRV_DISABLE, "DRV_DISABLE"),
    (DRV_FREE, "DRV_FREE"),
    (DRV_CONFIGURE, "DRV_CONFIGURE"),
    (DRV_QUERYCONFIGURE, "DRV_QUERYCONFIGURE"),
    (DRV_INSTALL, "DRV_INSTALL"),
    (DRV_REMOVE, "DRV_REMOVE"),
    (DRV_EXITSESSION, "DRV_EXITSESSION"),
    (DRV_EXITAPPLICATION, "DRV_EXITAPPLICATION"),
    (DRV_POWER, "DRV_POWER"),
    (DRV_RESERVED, "DRV_RESERVED"),
];

const MCI: [(Msg, &str); 9] = [
    (MCI_OPEN_DRIVER, "MCI_OPEN_DRIVER"),
    (MCI_CLOSE_DRIVER, "MCI_CLOSE_DRIVER"),
    (MCI_OPEN, "MCI_OPEN"),
    (MCI_CLOSE, "MCI_CLOSE"),
    (MCI_ESCAPE, "MCI_ESCAPE"),
    (MCI_PLAY, "MCI_PLAY"),
    (MCI_SEEK, "MCI_SEEK"),
    (MCI_STOP, "MCI_STOP"),
    (MCI_PAUSE, "MCI_PAUSE"),
];

/// Bases a message is written relative to, e.g. `DRV_USER+1`.
const BASES: [(&str, Msg); 6] = [
    ("DRV_USER", DRV_USER),
    ("ICM_USER", ICM_USER),
    ("ICM_RESERVED", ICM_RESERVED),
    ("ACMDM_USER", ACMDM_USER),
    ("ACMDM_BASE", ACMDM_BASE),
    ("DRV_RESERVED", DRV_RESERVED),
];

/// The name of `msg` with no driver class known.
///
/// Standard messages get their `DRV_*` name; 0x0801–0x3FFF is `0x0801 (reserved)`
/// (its meaning depends on the class); `DRV_USER` and above is `DRV_USER+n`, except
/// the VfW and ACM system ranges, `ICM_RESERVED+n` (0x5000–0x5FFF) and `ACMDM_BASE+n`
/// (0x6000–0x6FFF), whose meaning is fixed by their class. Anything else is
/// `0x000D (undefined)`.
///
/// ```
/// use drvproc::message_name;
/// assert_eq!(message_name(3), "DRV_OPEN");
/// assert_eq!(message_name(0x4001), "DRV_USER+1");
/// assert_eq!(message_name(0x600A), "ACMDM_BASE+10");
/// assert_eq!(message_name(0x0801), "0x0801 (reserved)");
/// ```
pub fn message_name(msg: Msg) -> Cow<'static, str> {
    message_name_for(msg, DriverClass::Generic)
}

/// The name of `msg` as the given class of driver understands it.
///
/// ```
/// use drvproc::{message_name_for, DriverClass};
/// assert_eq!(message_name_for(0x4004, DriverClass::Icm), "ICM_USER+4");
/// assert_eq!(message_name_for(0x0806, DriverClass::Mci), "MCI_PLAY");
/// ```
pub fn message_name_for(msg: Msg, class: DriverClass) -> Cow<'static, str> {
    if let Some((_, name)) = STANDARD.iter().find(|(m, _)| *m == msg) {
        return Cow::Borrowed(name);
    }
    if class == DriverClass::Mci
        && let Some((_, name)) = MCI.iter().find(|(m, _)| *m == msg)
    {
        return Cow::Borrowed(name);
    }
    let relative = |base: &str, base_value: Msg| Cow::Owned(format!("{base}+{}", msg - base_value));
    match msg {
        DRV_USER..=0x4FFF if class == DriverClass::Icm => relative("ICM_USER", ICM_USER),
        DRV_USER..=0x5FFF if class == DriverClass::Acm => relative("ACMDM_USER", ACMDM_USER),
        ICM_RESERVED..=0x5FFF => relative("ICM_RESERVED", ICM_RESERVED),
        ACMDM_BASE..=ACMDM_RESERVED_HIGH => relative("ACMDM_BASE", ACMDM_BASE),
        DRV_USER.. => relative("DRV_USER", DRV_USER),
        DRV_RESERVED..DRV_USER => Cow::Owned(format!("0x{msg:04X} (reserved)")),
        _ => Cow::Owned(format!("0x{msg:04X} (undefined)")),
    }
}

/// Why [`parse_message`] rejected a string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseMessageError {
    /// Neither a known name, `BASE+n`, nor a number.
    #[error("unknown message {text:?}: expected a DRV_* name, BASE+n (e.g. DRV_USER+3) or a number")]
    Unknown { text: String },
    /// A well-formed number (or `BASE+n`) that does not fit a message, which is 32
    /// bits wide (`UINT`).
    #[error("message {text:?} is out of range: messages are 32-bit (0 to 0xFFFFFFFF)")]
    OutOfRange { text: String },
}

/// Parses a message as people write it: a name (`DRV_QUERYCONFIGURE`, `MCI_PLAY`),
/// a base plus an offset (`DRV_USER+3`, `ACMDM_BASE+0x0A`), or a number (`16385`,
/// `0x4001`). Names are case-insensitive. The inverse of [`message_name`] for every
/// name it produces.
///
/// ```
/// use drvproc::parse_message;
/// assert_eq!(parse_message("DRV_USER+3"), Ok(0x4003));
/// assert_eq!(parse_message("drv_open"), Ok(3));
/// assert_eq!(parse_message("0x0801 (reserved)"), Ok(0x0801));
/// assert!(parse_message("DRV_BOGUS").is_err());
/// ```
pub fn parse_message(text: &str) -> Result<Msg, ParseMessageError> {
    let err = || ParseMessageError::Unknown { text: text.to_string() };
    let too_big = || ParseMessageError::OutOfRange { text: text.to_string() };
    let trimmed = text.trim();
    // Accept message_name's own "0x0801 (reserved)" / "(undefined)" forms.
    let trimmed = trimmed
        .strip_suffix("(reserved)")
        .or_else(|| trimmed.strip_suffix("(undefined)"))
        .map_or(trimmed, str::trim_end);
    if let Some(n) = parse_number(trimmed) {
        return Msg::try_from(n).map_err(|_| too_big());
    }
    let upper = trimmed.to_ascii_uppercase();
    let (name, offset) = match upper.split_once('+') {
        Some((name, offset)) => (name.trim(), parse_number(offset.trim()).ok_or_else(err)?),
        None => (upper.as_str(), 0),
    };
    let base = STANDARD
        .iter()
        .chain(MCI.iter())
        .map(|(m, n)| (*n, *m))
        .chain(BASES.iter().copied())
        .find(|(n, _)| *n == name)
        .map(|(_, m)| m)
        .ok_or_else(err)?;
    Msg::try_from(u128::from(base) + offset).map_err(|_| too_big())
}

/// A decimal or `0x` hex number of any size, so that one too big for a message is
/// told apart from one that is not a number at all.
fn parse_number(text: &str) -> Option<u128> {
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u128::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

/// A `Display` wrapper that names a message only when it is printed, so a disabled
/// `tracing` span or log line costs no formatting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MessageName(pub Msg);

impl fmt::Display for MessageName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&message_name(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_names() {
        let names = [
            (1, "DRV_LOAD"),
            (2, "DRV_ENABLE"),
            (3, "DRV_OPEN"),
            (4, "DRV_CLOSE"),
            (5, "DRV_DISABLE"),
            (6, "DRV_FREE"),
            (7, "DRV_CONFIGURE"),
            (8, "DRV_QUERYCONFIGURE"),
            (9, "DRV_INSTALL"),
            (10, "DRV_REMOVE"),
            (11, "DRV_EXITSESSION"),
            (12, "DRV_EXITAPPLICATION"),
            (15, "DRV_POWER"),
            (0x0800, "DRV_RESERVED"),
        ];
        for (msg, name) in names {
            assert_eq!(message_name(msg), name);
            for class in [DriverClass::Icm, DriverClass::Acm, DriverClass::Mci] {
                assert_eq!(message_name_for(msg, class), name);
            }
        }
    }

    #[test]
    fn generic_ranges() {
        assert_eq!(message_name(0), "0x0000 (undefined)");
        assert_eq!(message_name(0x000D), "0x000D (undefined)");
        assert_eq!(message_name(0x07FF), "0x07FF (undefined)");
        assert_eq!(message_name(0x0801), "0x0801 (reserved)");
        assert_eq!(message_name(0x080B), "0x080B (reserved)");
        assert_eq!(message_name(0x3FFF), "0x3FFF (reserved)");
        assert_eq!(message_name(0x4000), "DRV_USER+0");
        assert_eq!(message_name(0x4001), "DRV_USER+1");
        assert_eq!(message_name(0x4FFF), "DRV_USER+4095");
        assert_eq!(message_name(0x5000), "ICM_RESERVED+0");
        assert_eq!(message_name(0x500A), "ICM_RESERVED+10");
        assert_eq!(message_name(0x600A), "ACMDM_BASE+10");
        assert_eq!(message_name(0x6FFF), "ACMDM_BASE+4095");
        assert_eq!(message_name(0x7000), "DRV_USER+12288");
        assert_eq!(message_name(0x1_0000), "DRV_USER+49152");
    }

    #[test]
    fn class_ranges() {
        assert_eq!(message_name_for(0x4004, DriverClass::Icm), "ICM_USER+4");
        assert_eq!(message_name_for(0x5002, DriverClass::Icm), "ICM_RESERVED+2");
        assert_eq!(message_name_for(0x4004, DriverClass::Acm), "ACMDM_USER+4");
        assert_eq!(message_name_for(0x5004, DriverClass::Acm), "ACMDM_USER+4100");
        assert_eq!(message_name_for(0x604C, DriverClass::Acm), "ACMDM_BASE+76");
        assert_eq!(message_name_for(0x0801, DriverClass::Mci), "MCI_OPEN_DRIVER");
        assert_eq!(message_name_for(0x0809, DriverClass::Mci), "MCI_PAUSE");
        assert_eq!(message_name_for(0x080A, DriverClass::Mci), "0x080A (reserved)");
        assert_eq!(message_name_for(0x4004, DriverClass::Mci), "DRV_USER+4");
    }

    #[test]
    fn parse_round_trips_every_16_bit_name() {
        for class in [DriverClass::Generic, DriverClass::Icm, DriverClass::Acm, DriverClass::Mci] {
            for msg in 0..=0xFFFFu32 {
                let name = message_name_for(msg, class);
                assert_eq!(parse_message(&name), Ok(msg), "{name}");
            }
        }
    }

    #[test]
    fn parse_forms() {
        assert_eq!(parse_message("DRV_QUERYCONFIGURE"), Ok(8));
        assert_eq!(parse_message(" drv_user + 3 "), Ok(0x4003));
        assert_eq!(parse_message("ACMDM_BASE+0x0A"), Ok(0x600A));
        assert_eq!(parse_message("16385"), Ok(0x4001));
        assert_eq!(parse_message("0x4001"), Ok(0x4001));
        assert_eq!(parse_message("mci_play"), Ok(0x0806));
        for bad in ["", "DRV_", "DRV_USER+", "DRV_USER+x", "NOPE+1", "0xZZ", "-1"] {
            let err = parse_message(bad).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!(
                    "unknown message {bad:?}: expected a DRV_* name, BASE+n (e.g. DRV_USER+3) or a number"
                )
            );
        }
    }

    #[test]
    fn out_of_range_is_not_unknown() {
        assert_eq!(parse_message("0xFFFFFFFF"), Ok(u32::MAX));
        assert_eq!(parse_message("DRV_USER+0xFFFFBFFF"), Ok(u32::MAX));
        for big in ["0x1FFFFFFFF", "4294967296", "DRV_USER+4294967295", "DRV_USER+0xFFFFC000"] {
            assert_eq!(
                parse_message(big).unwrap_err().to_string(),
                format!("message {big:?} is out of range: messages are 32-bit (0 to 0xFFFFFFFF)")
            );
        }
    }

    #[test]
    fn lazy_display() {
        assert_eq!(MessageName(DRV_CLOSE).to_string(), "DRV_CLOSE");
        assert_eq!(MessageName(0x4002).to_string(), "DRV_USER+2");
    }
}
