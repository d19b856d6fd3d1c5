//! `drvproc-hostd`: the process an isolated driver module runs in. The driver
//! manager starts it with `--channel FD`, the shared-memory channel it inherits,
//! and drives it from there; it is not meant to be run by hand.

#[cfg(target_os = "linux")]
fn main() -> std::process::ExitCode {
    drvproc_host::host_process_main()
}

#[cfg(not(target_os = "linux"))]
fn main() -> std::process::ExitCode {
    eprintln!("drvproc-hostd: isolated driver hosting is not available on this platform yet");
    std::process::ExitCode::FAILURE
}
