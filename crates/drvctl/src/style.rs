//! Colour: decided once per run from `--color`, `NO_COLOR` (https://no-color.org) and
//! `CLICOLOR_FORCE`, in that order, then from whether stdout is a terminal.

use std::io::IsTerminal;
use std::sync::OnceLock;

use crate::cli::ColorWhen;

static ON: OnceLock<bool> = OnceLock::new();

/// Whether to colour, for `--color when` and the given environment lookup. An
/// explicit `always`/`never` wins over the environment, because the person typing it
/// asked for exactly that; in `auto`, a set `NO_COLOR` wins over `CLICOLOR_FORCE`
/// (turning colour off is the safer of two conflicting wishes).
pub fn decide(when: ColorWhen, var: impl Fn(&str) -> Option<String>, terminal: bool) -> bool {
    let set = |name: &str| var(name).is_some_and(|v| !v.is_empty());
    match when {
        ColorWhen::Always => true,
        ColorWhen::Never => false,
        ColorWhen::Auto if set("NO_COLOR") => false,
        ColorWhen::Auto if set("CLICOLOR_FORCE") && var("CLICOLOR_FORCE").as_deref() != Some("0") => true,
        ColorWhen::Auto => terminal,
    }
}

/// Fixes the choice for this run; the first call wins.
pub fn init(when: ColorWhen) {
    let _ = ON.set(decide(when, |n| std::env::var(n).ok(), std::io::stdout().is_terminal()));
}

fn enabled() -> bool {
    *ON.get_or_init(|| decide(ColorWhen::Auto, |n| std::env::var(n).ok(), std::io::stdout().is_terminal()))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> =
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |n| pairs.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone())
    }

    #[test]
    fn the_order_of_the_rules() {
        use ColorWhen::*;
        assert!(decide(Auto, env(&[]), true));
        assert!(!decide(Auto, env(&[]), false));
        assert!(!decide(Auto, env(&[("NO_COLOR", "1")]), true));
        assert!(decide(Auto, env(&[("NO_COLOR", "")]), true), "an empty NO_COLOR is unset");
        assert!(decide(Auto, env(&[("CLICOLOR_FORCE", "1")]), false));
        assert!(!decide(Auto, env(&[("CLICOLOR_FORCE", "0")]), false));
        assert!(!decide(Auto, env(&[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]), false));
        assert!(decide(Always, env(&[("NO_COLOR", "1")]), false));
        assert!(!decide(Never, env(&[("CLICOLOR_FORCE", "1")]), true));
    }
}
