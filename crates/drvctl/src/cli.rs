//! The command line, as clap sees it.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Install, configure, inspect and test installable drivers (the DriverProc model).
#[derive(Parser, Debug)]
#[command(name = "drvctl", version, propagate_version = true)]
pub struct Cli {
    /// The driver registry (system.ini format). Default: $DRVPROC_CONFIG, else
    /// $XDG_CONFIG_HOME/drvproc/system.ini. Wine's drive_c/windows/system.ini works as is.
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// List the registered drivers with the status of each.
    List {
        /// The section to list.
        #[arg(long, default_value = drvproc_host::DRIVERS32)]
        section: String,
        /// List every section.
        #[arg(long, conflicts_with = "section")]
        all: bool,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Install a driver: send it DRV_INSTALL, then register ALIAS if it agrees.
    Install {
        /// The alias to register, e.g. msacm.mycodec.
        alias: String,
        /// The driver file (a path, or a bare name found in DRVPROC_PATH).
        file: PathBuf,
        /// Text the driver receives with every DRV_OPEN.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
        /// The registry section.
        #[arg(long, default_value = drvproc_host::DRIVERS32)]
        section: String,
        /// Replace an existing alias.
        #[arg(long)]
        force: bool,
    },
    /// Remove a driver: send it DRV_REMOVE, then unregister ALIAS if it agrees.
    Remove {
        /// The alias to remove.
        alias: String,
        /// The registry section.
        #[arg(long, default_value = drvproc_host::DRIVERS32)]
        section: String,
        /// Remove the entry even if the driver refuses or cannot be opened.
        #[arg(long)]
        force: bool,
    },
    /// Ask a driver whether it can be configured, and configure it if so.
    Configure {
        /// The alias of the driver.
        alias: String,
        /// The registry section.
        #[arg(long, default_value = drvproc_host::DRIVERS32)]
        section: String,
    },
    /// Open a driver, send it one message, print the answer, close it.
    Send {
        /// An alias or a driver file.
        target: String,
        /// The message: a name (DRV_QUERYCONFIGURE, DRV_USER+3) or a number (0x4003).
        msg: String,
        /// lParam1, a number (decimal, 0x hex, negative).
        #[arg(default_value = "0", allow_hyphen_values = true)]
        l1: String,
        /// lParam2, a number.
        #[arg(default_value = "0", allow_hyphen_values = true)]
        l2: String,
        /// Look TARGET up as an alias in this section only.
        #[arg(long)]
        section: Option<String>,
    },
    /// Run a script of opens, sends and closes (or the default lifecycle) and print
    /// every message the driver receives.
    Trace {
        /// An alias or a driver file.
        target: String,
        /// Script: lines `open [LPARAM2]`, `send N MSG [L1] [L2]`, `close N [L1] [L2]`
        /// (N: the n-th open), `#` comments.
        #[arg(long, value_name = "FILE")]
        script: Option<PathBuf>,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Check a driver against the rules every manager relies on (in child processes,
    /// so a crashing driver cannot take drvctl down). Exit 0 only if all pass.
    Check {
        /// A driver file or an alias.
        target: String,
        /// Seconds each rule may take before the driver counts as hung.
        #[arg(long, default_value_t = 10)]
        timeout: u64,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Check every registered driver and say how to fix the broken ones.
    Doctor {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
        /// Seconds each driver's load test may take.
        #[arg(long, default_value_t = 10)]
        timeout: u64,
    },
    /// Demonstrate a driver's whole lifecycle with the bundled sample driver, in a
    /// temporary registry.
    Demo,
    /// Print a shell completion script.
    Completions {
        /// bash, zsh or fish (also elvish, powershell).
        shell: clap_complete::Shell,
    },
    /// Internal: runs one probe or check step in a child process.
    #[command(hide = true, name = "__worker")]
    Worker {
        /// probe:SECTION or probe-load:SECTION (TARGET is an alias there), or check:RULE.
        step: String,
        /// The driver.
        target: String,
    },
}
