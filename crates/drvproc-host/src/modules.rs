//! The module maps of one manager: which loaded module a path, a platform handle,
//! a function or a whole file name leads to, so each library is mapped and gets
//! `DRV_LOAD` once however it is named (spec §7.1).

use std::path::PathBuf;
use std::sync::{Arc, MutexGuard, PoisonError};

use crate::error::OpenError;
use crate::loader::{self, LoadError};
use crate::manager::ManagerState;
use crate::module::Module;
use crate::registry::Isolation;
use crate::resolve::Target;

/// A map with the fast hasher (see this crate's `Cargo.toml`).
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

#[derive(Default)]
pub(crate) struct ModuleMaps {
    /// By platform module handle: one module per mapped library, whatever the path.
    pub(crate) by_handle: HashMap<usize, Arc<Module>>,
    /// Hosted modules by the device and inode of their file: one module (and one
    /// host process) per file, whatever the path.
    pub(crate) by_file: HashMap<(u64, u64), Arc<Module>>,
    /// By the path it was opened with and whether it is hosted in a process of its
    /// own, so reopening skips the platform loader (or the host's start). A file may
    /// have one module of each kind: which one an open gets is decided by its
    /// [`Hosting`].
    pub(crate) by_path: HashMap<(Target, bool), Arc<Module>>,
    /// By function address, for registered function drivers.
    pub(crate) by_function: HashMap<usize, Arc<Module>>,
    /// By the exact name a module was opened with as a whole file name (no args, no
    /// section): a later open of the same name goes straight to the loaded module,
    /// like `LoadLibrary` of a loaded module's name, with no file-system access.
    pub(crate) by_name: HashMap<String, Arc<Module>>,
}

impl ModuleMaps {
    /// Records that `target` (and `name`, when it was opened as a whole file name)
    /// lead to `module`.
    pub(crate) fn remember(&mut self, target: &Target, name: Option<&str>, module: &Arc<Module>) {
        self.by_path.insert((target.clone(), module.is_hosted()), module.clone());
        if let Some(name) = name {
            self.by_name.insert(name.to_string(), module.clone());
        }
    }
}

/// Where the module of one open is to run, as decided from the open's options, the
/// registry's marker of the alias and the manager's option, in that order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Hosting<'a> {
    /// In a host process of its own.
    pub(crate) hosted: bool,
    /// Asked for by the open or the marker: a driver that cannot be hosted is then
    /// an error. The manager-wide option leaves such drivers in the process.
    pub(crate) required: bool,
    /// The host group the alias's marker names (`group:NAME`), which a host started
    /// for the file joins instead of the manager's group. It does not move a file
    /// that is hosted already: see [`Isolation::Group`](crate::Isolation::Group).
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    pub(crate) group: Option<&'a str>,
}

impl ManagerState {
    /// The hosting of an open with `options` of a driver whose alias's marker in
    /// the registry asks for `marked`.
    pub(crate) fn hosting<'a>(&self, options: crate::OpenOptions, marked: &'a Isolation) -> Hosting<'a> {
        let group = marked.group();
        match options.isolation() {
            Some(on) => Hosting { hosted: on, required: on, group },
            None if marked.is_on() => Hosting { hosted: true, required: true, group },
            None => Hosting { hosted: self.isolate_all, required: false, group },
        }
    }

    /// Whether a module found for `target` can be hosted as `hosting` asks; an
    /// error when it was required and cannot.
    fn hosted_here(name: &str, target: &Target, hosting: Hosting<'_>) -> Result<bool, OpenError> {
        if !hosting.hosted {
            return Ok(false);
        }
        let refused = |reason| {
            if hosting.required {
                Err(OpenError::CannotIsolate { name: name.to_string(), reason })
            } else {
                Ok(false)
            }
        };
        if !cfg!(target_os = "linux") {
            return refused("host processes are supported on Linux only");
        }
        match target {
            Target::Path(_) => Ok(true),
            Target::System(_) => refused(
                "its file is neither named by a path nor found on the search path, and a host \
                 process loads drivers by path only",
            ),
        }
    }

    /// The live module already opened by `target` in this kind (hosted or not).
    fn cached(&self, target: &Target, hosted: bool, cache_as: Option<&str>) -> Option<Arc<Module>> {
        let mut maps = self.maps();
        let key = (target.clone(), hosted);
        let m = maps.by_path.get(&key).filter(|m| m.serves_opens()).cloned()?;
        maps.remember(target, cache_as, &m);
        Some(m)
    }

    pub(crate) fn maps(&self) -> MutexGuard<'_, ModuleMaps> {
        self.modules.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn module_for_target(
        &self,
        name: &str,
        file: &str,
        target: &Target,
        cache_as: Option<&str>,
        hosting: Hosting<'_>,
    ) -> Result<Arc<Module>, OpenError> {
        #[allow(unused_mut)]
        let mut hosted = Self::hosted_here(name, target, hosting)?;
        if let Some(m) = self.cached(target, hosted, cache_as) {
            return Ok(m);
        }
        // A file of the other width cannot be mapped here: it is always hosted, by
        // the host program of its width.
        #[cfg(target_os = "linux")]
        if let (false, Target::Path(p)) = (hosted, target)
            && crate::isolation::hosted::file_bits(p).is_some_and(|b| b != usize::BITS)
        {
            hosted = true;
            if let Some(m) = self.cached(target, hosted, cache_as) {
                return Ok(m);
            }
        }
        let path_text = match target {
            Target::Path(p) => p.display().to_string(),
            Target::System(s) => s.clone(),
        };
        #[cfg(target_os = "linux")]
        if let (true, Target::Path(p)) = (hosted, target) {
            loader::regular_file(p).map_err(|f| self.load_error(f, name, target, &path_text))?;
            return self.hosted_module(p, file, target, cache_as, path_text, hosting.group);
        }
        let loaded = loader::load(target).map_err(|f| self.load_error(f, name, target, &path_text))?;
        let mut maps = self.maps();
        if let Some(existing) = maps.by_handle.get(&loaded.raw_handle).filter(|m| !m.is_gone()).cloned() {
            // Same library under another path: one module (spec §7.1). Our extra
            // platform reference is released when `loaded` drops, after the lock.
            maps.remember(target, cache_as, &existing);
            drop(maps);
            drop(loaded);
            return Ok(existing);
        }
        let path = match target {
            Target::Path(p) => Some(p.clone()),
            Target::System(s) => Some(PathBuf::from(s)),
        };
        let display = if file == path_text { path_text } else { format!("{file} ({path_text})") };
        let module =
            Arc::new(Module::new(display, path, loaded.raw_handle, loaded.proc_, Some(loaded.library)));
        maps.by_handle.insert(module.raw_handle, module.clone());
        maps.remember(target, cache_as, &module);
        Ok(module)
    }

    /// The open error for a load failure of `target`.
    fn load_error(&self, failure: LoadError, name: &str, target: &Target, path_text: &str) -> OpenError {
        match failure {
            LoadError::NotFound { loader_said } => {
                let looked = match target {
                    Target::Path(p) => format!("(no file {})", p.display()),
                    Target::System(found) => {
                        self.search.describe_failure((found != name).then_some(found), loader_said.as_deref())
                    }
                };
                OpenError::NotFound { name: name.to_string(), looked }
            }
            LoadError::NotLoadable { message } => {
                OpenError::NotLoadable { path: path_text.to_string(), message }
            }
            LoadError::NoDriverProc => OpenError::NoDriverProc { path: path_text.to_string() },
        }
    }

    /// The module of the driver file at `path` in a host process of its own: the
    /// one already hosted for the same file (by device and inode, however it was
    /// named, as one library is one module in process), or a new host. A new host
    /// joins the host group `group` (an alias's marker's), else the manager's.
    ///
    /// A file hosted already keeps its host whatever `group` says: moving it would
    /// load it a second time (a second `DRV_LOAD`, and two copies of its state)
    /// while instances of the first are open.
    #[cfg(target_os = "linux")]
    fn hosted_module(
        &self,
        path: &std::path::Path,
        file: &str,
        target: &Target,
        cache_as: Option<&str>,
        path_text: String,
        group: Option<&str>,
    ) -> Result<Arc<Module>, OpenError> {
        use std::os::unix::fs::MetadataExt;

        let identity = std::fs::metadata(path)
            .map(|m| (m.dev(), m.ino()))
            .map_err(|e| OpenError::NotLoadable { path: path_text.clone(), message: e.to_string() })?;
        {
            let mut maps = self.maps();
            if let Some(existing) = maps.by_file.get(&identity).filter(|m| m.serves_opens()).cloned() {
                maps.remember(target, cache_as, &existing);
                return Ok(existing);
            }
        }
        let display = if file == path_text { path_text.clone() } else { format!("{file} ({path_text})") };
        let module = crate::isolation::hosted::start(
            &self.host,
            path,
            display,
            self.table.identity(),
            group.or(self.host.group.as_deref()),
            &self.host_groups,
        )
        .map_err(|message| OpenError::NotLoadable { path: path_text, message })?;
        let module = Arc::new(module);
        let mut maps = self.maps();
        // Another thread may have started a host for the same file meanwhile: the
        // first one recorded wins, and this one's host ends as `module` drops.
        if let Some(existing) = maps.by_file.get(&identity).filter(|m| m.serves_opens()).cloned() {
            maps.remember(target, cache_as, &existing);
            return Ok(existing);
        }
        maps.by_file.insert(identity, module.clone());
        maps.remember(target, cache_as, &module);
        Ok(module)
    }

    pub(crate) fn forget_module(&self, module: &Module) {
        let mut maps = self.maps();
        let other = |m: &Arc<Module>| !std::ptr::eq(&**m, module);
        maps.by_handle.retain(|_, m| other(m));
        maps.by_file.retain(|_, m| other(m));
        maps.by_path.retain(|_, m| other(m));
        maps.by_function.retain(|_, m| other(m));
        maps.by_name.retain(|_, m| other(m));
    }
}
