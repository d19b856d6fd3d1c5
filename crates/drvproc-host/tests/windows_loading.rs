//! Loading drivers on Windows: bare names go to the system's DLL search (Wine's and
//! Windows' own codecs live in the system directory), paths relative or absolute
//! load, the manager's search locations still come first, and "not found" is told
//! apart from a DLL that is there but does not load.
#![cfg(windows)]

use std::path::{Path, PathBuf};

use drvproc_host::{DriverManager, ManagerOptions, OpenError};

/// The null driver cargo built beside this test binary.
fn built_null_driver() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let path = exe.parent().expect("test binary directory").join("drvnull.dll");
    assert!(path.is_file(), "{} was not built", path.display());
    path
}

/// A manager that searches only `dirs` and reads `config` (which need not exist).
fn manager(dirs: &[&Path], config: &Path) -> DriverManager {
    DriverManager::new(ManagerOptions::new().search_path(dirs.iter().copied()).config_path(config))
}

/// A configuration file that does not exist, in a directory that does.
fn no_config(dir: &Path) -> PathBuf {
    dir.join("absent.ini")
}

#[test]
fn a_codec_in_the_system_directory_opens_by_its_bare_name() {
    let dir = tempfile::tempdir().unwrap();
    let m = manager(&[], &no_config(dir.path()));
    let instance = m.open("msrle32.dll", None).unwrap_or_else(|e| panic!("{e}"));
    // Wine's and Windows' RLE codec has no configuration dialog.
    assert_eq!(instance.query_configure(), Ok(false));
    let module = instance.module_handle().unwrap().expect("a module handle");
    assert_ne!(module, 0);
    instance.close().unwrap();
    assert_eq!(m.loaded_module_count(), 0);
}

#[test]
fn an_alias_naming_a_system_codec_opens() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("system.ini");
    std::fs::write(&config, "[drivers32]\nvidc.test=msrle32.dll\n").unwrap();
    let m = manager(&[], &config);
    let instance = m.open("vidc.test", None).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(instance.query_configure(), Ok(false));
    instance.close().unwrap();
}

#[test]
fn the_search_path_and_the_config_directory_come_before_the_system() {
    let root = tempfile::tempdir().unwrap();
    let (searched, config_dir) = (root.path().join("searched"), root.path().join("config"));
    std::fs::create_dir(&searched).unwrap();
    std::fs::create_dir(&config_dir).unwrap();
    std::fs::copy(built_null_driver(), searched.join("nulla.dll")).unwrap();
    std::fs::copy(built_null_driver(), config_dir.join("nullc.dll")).unwrap();
    let m = manager(&[&searched], &no_config(&config_dir));
    for (name, dir) in [("nulla.dll", &searched), ("nullc.dll", &config_dir)] {
        let instance = m.open(name, None).unwrap_or_else(|e| panic!("{name}: {e}"));
        let h = instance.handle();
        assert_eq!(m.module_path(h).unwrap(), Some(dir.join(name)), "{name}");
        instance.close().unwrap();
    }
}

#[test]
fn a_path_with_forward_slashes_or_dot_dot_opens() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    std::fs::copy(built_null_driver(), dir.path().join("null.dll")).unwrap();
    let m = manager(&[], &no_config(dir.path()));
    let dotted = dir.path().join("sub").join("..").join("null.dll");
    let slashed = dir.path().join("null.dll").to_str().unwrap().replace('\\', "/");
    for name in [dotted.to_str().unwrap(), &slashed] {
        m.open(name, None).unwrap_or_else(|e| panic!("{name}: {e}")).close().unwrap();
    }
}

#[test]
fn a_missing_bare_name_is_not_found_with_the_windows_separator() {
    let root = tempfile::tempdir().unwrap();
    let (a, b) = (root.path().join("a"), root.path().join("b"));
    let m = manager(&[&a, &b], &no_config(root.path()));
    let err = m.open("drvproc-nosuch.dll", None).unwrap_err();
    let OpenError::NotFound { looked, .. } = &err else { panic!("{err}") };
    let expected = format!(
        "(as a file in {};{};{} (searched DRVPROC_PATH, config dir, system library path; ",
        a.display(),
        b.display(),
        root.path().display()
    );
    assert!(looked.starts_with(&expected), "{looked}\nexpected to start with {expected}");
    // The loader's own words follow, whatever language they are in; the decision
    // was not made from them.
    assert!(looked.contains("(os error 126)"), "{looked}");
}

#[test]
fn a_dll_whose_dependency_is_missing_is_there_but_not_loadable() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = std::fs::read(built_null_driver()).unwrap();
    // Every Rust DLL imports from KERNEL32.dll: point that import at a DLL that
    // does not exist (same length, so the file stays well formed).
    let name = b"KERNEL32.dll";
    let at = bytes.windows(name.len()).position(|w| w.eq_ignore_ascii_case(name)).expect("an import");
    bytes[at..at + name.len()].copy_from_slice(b"KERNELQQ.dll");
    let broken = dir.path().join("needsmissing.dll");
    std::fs::write(&broken, bytes).unwrap();
    let m = manager(&[dir.path()], &no_config(dir.path()));
    for name in [broken.to_str().unwrap(), "needsmissing.dll"] {
        match m.open(name, None) {
            Err(OpenError::NotLoadable { path, message }) => {
                assert_eq!(Path::new(&path), broken, "{name}");
                assert!(message.contains("(os error 126)"), "{name}: {message}");
            }
            Err(other) => panic!("{name}: {other}"),
            Ok(_) => panic!("{name}: opened"),
        }
    }
}

/// An SDK driver's DLL is loaded and unloaded many times over a process's life (a
/// host that lists codecs opens and closes each one again and again). Rust's std
/// takes a Windows TLS index at each unload of a DLL and never gives it back, and
/// the process has about a thousand: past that, the process aborts ("out of TLS
/// indexes"). The SDK keeps its DLL mapped from its first load instead, so the
/// thousand-and-first open works like the first.
#[test]
fn an_sdk_driver_survives_more_loads_than_the_process_has_tls_indexes() {
    let exe = std::env::current_exe().expect("test binary path");
    let sample = exe.parent().expect("test binary directory").join("drvsample.dll");
    let dir = tempfile::tempdir().unwrap();
    let m = manager(&[], &no_config(dir.path()));
    for round in 0..1200 {
        let instance =
            m.open(sample.to_str().unwrap(), None).unwrap_or_else(|e| panic!("round {round}: {e}"));
        instance.close().unwrap_or_else(|e| panic!("round {round}: {e}"));
        assert_eq!(m.loaded_module_count(), 0, "round {round}");
    }
}
