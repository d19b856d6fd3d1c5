//! One module per group of commands.

pub mod check;
pub mod convert;
pub mod demo;
pub mod doctor;
pub mod drivers;
pub mod isolation;
pub mod messages;
pub mod registration;

use crate::error::{CliError, CliResult};

/// Parses a number as people write it: decimal, `0x` hex, optionally negative.
pub fn parse_number(text: &str) -> CliResult<isize> {
    let t = text.trim();
    let (negative, digits) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t),
    };
    let value = match digits.strip_prefix("0x").or_else(|| digits.strip_prefix("0X")) {
        Some(hex) => usize::from_str_radix(hex, 16).map(|v| v as isize),
        None => digits.parse::<isize>(),
    }
    .map_err(|_| CliError::Usage(format!("not a number: {text:?} (decimal, 0x hex, or negative)")))?;
    Ok(if negative { value.wrapping_neg() } else { value })
}

/// `--timeout SECONDS` as a duration; 0 is a usage error (it would fail every driver
/// at once), with `per` saying what the seconds are for ("per rule").
pub fn timeout(seconds: u64, per: &str) -> CliResult<std::time::Duration> {
    if seconds == 0 {
        return Err(CliError::Usage(format!("--timeout must be at least 1 (seconds {per})")));
    }
    Ok(std::time::Duration::from_secs(seconds))
}

/// `DRVCNF_*` answers in words.
pub fn drvcnf(answer: isize) -> &'static str {
    match answer {
        0 => "DRVCNF_CANCEL",
        1 => "DRVCNF_OK",
        2 => "DRVCNF_RESTART",
        _ => "not a DRVCNF_* value",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(parse_number("42").unwrap(), 42);
        assert_eq!(parse_number("-1").unwrap(), -1);
        assert_eq!(parse_number("0x10").unwrap(), 16);
        assert_eq!(parse_number("0xffffffffffffffff").unwrap(), -1);
        assert!(parse_number("x").is_err());
    }
}
