//! The host process of isolated drivers, for the C clients of these tests
//! (`DRVPROC_HOSTD`): the same program as `drvproc-hostd`, built by this package
//! so that its tests can name it (cargo builds a package's own binaries for its
//! tests, not a dependency's).

#[cfg(target_os = "linux")]
fn main() -> std::process::ExitCode {
    drvproc_host::host_process_main()
}

#[cfg(not(target_os = "linux"))]
fn main() -> std::process::ExitCode {
    std::process::ExitCode::FAILURE
}
