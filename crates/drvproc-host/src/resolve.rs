//! Turning a driver name into files to try (spec §8, determinations D14, D18, D19).

use std::path::{Path, PathBuf};

/// Splits a registry value `file args` at the first space; blanks before the args
/// are skipped, and empty args are absent (`DRV_OPEN` then gets NULL).
///
/// ```
/// assert_eq!(drvproc_host::split_entry("msadp32.acm  rate=8000"), ("msadp32.acm", Some("rate=8000")));
/// assert_eq!(drvproc_host::split_entry("iccvid.dll"), ("iccvid.dll", None));
/// ```
pub fn split_entry(value: &str) -> (&str, Option<&str>) {
    let value = value.trim_start();
    match value.split_once(' ') {
        Some((file, rest)) => {
            let args = rest.trim_start_matches(' ');
            (file, (!args.is_empty()).then_some(args))
        }
        None => (value, None),
    }
}

/// Whether `file` names a path (used as given) rather than a bare file name.
pub(crate) fn is_path(file: &str) -> bool {
    file.contains('/') || (cfg!(windows) && (file.contains('\\') || file.contains(':')))
}

/// The sections to look an alias up in: `MCI32` falls back to `MCI` (D19).
pub(crate) fn sections_for(section: &str) -> Vec<&str> {
    if section.eq_ignore_ascii_case("mci32") { vec![section, "MCI"] } else { vec![section] }
}

/// Where bare file names are looked for.
#[derive(Clone, Debug, Default)]
pub(crate) struct SearchPath {
    /// `$DRVPROC_PATH` or the manager option.
    pub(crate) dirs: Vec<PathBuf>,
    /// The directory of the configuration file.
    pub(crate) config_dir: Option<PathBuf>,
}

/// A file to hand to the platform loader.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Target {
    /// A file that exists at this path (or a path given with a directory part).
    Path(PathBuf),
    /// A bare name not found in our directories: the platform loader's own search.
    System(String),
}

impl SearchPath {
    /// Locates `file`: a path is used as given; a bare name is looked for in the
    /// search directories, then the config directory, then left to the platform
    /// loader. The current directory is never searched.
    pub(crate) fn locate(&self, file: &str) -> Target {
        if is_path(file) {
            return Target::Path(PathBuf::from(file));
        }
        self.dirs
            .iter()
            .chain(self.config_dir.iter())
            .map(|d| d.join(file))
            .find(|p| p.is_file())
            .map_or_else(|| Target::System(file.to_string()), Target::Path)
    }

    /// "in /a:/b (searched DRVPROC_PATH, config dir)" for error messages.
    pub(crate) fn describe(&self) -> String {
        let dirs: Vec<&Path> = self.dirs.iter().chain(self.config_dir.iter()).map(PathBuf::as_path).collect();
        let joined = std::env::join_paths(&dirs)
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|_| format!("{dirs:?}"));
        let mut searched = Vec::new();
        if !self.dirs.is_empty() {
            searched.push("DRVPROC_PATH");
        }
        if self.config_dir.is_some() {
            searched.push("config dir");
        }
        searched.push("system library path");
        if dirs.is_empty() {
            format!("(searched {})", searched.join(", "))
        } else {
            format!("in {joined} (searched {})", searched.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_split_at_the_first_space() {
        assert_eq!(split_entry("imaadp32.acm"), ("imaadp32.acm", None));
        assert_eq!(split_entry("a.so   x y  z"), ("a.so", Some("x y  z")));
        assert_eq!(split_entry("a.so   "), ("a.so", None));
        assert_eq!(split_entry("  a.so b"), ("a.so", Some("b")));
    }

    #[test]
    fn mci32_falls_back_to_mci() {
        assert_eq!(sections_for("MCI32"), ["MCI32", "MCI"]);
        assert_eq!(sections_for("mci"), ["mci"]);
        assert_eq!(sections_for("Drivers32"), ["Drivers32"]);
    }

    #[test]
    fn paths_are_used_as_given() {
        let sp = SearchPath::default();
        assert_eq!(sp.locate("./x.so"), Target::Path("./x.so".into()));
        assert_eq!(sp.locate("libnothere.so"), Target::System("libnothere.so".into()));
        assert_eq!(sp.describe(), "(searched system library path)");
    }
}
