//! How a [`DriverManager`](crate::DriverManager) is configured.

use std::path::PathBuf;
use std::time::Duration;

/// Options of a driver manager. [`Default`] reads the environment when the manager
/// is created: the configuration from `$DRVPROC_CONFIG` (else, on Windows, the
/// registry key and `%WINDIR%\system.ini`; elsewhere the XDG location: see
/// [`Registry::default_registry`](crate::Registry::default_registry)) and the search
/// path from `$DRVPROC_PATH`.
#[derive(Clone, Debug)]
pub struct ManagerOptions {
    /// The registry file; `None`: the default location. A relative path is
    /// relative to the current directory, like a program argument; relative paths
    /// in the file are relative to the file's directory.
    pub config_path: Option<PathBuf>,
    /// Directories searched for bare driver file names, before the configuration
    /// file's directory and the platform loader's default; `None`: `$DRVPROC_PATH`
    /// (`:`-separated on Unix, `;` on Windows). Relative directories are ignored
    /// with a warning, as is the directory of a relative `config_path`: bare names
    /// are never looked for relative to the current directory.
    pub search_path: Option<Vec<PathBuf>>,
    /// Wine's two-phase session instance (spec §7.3 b, D5): a first open with
    /// `lParam2 != 0` first opens a hidden instance with `lParam2 = 0`. On by default.
    pub session_instance: bool,
    /// Most instances open at once (session instances included); opens beyond it
    /// fail with [`OpenError::TooManyInstances`](crate::OpenError::TooManyInstances).
    /// `None`: the most handles can address (2^24 − 1 on 64-bit targets).
    pub max_instances: Option<usize>,
    /// Hosts every driver file in a process of its own (`drvproc-hostd`), so a
    /// driver that crashes or hangs fails its calls instead of the application.
    /// Off by default; `DRVPROC_ISOLATE=1` turns it on. Linux only for now: on
    /// other platforms drivers stay in the process.
    ///
    /// Off, drivers may still be hosted one by one: an alias marked in the
    /// registry file ([`ISOLATE_SECTION`](crate::ISOLATE_SECTION), what `drvctl
    /// isolate ALIAS on` writes) and an open with [`OpenOptions::isolate`]`(true)`
    /// are. An open's option wins over the marker, which wins over this option;
    /// a marker may also name the host group (see [`host_group`](Self::host_group)).
    pub isolate: bool,
    /// The host program for isolated drivers; `None`: `$DRVPROC_HOSTD`, else
    /// `drvproc-hostd` beside the running program, else on `PATH`.
    pub host_program: Option<PathBuf>,
    /// The host program for 32-bit driver files (a `drvproc-hostd` built for
    /// i686), which a 64-bit application cannot load itself; `None`:
    /// `$DRVPROC_HOSTD32`, else `drvproc-hostd32` beside the running program. A
    /// 32-bit driver file is always hosted, whether or not [`isolate`](Self::isolate)
    /// is set, when this program exists.
    pub host_program_32: Option<PathBuf>,
    /// How long an isolated driver may take over one message before its host
    /// process is taken for hung and killed, with its process group (30 s).
    pub host_timeout: Duration,
    /// Confines the host processes of isolated drivers (Linux): no new privileges,
    /// and a Landlock ruleset that lets a host read only the system's libraries,
    /// the host program, its driver's directory and what [`HostSandbox`] adds.
    /// `None` (the default; `DRVPROC_SANDBOX=1` sets the best-effort one): not
    /// confined.
    pub host_sandbox: Option<HostSandbox>,
    /// Hosts every isolated driver file of this manager in one host process (of
    /// each width) named so, instead of one process per file: less memory and
    /// fewer processes, at the price of isolation between those drivers (a crash
    /// of one ends the others' host too, and their calls take turns on one
    /// channel). `None` (the default; `DRVPROC_HOST_GROUP=NAME` sets one): a
    /// process per file.
    ///
    /// An alias whose marker in the registry file names a group (`group:NAME` in
    /// [`ISOLATE_SECTION`](crate::ISOLATE_SECTION), what `drvctl isolate ALIAS on
    /// --group NAME` writes) is hosted in that group instead, whatever this option
    /// says; a marker that names this option's group shares its host.
    pub host_group: Option<String>,
}

/// What a sandboxed host process may touch beyond its driver's directory (read),
/// the system's library directories (read) and the host program.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostSandbox {
    /// Fail the open when the kernel cannot confine the host (no Landlock), instead
    /// of running it with `no_new_privs` alone and a warning.
    pub required: bool,
    /// More files or directories the driver may read.
    pub read: Vec<PathBuf>,
    /// Directories the driver may create files in and write to.
    pub write: Vec<PathBuf>,
}

impl Default for ManagerOptions {
    fn default() -> Self {
        ManagerOptions {
            config_path: None,
            search_path: None,
            session_instance: true,
            max_instances: None,
            isolate: std::env::var_os("DRVPROC_ISOLATE").is_some_and(|v| v == "1"),
            host_program: None,
            host_program_32: None,
            host_timeout: Duration::from_secs(30),
            host_group: std::env::var("DRVPROC_HOST_GROUP").ok().filter(|g| !g.is_empty()),
            host_sandbox: std::env::var_os("DRVPROC_SANDBOX")
                .is_some_and(|v| v == "1")
                .then(HostSandbox::default),
        }
    }
}

impl ManagerOptions {
    /// Options with every default.
    pub fn new() -> Self {
        Self::default()
    }

    /// Uses `path` as the registry file.
    pub fn config_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.config_path = Some(path.into());
        self
    }

    /// Searches these directories for bare file names.
    pub fn search_path<I, P>(mut self, dirs: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: Into<PathBuf>,
    {
        self.search_path = Some(dirs.into_iter().map(Into::into).collect());
        self
    }

    /// Switches the session-instance scheme on or off.
    pub fn session_instance(mut self, on: bool) -> Self {
        self.session_instance = on;
        self
    }

    /// Limits how many instances may be open at once.
    pub fn max_instances(mut self, limit: usize) -> Self {
        self.max_instances = Some(limit);
        self
    }

    /// Hosts every driver file in a process of its own (see [`isolate`](Self::isolate)).
    pub fn isolate(mut self, on: bool) -> Self {
        self.isolate = on;
        self
    }

    /// Sets how long an isolated driver may take over one message (see
    /// [`host_timeout`](Self::host_timeout)).
    pub fn host_timeout(mut self, limit: Duration) -> Self {
        self.host_timeout = limit;
        self
    }

    /// Confines the host processes of isolated drivers (see
    /// [`host_sandbox`](Self::host_sandbox)).
    pub fn host_sandbox(mut self, sandbox: HostSandbox) -> Self {
        self.host_sandbox = Some(sandbox);
        self
    }

    /// Uses `program` as the host process of 32-bit drivers (see
    /// [`host_program_32`](Self::host_program_32)).
    pub fn host_program_32(mut self, program: impl Into<PathBuf>) -> Self {
        self.host_program_32 = Some(program.into());
        self
    }

    /// Hosts the manager's isolated drivers in one host process named `group` (see
    /// [`host_group`](Self::host_group)).
    pub fn host_group(mut self, group: impl Into<String>) -> Self {
        self.host_group = Some(group.into());
        self
    }

    /// Uses `program` as the host process of isolated drivers.
    pub fn host_program(mut self, program: impl Into<PathBuf>) -> Self {
        self.host_program = Some(program.into());
        self
    }
}

/// Options of one open ([`DriverManager::open_with_options`](crate::DriverManager::open_with_options)),
/// built like `std::fs::OpenOptions`.
///
/// ```
/// let options = drvproc_host::OpenOptions::new().isolate(true);
/// assert_eq!(options.isolation(), Some(true));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OpenOptions {
    isolate: Option<bool>,
}

impl OpenOptions {
    /// Options that leave every choice to the manager and the registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Hosts the driver in a process of its own (`true`) or in this process
    /// (`false`), whatever the registry's marker for its alias and the manager's
    /// [`isolate`](ManagerOptions::isolate) option say.
    ///
    /// A module is either hosted or not, and which is part of what it is: an isolated
    /// open of a file that is loaded in this process gets a hosted module of its own
    /// (with its own `DRV_LOAD`, in the host process), and an in-process open of a
    /// file that is hosted loads it here. Each mode keeps one module per file.
    ///
    /// Asking for isolation of something that cannot be hosted is an error
    /// ([`OpenError::CannotIsolate`](crate::OpenError::CannotIsolate)) rather than a
    /// silent in-process load: a function driver, a bare name only the platform
    /// loader's own search could find, or a platform without host processes.
    pub fn isolate(mut self, on: bool) -> Self {
        self.isolate = Some(on);
        self
    }

    /// What [`isolate`](Self::isolate) asked for, if it was called.
    pub fn isolation(&self) -> Option<bool> {
        self.isolate
    }
}

/// What a manager needs to start the host process of an isolated module.
#[derive(Clone, Debug)]
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
pub(crate) struct HostSettings {
    pub(crate) program: PathBuf,
    /// The host of 32-bit driver files.
    pub(crate) program_32: PathBuf,
    pub(crate) timeout: Duration,
    pub(crate) sandbox: Option<HostSandbox>,
    /// The manager's host group, if any: hosted modules join it unless their
    /// alias's marker names another (`group:NAME`).
    pub(crate) group: Option<String>,
}

impl HostSettings {
    pub(crate) fn from_options(options: &ManagerOptions) -> Self {
        HostSettings {
            program: options.host_program.clone().unwrap_or_else(default_host_program),
            program_32: options.host_program_32.clone().unwrap_or_else(default_host_program_32),
            timeout: options.host_timeout,
            sandbox: options.host_sandbox.clone(),
            group: options.host_group.clone(),
        }
    }
}

/// The 32-bit host program: `$DRVPROC_HOSTD32`, else `drvproc-hostd32` beside
/// the running program.
pub(crate) fn default_host_program_32() -> PathBuf {
    if let Some(p) = std::env::var_os("DRVPROC_HOSTD32") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().unwrap_or_default();
    exe.parent().map_or_else(|| PathBuf::from("drvproc-hostd32"), |dir| dir.join("drvproc-hostd32"))
}

/// The host program: `$DRVPROC_HOSTD`, else `drvproc-hostd` beside the running
/// program, else the bare name for `PATH`.
pub(crate) fn default_host_program() -> PathBuf {
    if let Some(p) = std::env::var_os("DRVPROC_HOSTD") {
        return PathBuf::from(p);
    }
    let beside = std::env::current_exe().ok().and_then(|exe| Some(exe.parent()?.join("drvproc-hostd")));
    beside.filter(|p| p.is_file()).unwrap_or_else(|| PathBuf::from("drvproc-hostd"))
}

/// What isolating a driver would use on this machine, for a diagnosis
/// (`drvctl doctor`): the host program a manager with default options starts, and
/// how far the kernel can sandbox it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IsolationReport {
    /// The host program: `$DRVPROC_HOSTD`, else `drvproc-hostd` beside the running
    /// program, else the bare name, which `PATH` resolves.
    pub host_program: PathBuf,
    /// The kernel's Landlock ABI version, or why the sandbox can only set
    /// no-new-privileges (or, off Linux, why there is no isolation at all).
    pub landlock: Result<i32, String>,
}

/// [`IsolationReport`] of this machine, as the running program sees it.
pub fn isolation_report() -> IsolationReport {
    #[cfg(target_os = "linux")]
    let landlock = crate::isolation::supervisor::landlock_abi().map_err(|absence| absence.to_string());
    #[cfg(not(target_os = "linux"))]
    let landlock = Err("isolated hosting is only available on Linux".to_string());
    IsolationReport { host_program: default_host_program(), landlock }
}
