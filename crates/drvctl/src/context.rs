//! What every command needs: where the registry is, and a manager reading it.

use std::path::PathBuf;

use drvproc_host::{DriverManager, ManagerOptions, Registry};

use crate::error::{CliError, CliResult};

/// The global options, resolved.
#[derive(Clone, Debug)]
pub struct Ctx {
    /// `--config`, else the default location (`$DRVPROC_CONFIG`, XDG).
    pub config: Option<PathBuf>,
}

impl Ctx {
    /// A relative path is made absolute here, once: the manager ignores search
    /// locations relative to the current directory (the registry file's directory is
    /// one), and a child drvctl must read the same file wherever it runs.
    pub fn new(config: Option<PathBuf>) -> Self {
        let config = config.or_else(Registry::default_path);
        Ctx { config: config.map(|c| std::path::absolute(&c).unwrap_or(c)) }
    }

    /// The registry file; an error when no location is known.
    pub fn config_path(&self) -> CliResult<PathBuf> {
        self.config.clone().ok_or_else(|| {
            CliError::Usage("no registry file: pass --config PATH or set DRVPROC_CONFIG (or HOME)".into())
        })
    }

    pub fn registry(&self) -> CliResult<Registry> {
        Ok(Registry::new(self.config_path()?))
    }

    /// A manager reading this registry, with the search path from `$DRVPROC_PATH`.
    pub fn manager(&self) -> DriverManager {
        let mut options = ManagerOptions::new();
        if let Some(config) = &self.config {
            options = options.config_path(config);
        }
        DriverManager::new(options)
    }

    /// The arguments that give a child drvctl the same registry, and with `-v` the
    /// same call log (in colour if drvctl's is), which drvctl relays from its stderr.
    pub fn child_args(&self) -> Vec<std::ffi::OsString> {
        let mut args: Vec<std::ffi::OsString> = match &self.config {
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
