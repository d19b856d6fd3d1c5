//! `drvproc-hostd`: the process an isolated driver module runs in. The driver
//! manager starts it with `--channel FD`, the shared-memory channel it inherits,
//! and drives it from there; it is not meant to be run by hand.
//!
//! It exports `DriverCallback` (the build script puts it in the dynamic symbol
//! table): a driver linked with `-ldrvproc` binds to the executable's definition
//! first, so its notifications go back to the application instead of being acted
//! on here, where the target's address or id means nothing.

#[cfg(target_os = "linux")]
fn main() -> std::process::ExitCode {
    drvproc_host::host_process_main()
}

/// `BOOL DriverCallback(DWORD_PTR, DWORD, HDRVR, DWORD, DWORD_PTR, DWORD_PTR, DWORD_PTR)`,
/// sent to the application whose call the driver is serving.
#[cfg(target_os = "linux")]
#[unsafe(no_mangle)]
pub extern "system" fn DriverCallback(
    callback: usize,
    flags: u32,
    hdrvr: drvproc::Hdrvr,
    msg: u32,
    user: usize,
    p1: usize,
    p2: usize,
) -> i32 {
    drvproc_host::host_process_driver_callback(callback, flags, hdrvr.raw(), msg, user, p1, p2) as i32
}

#[cfg(not(target_os = "linux"))]
fn main() -> std::process::ExitCode {
    eprintln!("drvproc-hostd: isolated driver hosting is not available on this platform yet");
    std::process::ExitCode::FAILURE
}
