//! Turning a driver name into files to try (spec §8, determinations D14, D18, D19).

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};

use drvproc::{DriverProc, Hdrvr, LParam};

use crate::error::OpenError;
use crate::lifecycle::Attempt;
use crate::manager::ManagerState;
use crate::module::Module;
use crate::modules::Hosting;
use crate::registry::{DRIVERS32, Isolation};

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

/// Whether `file` names a path (used as given) rather than a bare file name, which
/// is looked for in the search locations (and a name that is no file may be an
/// alias). On Windows `\` and a drive's `:` make paths too. Tools that report on
/// what `open` would do tell names apart with this same rule.
pub fn is_path(file: &str) -> bool {
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
    /// The search locations of a manager: `dirs` (`None`: `$DRVPROC_PATH`), then the
    /// directory of the configuration file `config_path`.
    ///
    /// A relative location is dropped with a warning: it would name another place
    /// for every current directory, and a file planted in the current directory
    /// must never be loaded by a bare name. (A relative `config_path` is still read
    /// as the registry, as the caller named it; only its directory is not searched.)
    pub(crate) fn new(dirs: Option<Vec<PathBuf>>, config_path: Option<&Path>) -> SearchPath {
        fn absolute_or_warn(dir: &Path, origin: &str) -> bool {
            let absolute = dir.is_absolute();
            if !absolute {
                tracing::warn!(
                    "ignoring {} from {origin}: not an absolute path (driver files are never looked for relative \
                     to the current directory)",
                    dir.display()
                );
            }
            absolute
        }
        let (dirs, origin) = match dirs {
            Some(dirs) => (dirs, "the search path"),
            None => {
                let env = std::env::var_os("DRVPROC_PATH").filter(|v| !v.is_empty());
                (env.map(|v| std::env::split_paths(&v).collect()).unwrap_or_default(), "DRVPROC_PATH")
            }
        };
        let dirs =
            dirs.into_iter().filter(|d| !d.as_os_str().is_empty() && absolute_or_warn(d, origin)).collect();
        let config_dir = config_path
            .and_then(Path::parent)
            .map(|d| if d.as_os_str().is_empty() { Path::new(".") } else { d })
            .filter(|d| absolute_or_warn(d, "the configuration file's directory"))
            .map(Path::to_path_buf);
        SearchPath { dirs, config_dir }
    }

    /// The directories bare names are looked for in, in order. [`new`](Self::new)
    /// keeps only absolute ones; they are filtered again here because the current
    /// directory must never be searched, however this value was built.
    /// The config directory comes last, and not again when it is a search directory
    /// already (nothing to find there the second time).
    fn locations(&self) -> (Vec<&Path>, bool, bool) {
        let dirs: Vec<&Path> = self.dirs.iter().map(PathBuf::as_path).filter(|d| d.is_absolute()).collect();
        let config_dir = self.config_dir.as_deref().filter(|d| d.is_absolute());
        let (any_dirs, has_config) = (!dirs.is_empty(), config_dir.is_some());
        let config_dir = config_dir.filter(|c| !dirs.contains(c));
        (dirs.into_iter().chain(config_dir).collect(), any_dirs, has_config)
    }

    /// Locates `file`: a path is used as given; a bare name is looked for in the
    /// search directories, then the config directory, then left to the platform
    /// loader. The current directory is never searched.
    pub(crate) fn locate(&self, file: &str) -> Target {
        if is_path(file) {
            return Target::Path(PathBuf::from(file));
        }
        self.locations()
            .0
            .into_iter()
            .map(|d| d.join(file))
            .find(|p| crate::loader::is_regular_file(p))
            .map_or_else(|| Target::System(file.to_string()), Target::Path)
    }

    /// "in /a:/b (searched DRVPROC_PATH, config dir, system library path)" for
    /// error messages; the directories are joined with the platform's separator
    /// (`;` on Windows), as `DRVPROC_PATH` is written there.
    pub(crate) fn describe(&self) -> String {
        self.describe_failure(None, None)
    }

    /// [`describe`](Self::describe) for a search for `file` that found nothing, with
    /// what the platform loader said. `file` is named when it is not the name the
    /// caller gave (an alias's file): the loader's words cannot be relied on for it,
    /// as Windows' "module could not be found" names no file.
    pub(crate) fn describe_failure(&self, file: Option<&str>, loader_said: Option<&str>) -> String {
        let (dirs, any_dirs, has_config) = self.locations();
        let joined = std::env::join_paths(&dirs)
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|_| format!("{dirs:?}"));
        let mut searched = Vec::new();
        if any_dirs {
            searched.push("DRVPROC_PATH");
        }
        if has_config {
            searched.push("config dir");
        }
        searched.push("system library path");
        let searched = match file {
            Some(file) => format!("for {file} in {}", searched.join(", ")),
            None => searched.join(", "),
        };
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

    pub(crate) fn open(
        &self,
        name: &str,
        section: Option<&str>,
        l2: LParam,
        options: crate::OpenOptions,
    ) -> Result<Hdrvr, OpenError> {
        if let Some(proc_) = self.function(name) {
            if options.isolation() == Some(true) {
                return Err(OpenError::CannotIsolate {
                    name: name.to_string(),
                    reason: "it is a function registered in this program",
                });
            }
            return self.open_function(name, proc_, l2);
        }
        // A file opened by its name is not an alias: the registry's marker is not read.
        let unmarked = Isolation::Off;
        let as_file = self.hosting(options, &unmarked);
        if section.is_none() {
            let cached = self
                .maps()
                .by_name
                .get(name)
                .filter(|m| m.serves_opens() && m.is_hosted() == as_file.hosted)
                .cloned();
            if let Some(module) = cached
                && let Attempt::Done(result) = self.open_instance(&module, None, l2)
            {
                return result;
            }
        }
        let mut file_error = None;
        if section.is_none() {
            let whole = self.try_file(name, name, None, l2, as_file);
            let split = match split_entry(name) {
                (file, Some(args))
                    if whole.as_ref().is_err_and(|e| matches!(e, OpenError::NotFound { .. })) =>
                {
                    Some(self.try_file(name, file, Some(args), l2, as_file))
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
            for s in &sections {
                if let Some((value, marked)) = registry.lookup_marked(s, name)? {
                    let (file, args) = split_entry(&value);
                    let target =
                        registry.entry_path(file).map_or_else(|| self.search.locate(file), Target::Path);
                    let hosting = self.hosting(options, &marked);
                    return self.try_target(name, file, target, args, l2, hosting);
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
            Some(r) => format!("no alias in {section_list} of {}", r.describe(sections[0])),
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
        hosting: Hosting<'_>,
    ) -> Result<Hdrvr, OpenError> {
        self.try_target(name, file, self.search.locate(file), args, l2, hosting)
    }

    /// Opens `file` (of the name `name`) found at `target`.
    pub(crate) fn try_target(
        &self,
        name: &str,
        file: &str,
        target: Target,
        args: Option<&str>,
        l2: LParam,
        hosting: Hosting<'_>,
    ) -> Result<Hdrvr, OpenError> {
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
            let module = self.module_for_target(name, file, &target, cache_as, hosting)?;
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
    fn paths_are_told_from_names() {
        assert!(is_path("/usr/lib/x.so") && is_path("sub/x.dll"));
        assert!(!is_path("msrle32.dll") && !is_path("vidc.mrle"));
        assert_eq!(is_path(r"C:\windows\system32\msrle32.dll"), cfg!(windows));
        assert_eq!(is_path("Z:x.dll"), cfg!(windows));
    }

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

    /// An absolute directory on this platform (a Windows path needs a drive).
    const ABS: &str = if cfg!(windows) { "C:\\abs" } else { "/abs" };

    #[test]
    fn relative_search_locations_are_dropped_with_a_warning() {
        let (sp, text) = crate::test_log::with_log(|| {
            let dirs = ["rel", "", ABS, "./here"].map(PathBuf::from).to_vec();
            SearchPath::new(Some(dirs), Some(Path::new("system.ini")))
        });
        assert_eq!(sp.dirs, [PathBuf::from(ABS)]);
        assert_eq!(sp.config_dir, None);
        let warnings: Vec<&str> = text.lines().map(|l| l.trim_start_matches(" WARN ")).collect();
        let tail =
            "not an absolute path (driver files are never looked for relative to the current directory)";
        assert_eq!(
            warnings,
            [
                format!("ignoring rel from the search path: {tail}"),
                format!("ignoring ./here from the search path: {tail}"),
                format!("ignoring . from the configuration file's directory: {tail}"),
            ]
        );
        let sp = SearchPath::new(Some(vec![]), Some(&Path::new(ABS).join("system.ini")));
        assert_eq!(sp.config_dir, Some(PathBuf::from(ABS)));
        // Built by hand with relative entries, it still searches only absolute ones.
        let by_hand = SearchPath { dirs: vec!["rel".into()], config_dir: Some("conf".into()) };
        assert_eq!(by_hand.locate("x.so"), Target::System("x.so".into()));
        assert_eq!(by_hand.describe(), "(searched system library path)");
    }

    #[test]
    fn paths_are_used_as_given() {
        let sp = SearchPath::default();
        assert_eq!(sp.locate("./x.so"), Target::Path("./x.so".into()));
        assert_eq!(sp.locate("libnothere.so"), Target::System("libnothere.so".into()));
        assert_eq!(sp.describe(), "(searched system library path)");
    }

    #[test]
    fn a_failure_names_the_file_when_it_is_not_the_name_given() {
        let sp = SearchPath { dirs: vec![PathBuf::from(ABS)], config_dir: None };
        assert_eq!(
            sp.describe_failure(Some("x.so"), Some("gone")),
            format!("in {ABS} (searched for x.so in DRVPROC_PATH, system library path; gone)")
        );
        assert_eq!(
            sp.describe_failure(None, None),
            format!("in {ABS} (searched DRVPROC_PATH, system library path)")
        );
    }

    #[test]
    fn a_config_dir_also_on_the_search_path_is_searched_and_named_once() {
        let sp = SearchPath::new(Some(vec![PathBuf::from(ABS)]), Some(&Path::new(ABS).join("system.ini")));
        assert_eq!(sp.locations().0, [Path::new(ABS)]);
        assert_eq!(
            sp.describe(),
            format!("in {ABS} (searched DRVPROC_PATH, config dir, system library path)")
        );
    }
}
