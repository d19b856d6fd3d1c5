//! The bundled drivers build as shared libraries whose dynamic symbol table exports
//! `DriverProc`, the one symbol every driver manager looks up.

use std::path::PathBuf;
#[cfg(target_os = "linux")]
use std::process::Command;

/// Where cargo put the dev-dependency cdylibs: beside this test binary.
fn built_driver(lib_name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe.parent().expect("test binary directory");
    let path =
        dir.join(format!("{}{lib_name}{}", std::env::consts::DLL_PREFIX, std::env::consts::DLL_SUFFIX));
    assert!(path.is_file(), "{} was not built", path.display());
    path
}

#[cfg(target_os = "linux")]
fn defined_dynamic_symbols(path: &PathBuf) -> Vec<String> {
    let out = Command::new("nm")
        .args(["-D", "--defined-only"])
        .arg(path)
        .output()
        .expect("nm (binutils) must be installed");
    assert!(out.status.success(), "nm failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut parts = l.split_whitespace();
            let (_addr, kind, name) = (parts.next()?, parts.next()?, parts.next()?);
            (kind == "T").then(|| name.to_string())
        })
        .collect()
}

#[test]
fn sample_and_trace_export_driver_proc() {
    for lib in ["drvsample", "drvtrace"] {
        let path = built_driver(lib);
        // In the dynamic symbol table (ELF; a PE's export table is checked by the
        // loader below, which resolves the name through it).
        #[cfg(target_os = "linux")]
        {
            let symbols = defined_dynamic_symbols(&path);
            assert!(
                symbols.iter().any(|s| s == "DriverProc"),
                "{} exports {symbols:?}, not DriverProc",
                path.display()
            );
        }
        // SAFETY: loading our own driver library runs no initialisation code beyond
        // Rust's std, and the symbol is looked up with its declared type.
        unsafe {
            let lib = libloading::Library::new(&path).expect("driver loads");
            let proc_: libloading::Symbol<drvproc::DriverProc> =
                lib.get(b"DriverProc\0").expect("DriverProc resolves");
            assert_eq!(proc_(0, drvproc::Hdrvr::from_raw(1), drvproc::consts::DRV_QUERYCONFIGURE, 0, 0), 0);
        }
    }
}
