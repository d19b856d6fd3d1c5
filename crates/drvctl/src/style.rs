//! Colour, only on a terminal and never with `NO_COLOR` set (https://no-color.org).

use std::io::IsTerminal;
use std::sync::OnceLock;

fn enabled() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| {
        std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stdout().is_terminal()
    })
}

fn paint(text: &str, code: &str) -> String {
    if enabled() { format!("\x1b[{code}m{text}\x1b[0m") } else { text.to_string() }
}

pub fn pass(text: &str) -> String {
    paint(text, "32")
}

pub fn fail(text: &str) -> String {
    paint(text, "31;1")
}

pub fn dim(text: &str) -> String {
    paint(text, "2")
}

/// `PASS` or `FAIL`, coloured.
pub fn verdict(ok: bool) -> String {
    if ok { pass("PASS") } else { fail("FAIL") }
}
