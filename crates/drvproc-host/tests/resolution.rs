//! Name resolution (spec §8, D14, D18, D19): files, aliases, sections, args, case,
//! spaces, search path, and one module per library whatever name opened it.

mod common;

use common::{Trace, nowhere, strings, trace_file_name};
use drvproc_host::{DriverManager, ManagerOptions, OpenError};

#[test]
fn alias_in_drivers32_with_args_and_any_case() {
    let t = Trace::new();
    t.write_config(&format!("[Drivers32]\nmsacm.trace={}   rate=8000 bits=16\n", t.path()));
    let m = t.manager();
    let _a = m.open("MSACM.Trace", None).unwrap();
    let _b = m.open("msacm.trace", Some("DRIVERS32")).unwrap();
    assert_eq!(
        t.take(),
        strings(&[
            "DRV_LOAD(0x0, H1, 0, 0) -> 0x1",
            "DRV_ENABLE(0x0, H1, 0, 0) -> 0x1",
            "DRV_OPEN(0x0, H1, \"rate=8000 bits=16\", 0) -> 0x1001",
            "DRV_OPEN(0x0, H2, \"rate=8000 bits=16\", 0) -> 0x1002",
        ])
    );
}

#[test]
fn bare_file_names_use_the_search_path_and_the_config_dir() {
    let t = Trace::new();
    t.write_config(&format!("[drivers32]\nbare={}\n", trace_file_name()));
    // Found through the search path option.
    let m = t.manager();
    assert!(m.open(&trace_file_name(), None).is_ok());
    // Found through the configuration file's directory, with no search path.
    let m2 = DriverManager::new(
        ManagerOptions::new().config_path(t.config_path()).search_path(Vec::<&str>::new()),
    );
    assert!(m2.open("bare", None).is_ok());
    // Not found anywhere: the error says where it looked.
    let (a, b) = if cfg!(windows) { (r"C:\a", r"C:\b") } else { ("/a", "/b") };
    let m3 = DriverManager::new(ManagerOptions::new().config_path(nowhere()).search_path([a, b]));
    let err = m3.open("libnothere-drvproc.so", None).unwrap_err();
    assert!(matches!(err, OpenError::NotFound { .. }), "{err}");
    assert!(err.to_string().contains(&format!("{a}{}{b}", if cfg!(windows) { ';' } else { ':' })), "{err}");
    // In the platform loader's words (dlopen's here).
    #[cfg(unix)]
    assert_eq!(
        err.to_string(),
        "libnothere-drvproc.so: not found (as a file in /a:/b:/nonexistent-drvproc-test (searched DRVPROC_PATH, \
         config dir, system library path; dlopen failed: libnothere-drvproc.so: cannot open shared object file: \
         No such file or directory); no alias in [Drivers32] of /nonexistent-drvproc-test/system.ini)"
    );
}

#[test]
fn a_named_section_means_alias_only() {
    let t = Trace::new();
    t.write_config(&format!("[mci]\ncdaudio={}\n", t.path()));
    let m = t.manager();
    // The path is a real file, but with a section it is only looked up as an alias.
    let err = m.open(t.path(), Some("drivers32")).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("{}: not found (no alias in [drivers32] of {})", t.path(), t.config_path().display())
    );
    assert!(m.open("cdaudio", Some("Drivers32")).is_err(), "alias of another section");
    assert!(m.open("cdaudio", Some("MCI")).is_ok());
    // MCI32 falls back to MCI (D19).
    assert!(m.open("CDAUDIO", Some("mci32")).is_ok());
    assert_eq!(t.take().iter().filter(|l| l.starts_with("DRV_OPEN")).count(), 2);
}

#[test]
fn direct_names_are_tried_whole_then_split_at_the_first_space() {
    let t = Trace::new();
    // A path with a space in it opens whole (D14: Wine cannot do this).
    let spaced_dir = t.dir.path().join("with space");
    std::fs::create_dir(&spaced_dir).unwrap();
    let spaced = spaced_dir.join(trace_file_name());
    std::fs::copy(&t.lib, &spaced).unwrap();
    std::fs::write(spaced_dir.join("drvtrace.env"), format!("LOG={}\n", t.log.display())).unwrap();
    let m = t.manager();
    let _a = m.open(spaced.to_str().unwrap(), None).unwrap();
    assert_eq!(t.take()[2], "DRV_OPEN(0x0, H1, NULL, 0) -> 0x1001");
    // "file args": not a file as a whole, so split.
    let _b = m.open(&format!("{}  a b  c", t.path()), None).unwrap();
    assert_eq!(t.take()[2], "DRV_OPEN(0x0, H2, \"a b  c\", 0) -> 0x1001");
}

#[test]
fn one_module_whatever_name_opened_it() {
    let t = Trace::new();
    // A second file name for the same library: a symbolic link (Unix only; creating
    // one on Windows needs a privilege).
    #[cfg(unix)]
    let other_name = {
        let link = t.dir.path().join("link.so");
        std::os::unix::fs::symlink(&t.lib, &link).unwrap();
        link
    };
    #[cfg(not(unix))]
    let other_name = t.lib.clone();
    t.write_config(&format!("[drivers32]\nvia.alias={}\n", other_name.display()));
    let m = t.manager();
    let by_path = m.open(t.path(), None).unwrap();
    let by_alias = m.open("via.alias", None).unwrap();
    let by_link = m.open(other_name.to_str().unwrap(), None).unwrap();
    assert_eq!(
        t.take(),
        strings(&[
            "DRV_LOAD(0x0, H1, 0, 0) -> 0x1",
            "DRV_ENABLE(0x0, H1, 0, 0) -> 0x1",
            "DRV_OPEN(0x0, H1, NULL, 0) -> 0x1001",
            "DRV_OPEN(0x0, H2, NULL, 0) -> 0x1002",
            "DRV_OPEN(0x0, H3, NULL, 0) -> 0x1003",
        ])
    );
    assert_eq!(m.loaded_module_count(), 1);
    let handle = by_path.module_handle().unwrap().unwrap();
    assert_eq!(by_alias.module_handle().unwrap(), Some(handle));
    assert_eq!(by_link.module_handle().unwrap(), Some(handle));
    assert_eq!(platform_handle_of_loaded(&t.lib), handle, "the platform's handle of the loaded file");
    drop((by_path, by_alias, by_link));
    assert_eq!(t.take().len(), 5, "three closes, one disable, one free");
}

/// The dlopen handle of an already loaded library.
#[cfg(unix)]
fn platform_handle_of_loaded(path: &std::path::Path) -> usize {
    let c_path = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: RTLD_NOLOAD only queries; the reference it adds is released below.
    let probe = unsafe { libc::dlopen(c_path.as_ptr(), libc::RTLD_NOW | libc::RTLD_NOLOAD) };
    assert!(!probe.is_null(), "{} is not loaded", path.display());
    // SAFETY: `probe` is a valid handle from dlopen above.
    unsafe { libc::dlclose(probe) };
    probe as usize
}

/// The module handle (HMODULE) of an already loaded DLL.
#[cfg(windows)]
fn platform_handle_of_loaded(path: &std::path::Path) -> usize {
    use libloading::os::windows::Library;
    let lib = Library::open_already_loaded(path)
        .unwrap_or_else(|e| panic!("{} is not loaded: {e}", path.display()));
    let raw = lib.into_raw();
    // SAFETY: `raw` came from `into_raw` just above; dropping it releases the reference
    // that open_already_loaded added.
    drop(unsafe { Library::from_raw(raw) });
    raw as usize
}

#[test]
fn wine_system_ini_is_read_unchanged() {
    let t = Trace::new();
    let wine = format!(
        "[mci]\r\ncdaudio=mcicda.drv\r\nsequencer=mciseq.drv\r\nwaveaudio=mciwave.drv\r\navivideo=mciavi.drv\r\n\
         videodisc=mcipionr.drv\r\nvcr=mciviscd.drv\r\nMPEGVideo=mciqtz.drv\r\nMPEGVideo2=mciqtz.drv\r\n\
         [drivers32]\r\nmsacm.imaadpcm=imaadp32.acm\r\nmsacm.msadpcm=msadp32.acm\r\nmsacm.msg711=msg711.acm\r\n\
         msacm.msgsm610=msgsm32.acm\r\nvidc.mrle=msrle32.dll\r\nvidc.msvc=msvidc32.dll\r\nvidc.cvid=iccvid.dll\r\n\
         MSACM.winemp3=winemp3.acm\r\nwavemapper=msacm32.drv\r\nmidimapper=midimap.dll\r\nmsacm.trace={} wine\r\n\
         [drivers]\r\nwave=mmdrv.dll\r\ntimer=timer.drv\r\n[386enh]\r\nwoafont=dosapp.fon\r\n",
        t.path()
    );
    t.write_config(&wine);
    let m = t.manager();
    let _i = m.open("msacm.trace", None).unwrap();
    assert_eq!(t.take()[2], "DRV_OPEN(0x0, H1, \"wine\", 0) -> 0x1001");
    // No such library on Linux; Windows (and Wine) ship this codec in the system
    // directory, where a bare name finds it: it loads, and answers DRV_OPEN its way.
    #[cfg(unix)]
    {
        let err = m.open("msacm.imaadpcm", None).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "msacm.imaadpcm: not found in {d} (searched for imaadp32.acm in DRVPROC_PATH, config dir, system library \
                 path; dlopen failed: imaadp32.acm: cannot open shared object file: No such file or directory)",
                d = t.dir.path().display()
            )
        );
    }
    #[cfg(windows)]
    match m.open("msacm.imaadpcm", None) {
        Ok(_) | Err(OpenError::OpenRefused { .. }) => {}
        Err(e) => panic!("Windows' own imaadp32.acm: {e}"),
    }
    assert_eq!(std::fs::read_to_string(t.config_path()).unwrap(), wine, "reading writes nothing");
}

#[test]
fn a_broken_line_does_not_stop_lookups() {
    // Windows skips a line it cannot read; so does the manager (`doctor` reports it).
    let t = Trace::new();
    t.write_config("[drivers32]\nok=x.so\nthis line is broken\n");
    let err = t.manager().open("ok", None).unwrap_err();
    assert!(matches!(err, OpenError::NotFound { .. }), "{err}");
    assert!(err.to_string().starts_with("ok: not found in "), "{err}");
    // The file the alias names is said in the manager's words, whatever the
    // platform loader's message says (Windows' does not name the file).
    assert!(
        err.to_string().contains(" (searched for x.so in DRVPROC_PATH, config dir, system library path; "),
        "{err}"
    );
}

#[test]
fn files_that_are_not_drivers() {
    let t = Trace::new();
    let m = t.manager();
    let text = t.dir.path().join("notes.txt");
    std::fs::write(&text, "not a library").unwrap();
    let err = m.open(text.to_str().unwrap(), None).unwrap_err();
    assert!(matches!(err, OpenError::NotLoadable { .. }), "{err}");
    assert!(err.to_string().starts_with(&format!("{}: cannot load: ", text.display())), "{err}");
    // A system library that surely loads and is no driver.
    let system_library = if cfg!(windows) { "kernel32.dll" } else { "libm.so.6" };
    let err = m.open(system_library, None).unwrap_err();
    assert_eq!(err.to_string(), format!("{system_library}: not a driver: no DriverProc export"));
    let missing = t.dir.path().join("missing.so");
    let err = m.open(missing.to_str().unwrap(), None).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{p}: not found (as a file (no file {p}); no alias in [Drivers32] of {c})",
            p = missing.display(),
            c = t.config_path().display()
        )
    );
    for bad in ["", "  ", "a\0b"] {
        assert!(matches!(m.open(bad, None), Err(OpenError::InvalidName { .. })), "{bad:?}");
    }
    assert_eq!(m.loaded_module_count(), 0);
}

#[test]
fn function_drivers_run_the_same_lifecycle() {
    let t = Trace::new();
    // SAFETY: the trace driver's own DriverProc, from its own library.
    let lib = unsafe { libloading::Library::new(&t.lib) }.unwrap();
    // SAFETY: DriverProc has the DriverProc type.
    let proc_ = *unsafe { lib.get::<drvproc::DriverProc>(b"DriverProc\0") }.unwrap();
    let m = DriverManager::new(ManagerOptions::new().config_path(nowhere()));
    m.register_function("fn.trace", proc_).unwrap();
    let a = m.open("FN.TRACE", Some("any section")).unwrap();
    assert_eq!(a.module_handle(), Ok(None), "no module handle for a function");
    drop(a);
    assert_eq!(
        t.take(),
        strings(&[
            "DRV_LOAD(0x0, H1, 0, 0) -> 0x1",
            "DRV_ENABLE(0x0, H1, 0, 0) -> 0x1",
            "DRV_OPEN(0x0, H1, NULL, 0) -> 0x1001",
            "DRV_CLOSE(0x1001, H1, 0, 0) -> 0x1",
            "DRV_DISABLE(0x0, H1, 0, 0) -> 0x1",
            "DRV_FREE(0x0, H1, 0, 0) -> 0x1",
        ])
    );
    assert!(m.unregister_function("fn.trace"));
    assert!(m.open("fn.trace", None).is_err());
    assert!(m.register_function("", proc_).is_err());
}

/// Makes a FIFO at `path`.
#[cfg(unix)]
fn mkfifo(path: &std::path::Path) {
    let c_path = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: `c_path` is a valid NUL-terminated string for the duration of the call.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0, "mkfifo {}", path.display());
}

/// FIFOs, sockets and device files are Unix's; a directory is refused everywhere
/// (see `files_that_are_not_drivers`).
#[cfg(unix)]
#[test]
fn special_files_are_refused_before_the_loader_sees_them() {
    let t = Trace::new();
    let dir = t.dir.path();
    let fifo = dir.join("fifo.so");
    mkfifo(&fifo);
    let link = dir.join("link-to-fifo.so");
    std::os::unix::fs::symlink(&fifo, &link).unwrap();
    let subdir = dir.join("dir.so");
    std::fs::create_dir(&subdir).unwrap();
    let socket = dir.join("socket.so");
    let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    t.write_config(&format!("[drivers32]\nvia.alias={} args\n", fifo.display()));
    let cases = [
        (fifo.display().to_string(), fifo.clone(), "fifo"),
        (link.display().to_string(), link.clone(), "fifo"),
        ("via.alias".to_string(), fifo.clone(), "fifo"),
        (subdir.display().to_string(), subdir.clone(), "directory"),
        ("/dev/null".to_string(), "/dev/null".into(), "character device"),
        (socket.display().to_string(), socket.clone(), "socket"),
    ];
    let m = t.manager();
    // dlopen of a FIFO blocks until a writer comes: run the opens on a thread.
    let (tx, rx) = std::sync::mpsc::channel();
    let m2 = m.clone();
    let names: Vec<String> = cases.iter().map(|c| c.0.clone()).collect();
    std::thread::spawn(move || {
        for name in names {
            let _ = tx.send(m2.open(&name, None).map(drop).map_err(|e| e.to_string()));
        }
    });
    for (name, path, kind) in &cases {
        let result = rx
            .recv_timeout(std::time::Duration::from_secs(5))
            .unwrap_or_else(|_| panic!("opening {name} blocked"));
        assert_eq!(
            result,
            Err(format!("{}: cannot load: not a regular file ({kind})", path.display())),
            "{name}"
        );
    }
    assert_eq!(m.loaded_module_count(), 0);
}
