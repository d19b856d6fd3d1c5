//! What every command needs: where the registry is, and a manager reading it.

use std::path::PathBuf;

use drvproc_host::{DriverManager, ManagerOptions, Registry};

use crate::error::{CliError, CliResult};

/// The global options, resolved.
#[derive(Clone, Debug)]
pub struct Ctx {
    /// `--config`, else the default location (`$DRVPROC_CONFIG`; XDG; on Windows
    /// `%WINDIR%\system.ini`).
    pub config: Option<PathBuf>,
    /// Whether the registry is Windows' own: the registry key read before `config`
    /// (Windows, with neither `--config` nor `$DRVPROC_CONFIG`).
    pub system_key: bool,
}

impl Ctx {
    /// A relative path is made absolute here, once: the manager ignores search
    /// locations relative to the current directory (the registry file's directory is
    /// one), and a child drvctl must read the same file wherever it runs.
    pub fn new(config: Option<PathBuf>) -> Self {
        let (config, system_key) = match config {
            Some(c) => (Some(c), false),
            None => match Registry::default_registry() {
                Some(r) => (Some(r.path().to_path_buf()), r.system_key().is_some()),
                None => (None, false),
            },
        };
        Ctx { config: config.map(|c| std::path::absolute(&c).unwrap_or(c)), system_key }
    }

    /// The registry file; an error when no location is known.
    pub fn config_path(&self) -> CliResult<PathBuf> {
        // Only a machine without HOME (or, on Windows, WINDIR) has no default.
        let default = if cfg!(windows) { "WINDIR" } else { "HOME" };
        self.config.clone().ok_or_else(|| {
            CliError::Usage(format!(
                "no registry file: pass --config PATH or set DRVPROC_CONFIG (or {default})"
            ))
        })
    }

    /// The registry: the file, or on Windows by default the registry key and
    /// `system.ini`.
    pub fn registry(&self) -> CliResult<Registry> {
        let path = self.config_path()?;
        #[cfg(windows)]
        if self.system_key {
            return Ok(Registry::windows(path));
        }
        Ok(Registry::new(path))
    }

    /// A manager reading this registry, with the search path from `$DRVPROC_PATH`.
    pub fn manager(&self) -> DriverManager {
        DriverManager::new(self.options())
    }

    /// The options of [`manager`](Self::manager).
    pub fn options(&self) -> ManagerOptions {
        let options = ManagerOptions::new();
        // Windows' own registry is the manager's default; naming its file would
        // leave the key out.
        match self.config.as_ref().filter(|_| !self.system_key) {
            Some(config) => options.config_path(config),
            None => options,
        }
    }

    /// Where aliases of `section` live, in words: the file, or on Windows the
    /// registry key and the file.
    pub fn describe(&self, section: &str) -> CliResult<String> {
        Ok(self.registry()?.describe(section))
    }

    /// The arguments that give a child drvctl the same registry, and with `-v` the
    /// same call log (in colour if drvctl's is), which drvctl relays from its stderr.
    pub fn child_args(&self) -> Vec<std::ffi::OsString> {
        // A child finds Windows' own registry by default, as this process did.
        let mut args: Vec<std::ffi::OsString> = match self.config.as_ref().filter(|_| !self.system_key) {
            Some(c) => vec!["--config".into(), c.clone().into_os_string()],
            None => Vec::new(),
        };
        let verbose = crate::output::verbosity();
        if verbose > 0 {
            args.push(format!("-{}", "v".repeat(verbose.into())).into());
            args.push("--color".into());
            args.push(if crate::output::ansi() { "always" } else { "never" }.into());
        }
        args
    }
}
