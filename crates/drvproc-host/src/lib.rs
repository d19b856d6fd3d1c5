//! # drvproc-host
//!
//! The installable-driver manager: it finds drivers by file name or alias, loads
//! them, opens instances and delivers messages with the exact order of the Windows
//! driver manager (spec §7), with safe handles, thread safety and re-entrancy.
//!
//! * [`DriverManager`]: `open` / `send` / `close` / `module_handle` / `flags`, and
//!   drivers that are functions in this process ([`DriverManager::register_function`]);
//! * [`Instance`]: an owned open instance, closed on drop, with typed wrappers;
//! * [`Registry`]: the `system.ini`-format configuration (aliases per section), on
//!   Windows with the registry key read before it ([`SystemKey`]);
//! * [`probe_library`]: whether a file maps as a driver, judged exactly as `open`
//!   judges it (for tools that report on drivers);
//! * [`driver_callback`] with the portable [`Event`] and [`MessageQueue`] targets.
//! * [`AcmCodec`] and [`VfwCodec`]: typed clients of ACM audio and VfW video codecs,
//!   sending what msacm32 and msvfw32 send (an `ACMDRVSTREAMHEADER`, an `ICDECOMPRESS`)
//!   built from safe values and buffers whose sizes they check first; they go the
//!   same path as any message, below.
//!
//! ## The path of a message
//!
//! A `SendDriverMessage(h, msg, l1, l2)` takes five steps, each in one file:
//! 1. **C export** (`drvproc-capi`, `exports.rs`): hands the common case to the
//!    manager inline; every other case (a bad handle, a first send, a nested one, a
//!    `tracing` subscriber) goes the general way, which catches panics and records
//!    the error text for `drvproc_last_error`;
//! 2. **manager** (`manager.rs`, [`DriverManager::send_global`] for the C ABI,
//!    [`DriverManager::send`] for Rust): the public facade;
//! 3. **table** (`handle_table.rs`): finds the slot from the index bits of `h`,
//!    announces it in this thread's reader record (`records.rs`) and compares the
//!    slot's *pass* with `h`, one compare that stands for the table identity,
//!    generation and state checks (the general path decodes and checks each); the
//!    asymmetric barrier (`barrier.rs`) orders the announcement against a
//!    concurrent close;
//! 4. **module** (`module.rs`, `Module::call`): the one seam through which every
//!    message reaches a driver, where tracing happens;
//! 5. **driver**: the module's `DriverProc`, with the slot's driver-issued id; for
//!    an isolated module, the module's endpoint instead (`isolation/hosted.rs`):
//!    the parameters marshalled into the shared-memory channel (`marshal.rs`,
//!    `channel.rs`), the host process's loop calling the driver there (`host.rs`:
//!    its main thread, or for a large call the thread bound to the caller's CPU,
//!    `channel/same_cpu.rs`), and what the driver wrote copied back (`remote.rs`).
//!
//! ## Isolation (Linux)
//!
//! [`ManagerOptions::isolate`] (or `DRVPROC_ISOLATE=1`) hosts every driver file in
//! a `drvproc-hostd` process of its own; a 32-bit driver file is always hosted, by
//! a 32-bit `drvproc-hostd32` ([`ManagerOptions::host_program_32`]). The driver
//! sees the same messages, ids and handles in the same order as in process. What
//! differs, by design:
//! * a host that dies (a crash, an abort, an `exit`) or overruns
//!   [`ManagerOptions::host_timeout`] (then it is killed with its process group)
//!   fails the message: `send` answers 0 and [`take_hosted_failure`] (the C ABI:
//!   `drvproc_last_error()`) names the driver, the message and the death; every
//!   handle of the module becomes invalid, and the next open starts a new host;
//! * a custom message with non-zero parameters is refused unless they are
//!   described ([`Param`], [`DriverManager::send_params`]): an integer that may be
//!   an address is never forwarded; a `DRV_OPEN` `lParam2` likewise, unless the
//!   driver's class says what it is or [`DriverManager::open_with_number`] says it
//!   is a number;
//! * `GetDriverModuleHandle` is NULL: the module is mapped in the host;
//! * `DriverCallback` reaches the application's target from the thread serving the
//!   message; from the driver's other threads it is refused;
//! * a driver's own calls into the driver manager stay in its host process;
//! * a message carrying 16 KiB or more of buffers (a codec's convert) is served by
//!   a host thread bound to the sending thread's CPU, so that its data stays in
//!   that CPU's caches: one application thread's messages may reach the driver on
//!   two host threads (`DRVPROC_HOST_SAME_CPU_BYTES` sets the size, `off` keeps
//!   every message on the host's main thread).
//!
//! Driver files may share one host process ([`ManagerOptions::host_group`], or a
//! registry entry's marker `group:NAME`, see [`Isolation`]): fewer processes, one
//! fate.
//!
//! The host can be sandboxed ([`ManagerOptions::host_sandbox`]): no new privileges,
//! and a Landlock ruleset that lets it read its driver's directory and the system's
//! libraries, and write nowhere unless allowed.
//!
//! Opens and closes go from the manager to `resolve.rs` (which file or alias, spec
//! §8), `modules.rs` (which loaded module) and `loader.rs` (mapping a library), then
//! to `lifecycle.rs` (the §7 message sequences and module phases), which uses the
//! table to create and retire instances.
//!
//! ## What is `unsafe`
//!
//! Passing raw `LPARAM`s to a driver is `unsafe` ([`DriverManager::send`],
//! `open_with`, `close_with`): many messages carry pointers, and what the driver does
//! with them is the caller's contract. Adopting a raw handle as an owned
//! [`Instance`] is `unsafe` (like `OwnedFd::from_raw_fd`). Opening a driver by name is
//! safe: mapping a configured driver and running its code is what a driver manager is
//! for, and a driver is trusted to be sound (as the platform loader trusts it).
//! Everything else, typed wrappers included, is safe, and a safe function never
//! dereferences an integer it was given.
//!
//! Calls into drivers are traced with `tracing` spans (target `drvproc::call`, level
//! TRACE) carrying the message name, id, handle, parameters and answer; with no
//! subscriber in the process they cost one atomic load per call.

mod acm_client;
mod barrier;
mod callback;
mod directory;
mod error;
mod handle_table;
mod identity;
mod ini;
mod instance;
mod isolation;
mod lifecycle;
mod loader;
mod locked_file;
mod manager;
mod module;
mod modules;
mod options;
mod params;
mod records;
mod registry;
mod resolve;
mod system_registry;
#[cfg(test)]
mod test_log;
mod text_encoding;
mod vfw_client;
#[cfg(windows)]
mod wide;

/// The `drvproc-hostd` program: the process an isolated driver module runs in,
/// serving the channel the manager hands it (`--channel FD`). Its binary is this
/// function; nothing else should call it.
#[cfg(target_os = "linux")]
pub fn host_process_main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    isolation::host::main(&args)
}

/// `DriverCallback` in the `drvproc-hostd` program, which exports it under that
/// name so that its drivers reach this rather than libdrvproc's: the values are
/// the application's, so they go back to it while the calling thread serves one of
/// its calls, and nothing is notified otherwise (FALSE). Never dereferences or
/// calls `callback`.
#[cfg(target_os = "linux")]
#[doc(hidden)]
pub fn host_process_driver_callback(
    callback: usize,
    flags: u32,
    hdrvr: usize,
    msg: u32,
    user: usize,
    p1: usize,
    p2: usize,
) -> bool {
    isolation::host::driver_callback(callback, flags, hdrvr, msg, user, p1, p2)
}

pub use acm_client::{AcmCodec, AcmError, AcmStream, CodecInfo, TagInfo};
/// Whether sends use the light barrier (Linux `membarrier` available) rather than a
/// full fence each; see the handle table's design notes.
pub use barrier::expedited as sends_are_fence_free;
pub use callback::{DEFAULT_QUEUE_CAPACITY, Event, MessageQueue, PostedMessage, driver_callback};
pub use drvproc::def_driver_proc;
pub use error::{BadHandle, CloseError, OpenError, TooManyManagers};
pub use ini::{IniDocument, IniWarning, IniWarningKind, TextEncoding};
pub use instance::Instance;
pub use isolation::failure::{death_of, set_failure_hook, take_hosted_failure};
pub use loader::{LoadError, probe_library};
pub use manager::{DRIVER_FLAGS_VALID, DriverManager};
pub use options::{HostSandbox, IsolationReport, ManagerOptions, OpenOptions, isolation_report};
pub use params::{Param, SendError};
pub use registry::{
    Committed, DRIVERS32, EditOptions, EntrySource, ISOLATE_SECTION, Isolation, Registry, RegistryEdit,
    RegistryError,
};
pub use resolve::is_path;
pub use resolve::split_entry;
pub use system_registry::{MAX_VALUE_UNITS, SYSTEM_KEY, SystemKey};
pub use vfw_client::{CompressedFrame, FrameOptions, VfwCodec, VfwError, VideoInfo};
