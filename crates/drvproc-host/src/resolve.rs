//! Turning a driver name into files to try (spec §8, determinations D14, D18, D19).

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};

use drvproc::{DriverProc, Hdrvr, LParam};

use crate::error::OpenError;
use crate::lifecycle::Attempt;
use crate::manager::ManagerState;
use crate::module::Module;
use crate::registry::DRIVERS32;

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

    /// "in /a:/b (searched DRVPROC_PATH, config dir, system library path)" for
    /// error messages.
    pub(crate) fn describe(&self) -> String {
        self.describe_failure(None)
    }

    /// [`describe`](Self::describe) with what the platform loader said when its own
    /// search found nothing either.
    pub(crate) fn describe_failure(&self, loader_said: Option<&str>) -> String {
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
        let searched = searched.join(", ");
        let said = loader_said.map_or(String::new(), |m| format!("; {m}"));
        if dirs.is_empty() {
            format!("(searched {searched}{said})")
        } else {
            format!("in {joined} (searched {searched}{said})")
        }
    }
}

/// The §8 search as the manager runs it: functions, cached whole names, the name as
/// a file (whole, then split), then aliases.
impl ManagerState {
    pub(crate) fn function(&self, name: &str) -> Option<DriverProc> {
        if self.function_count.load(Ordering::Acquire) == 0 {
            return None;
        }
        let functions = self.functions.read().unwrap_or_else(PoisonError::into_inner);
        functions.iter().find(|(a, _)| a.eq_ignore_ascii_case(name)).map(|(_, p)| *p)
    }

    pub(crate) fn open(&self, name: &str, section: Option<&str>, l2: LParam) -> Result<Hdrvr, OpenError> {
        if let Some(proc_) = self.function(name) {
            return self.open_function(name, proc_, l2);
        }
        if section.is_none() {
            let cached = self.maps().by_name.get(name).filter(|m| !m.is_gone()).cloned();
            if let Some(module) = cached
                && let Attempt::Done(result) = self.open_instance(&module, None, l2)
            {
                return result;
            }
        }
        let mut file_error = None;
        if section.is_none() {
            let whole = self.try_file(name, name, None, l2);
            let split = match split_entry(name) {
                (file, Some(args))
                    if whole.as_ref().is_err_and(|e| matches!(e, OpenError::NotFound { .. })) =>
                {
                    Some(self.try_file(name, file, Some(args), l2))
                }
                _ => None,
            };
            match split.unwrap_or(whole) {
                Ok(h) => return Ok(h),
                Err(e) => file_error = Some(e),
            }
        }
        let section = section.unwrap_or(DRIVERS32);
        let sections = sections_for(section);
        if let Some(registry) = &self.registry {
            let doc = registry.read()?;
            for s in &sections {
                if let Some(value) = doc.get(s, name) {
                    let (file, args) = split_entry(value);
                    return self.try_file(name, file, args, l2);
                }
            }
        }
        // Nothing under that alias: a direct-file failure other than "not found" is
        // the more useful report (the file exists but is broken or refused).
        match file_error {
            Some(OpenError::NotFound { looked, .. }) => Err(self.not_found(name, Some(&looked), &sections)),
            Some(e) => Err(e),
            None => Err(self.not_found(name, None, &sections)),
        }
    }

    pub(crate) fn not_found(&self, name: &str, file_looked: Option<&str>, sections: &[&str]) -> OpenError {
        let file_part = file_looked.map_or(String::new(), |looked| format!("as a file {looked}; "));
        let section_list = sections.iter().map(|s| format!("[{s}]")).collect::<Vec<_>>().join(" or ");
        let alias_part = match &self.registry {
            Some(r) => format!("no alias in {section_list} of {}", r.path().display()),
            None => "no configuration file to look aliases up in".to_string(),
        };
        OpenError::NotFound { name: name.to_string(), looked: format!("({file_part}{alias_part})") }
    }

    pub(crate) fn try_file(
        &self,
        name: &str,
        file: &str,
        args: Option<&str>,
        l2: LParam,
    ) -> Result<Hdrvr, OpenError> {
        let target = self.search.locate(file);
        if let Target::Path(p) = &target
            && crate::loader::absent(p)
        {
            return Err(OpenError::NotFound {
                name: name.to_string(),
                looked: format!("(no file {})", p.display()),
            });
        }
        // A whole name that is a file is remembered for the fast path of later opens.
        let cache_as = (args.is_none() && file == name).then_some(name);
        loop {
            let module = self.module_for_target(name, file, &target, cache_as)?;
            match self.open_instance(&module, args, l2) {
                Attempt::Done(result) => return result,
                Attempt::Retry => continue,
            }
        }
    }

    pub(crate) fn open_function(
        &self,
        alias: &str,
        proc_: DriverProc,
        l2: LParam,
    ) -> Result<Hdrvr, OpenError> {
        loop {
            let module = {
                let mut maps = self.maps();
                let key = proc_ as usize;
                match maps.by_function.get(&key).filter(|m| !m.is_gone()) {
                    Some(m) => m.clone(),
                    None => {
                        let m = Arc::new(Module::new(alias.to_string(), None, 0, proc_, None));
                        maps.by_function.insert(key, m.clone());
                        m
                    }
                }
            };
            match self.open_instance(&module, None, l2) {
                Attempt::Done(result) => return result,
                Attempt::Retry => continue,
            }
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
