//! The command line, as clap sees it.

use std::path::PathBuf;

use clap::{ArgAction, Parser, Subcommand, ValueEnum};
use clap_complete::engine::{ArgValueCandidates, ArgValueCompleter};

use crate::completion;

/// Install, configure, inspect and test installable drivers (the DriverProc model).
#[derive(Parser, Debug)]
#[command(name = "drvctl", version, propagate_version = true)]
pub struct Cli {
    /// The driver registry (system.ini format)
    ///
    /// Default: $DRVPROC_CONFIG, else $XDG_CONFIG_HOME/drvproc/system.ini. Wine's
    /// drive_c/windows/system.ini works as is. On Windows the default is Windows' own
    /// registry: the key HKLM\Software\Microsoft\Windows NT\CurrentVersion\<section>,
    /// then %WINDIR%\system.ini; install and remove write the key.
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// Print only results and errors: no progress, no notes
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Show the manager's call log on stderr (-vv: and its own events)
    ///
    /// -v: every message a driver gets, with its answer, and warnings; -vv: also the
    /// DriverProc span around each call (with the driver's path), and everything
    /// else drvproc logs.
    #[arg(short, long, global = true, action = ArgAction::Count)]
    pub verbose: u8,

    /// When to colour the output
    ///
    /// auto: on a terminal, unless NO_COLOR is set; anywhere with CLICOLOR_FORCE set
    /// (NO_COLOR wins). always and never override both variables.
    #[arg(long, global = true, value_name = "WHEN", default_value = "auto")]
    pub color: ColorWhen,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// List the registered drivers with the status of each
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
    /// Send a driver DRV_INSTALL, then register ALIAS if it agrees
    ///
    /// Options may come anywhere. Driver arguments that start with `-` go after `--`:
    /// `drvctl install msacm.x ./x.so rate=8000 -- --fast`.
    Install {
        /// The alias to register, e.g. msacm.mycodec.
        alias: String,
        /// The driver file (a path, or a bare name found in DRVPROC_PATH).
        file: PathBuf,
        /// Text the driver receives with every DRV_OPEN (words starting with `-`
        /// after `--`).
        args: Vec<String>,
        /// The registry section.
        #[arg(long, default_value = drvproc_host::DRIVERS32)]
        section: String,
        /// Replace an existing alias.
        #[arg(long)]
        force: bool,
        /// Seconds the driver may take to answer before it counts as hung.
        #[arg(long, default_value_t = 60)]
        timeout: u64,
    },
    /// Send a driver DRV_REMOVE, then unregister ALIAS if it agrees
    Remove {
        /// The alias to remove.
        #[arg(add = ArgValueCandidates::new(completion::aliases))]
        alias: String,
        /// The registry section.
        #[arg(long, default_value = drvproc_host::DRIVERS32)]
        section: String,
        /// Remove the entry even if the driver refuses DRV_REMOVE or crashes or hangs in it.
        #[arg(long)]
        force: bool,
        /// Seconds the driver may take to answer before it counts as hung.
        #[arg(long, default_value_t = 60)]
        timeout: u64,
    },
    /// Host a driver in a process of its own whenever ALIAS is opened (on), or not (off)
    ///
    /// Every program that opens ALIAS through drvproc, C clients' OpenDriver
    /// included, then runs the driver in a host process, where a crash or a hang fails
    /// the call instead of the program. It takes effect at the driver's next load. The
    /// marker is a line ALIAS=1 in the registry file's section [drvproc.isolate],
    /// which Windows and Wine ignore. Linux only, for now.
    ///
    /// With --group NAME the marker is ALIAS=group:NAME: the drivers whose aliases
    /// name one group share one host process (one per width), whatever group the
    /// program asks for. A crash in one of them ends the others' host too. A driver
    /// file that a program hosts already stays in the host it has.
    Isolate {
        /// The alias of the driver.
        #[arg(add = ArgValueCandidates::new(completion::aliases))]
        alias: String,
        /// Whether to host it in a process of its own.
        state: Switch,
        /// The section ALIAS is registered in.
        #[arg(long, default_value = drvproc_host::DRIVERS32)]
        section: String,
        /// Share the host process of host group NAME (with on).
        #[arg(long, value_name = "NAME")]
        group: Option<String>,
    },
    /// Ask a driver whether it can be configured, and configure it if so
    Configure {
        /// The alias of the driver.
        #[arg(add = ArgValueCandidates::new(completion::aliases))]
        alias: String,
        /// The registry section.
        #[arg(long, default_value = drvproc_host::DRIVERS32)]
        section: String,
        /// Seconds the driver may take to answer before it counts as hung.
        #[arg(long, default_value_t = 60)]
        timeout: u64,
    },
    /// Open a driver, send it one message, print the answer, close it
    Send {
        /// An alias or a driver file.
        #[arg(add = ArgValueCompleter::new(completion::targets))]
        target: String,
        /// The message: a name (DRV_QUERYCONFIGURE, DRV_USER+3) or a number (0x4003).
        msg: String,
        /// lParam1, a number (decimal, 0x hex, negative; a negative hex number looks
        /// like an option, so it goes after `--`: `send T MSG -- -0x10`).
        #[arg(default_value = "0", allow_negative_numbers = true, value_parser = number_arg)]
        l1: String,
        /// lParam2, a number.
        #[arg(default_value = "0", allow_negative_numbers = true, value_parser = number_arg)]
        l2: String,
        /// Look TARGET up as an alias in this section only.
        #[arg(long)]
        section: Option<String>,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Print every message a driver receives in a script of opens, sends and closes
    ///
    /// Without --script, the default lifecycle: two opens, a configuration query, a
    /// custom message, both closes.
    Trace {
        /// An alias or a driver file.
        #[arg(add = ArgValueCompleter::new(completion::targets))]
        target: String,
        /// Run this script instead of the default lifecycle
        ///
        /// Lines `open [LPARAM2]`, `send N MSG [L1] [L2]`, `close N [L1] [L2]` (N: the
        /// n-th open, also written #N as trace prints it). A `#` that starts a line, or
        /// that no digit follows, starts a comment.
        #[arg(long, value_name = "FILE")]
        script: Option<PathBuf>,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Check a driver against the rules every manager relies on
    ///
    /// Each rule runs in a child process, so a crashing driver cannot take drvctl
    /// down. Exit 0 only if all pass.
    Check {
        /// A driver file or an alias.
        #[arg(add = ArgValueCompleter::new(completion::targets))]
        target: String,
        /// Seconds each rule may take before the driver counts as hung.
        #[arg(long, default_value_t = 10)]
        timeout: u64,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Check every registered driver and say how to fix the broken ones
    Doctor {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
        /// Seconds each driver's load test may take.
        #[arg(long, default_value_t = 10)]
        timeout: u64,
    },
    /// Convert a WAVE file through an installed ACM codec
    ///
    /// The codec is picked as acmFormatSuggest and acmStreamOpen pick one: the
    /// first msacm.* alias of [drivers32] that suggests a destination of the wanted
    /// format at the source's rate and channels and opens a stream to it; --driver
    /// names the only one to try. OUT is replaced only once it is complete.
    Convert {
        /// The WAVE file to read (8- or 16-bit PCM, A-law, mu-law or IMA ADPCM).
        input: PathBuf,
        /// The WAVE file to write.
        output: PathBuf,
        /// The format to convert to.
        #[arg(long, value_name = "FORMAT")]
        to: Target,
        /// Use only this codec (an alias or a driver file).
        #[arg(long, value_name = "ALIAS_OR_FILE", add = ArgValueCompleter::new(completion::targets))]
        driver: Option<String>,
    },
    /// Show a driver's whole lifecycle with the bundled sample, in a temporary registry
    Demo,
    /// Print a shell completion script (with the registry's aliases)
    ///
    /// The script asks drvctl for completions as you type, so aliases come from the
    /// registry named on the command line (or the default one). For bash:
    /// `source <(drvctl completions bash)`.
    Completions {
        /// bash, zsh or fish (also elvish, powershell).
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff) of drvctl or of one command
    ///
    /// Read it with `drvctl manpage | man -l -`.
    Manpage {
        /// The command; drvctl itself when absent.
        command: Option<String>,
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

/// `convert --to`: the destination's format tag.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Target {
    /// mu-law (WAVE_FORMAT_MULAW)
    Mulaw,
    /// A-law (WAVE_FORMAT_ALAW)
    Alaw,
    /// IMA ADPCM (WAVE_FORMAT_IMA_ADPCM)
    Ima,
    /// 16-bit PCM
    Pcm,
}

/// `isolate`'s state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Switch {
    On,
    Off,
}

/// `--color`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorWhen {
    Auto,
    Always,
    Never,
}

/// Accepts what `parse_number` accepts, plus negative hex (`-0x10`), which clap's own
/// negative-number test does not know; anything else starting with `-` is left to
/// clap as an option, so `--json` is an unknown option rather than a bad number.
fn number_arg(text: &str) -> Result<String, String> {
    crate::commands::parse_number(text).map(|_| text.to_string()).map_err(|e| e.to_string())
}

impl Command {
    /// The subcommand's name, as typed.
    pub fn name(&self) -> &'static str {
        match self {
            Command::List { .. } => "list",
            Command::Install { .. } => "install",
            Command::Remove { .. } => "remove",
            Command::Isolate { .. } => "isolate",
            Command::Configure { .. } => "configure",
            Command::Send { .. } => "send",
            Command::Trace { .. } => "trace",
            Command::Check { .. } => "check",
            Command::Doctor { .. } => "doctor",
            Command::Convert { .. } => "convert",
            Command::Demo => "demo",
            Command::Completions { .. } => "completions",
            Command::Manpage { .. } => "manpage",
            Command::Worker { .. } => "__worker",
        }
    }

    /// Whether the command was asked for JSON output.
    pub fn json(&self) -> bool {
        match self {
            Command::List { json, .. }
            | Command::Send { json, .. }
            | Command::Trace { json, .. }
            | Command::Check { json, .. }
            | Command::Doctor { json, .. } => *json,
            _ => false,
        }
    }
}
