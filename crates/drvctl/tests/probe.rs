//! `list` and `doctor` judge a driver file exactly as `open` does: the same loader,
//! the same refusals, the same search locations.

mod common;
mod diagnose_samples;

use common::{Scratch, path_str, run};

/// A driver whose `DriverProc` is fine but whose other function calls a symbol no
/// library defines: lazy binding maps it, binding everything at load does not.
#[cfg(unix)]
const UNRESOLVED: &str = r#"
extern int drvproc_test_no_such_symbol(void);
int helper(void) { return drvproc_test_no_such_symbol(); }
long DriverProc(unsigned long id, void *h, unsigned int msg, long l1, long l2) {
    (void)id; (void)h; (void)l1; (void)l2;
    return msg == 1 || msg == 4 ? 1 : 0; /* DRV_LOAD, DRV_ENABLE */
}
"#;

/// Unix: the C library is built with the host's C compiler, and lazy binding is the
/// ELF loader's.
#[cfg(unix)]
#[test]
fn list_and_doctor_refuse_what_open_refuses() {
    let s = Scratch::new();
    let driver = diagnose_samples::c_library(s.dir.path(), "unresolved", UNRESOLVED);
    s.write_config(&format!("[drivers32]\nunresolved={}\n", driver.display()));

    let (code, _, err) = run(s.drvctl(&["send", "unresolved", "DRV_QUERYCONFIGURE"]));
    assert_eq!(code, 1, "{err}");
    let prefix = format!("drvctl: {}: cannot load: ", driver.display());
    let message = err.strip_prefix(&prefix).unwrap_or_else(|| panic!("{err}")).trim_end();
    assert_eq!(message, "undefined symbol: drvproc_test_no_such_symbol", "the loader's words, once");

    let (_, json, _) = run(s.drvctl(&["list", "--json"]));
    let document: serde_json::Value = serde_json::from_str(&json).unwrap();
    let listed = &document["entries"];
    assert_eq!(listed[0]["path"], path_str(&driver));
    assert_eq!(listed[0]["loadable"], false, "{json}");
    assert_eq!(listed[0]["driver_proc"], true, "it does export DriverProc: {json}");
    assert_eq!(listed[0]["problem"], format!("{}: cannot load: {message}", driver.display()), "{json}");

    let (code, out, _) = run(s.drvctl(&["doctor"]));
    assert_eq!(code, 1, "{out}");
    assert!(
        out.starts_with(&format!(
            "broken [drivers32] unresolved = {p}: {p}: cannot load: {message}\n",
            p = driver.display()
        )),
        "{out}"
    );
}

/// Unix: FIFOs.
#[cfg(unix)]
#[test]
fn list_reports_special_files_without_blocking() {
    let s = Scratch::new();
    let fifo = s.dir.path().join("fifo.so");
    let c_path = std::ffi::CString::new(path_str(&fifo)).unwrap();
    // SAFETY: `c_path` is a valid NUL-terminated string for the duration of the call.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
    s.write_config(&format!("[drivers32]\nfifo={}\ndir={}\n", fifo.display(), s.dir.path().display()));
    let started = std::time::Instant::now();
    let (_, json, _) = run(s.drvctl(&["list", "--json"]));
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "list took {:?}", started.elapsed());
    let document: serde_json::Value = serde_json::from_str(&json).unwrap();
    let listed = &document["entries"];
    assert_eq!(
        listed[0]["problem"],
        format!("{} is a named pipe (FIFO), not a driver library", fifo.display())
    );
    assert_eq!(
        listed[1]["problem"],
        format!("{} is a directory, not a driver library", s.dir.path().display())
    );
    assert_eq!(listed[1]["fix"], "replace it with the driver library, or fix the entry", "{json}");
}

#[test]
fn relative_entries_are_relative_to_the_registry_file() {
    let s = Scratch::new();
    let sub = s.dir.path().join("sub");
    std::fs::create_dir(&sub).unwrap();
    std::fs::copy(common::lib("drvsample"), sub.join("libdrvsample.so")).unwrap();
    // The entry's path as the manager makes it: the registry's directory joined
    // with the entry (on Windows with both separators in it).
    let sample = s.dir.path().join("sub/libdrvsample.so");
    s.write_config("[drivers32]\nrel=sub/libdrvsample.so\n");
    // What the same path means in the current directory: not a library.
    let elsewhere = tempfile::tempdir().unwrap();
    std::fs::create_dir(elsewhere.path().join("sub")).unwrap();
    std::fs::write(elsewhere.path().join("sub/libdrvsample.so"), "not a library").unwrap();
    let in_elsewhere = |args: &[&str]| {
        let mut cmd = s.drvctl(args);
        cmd.current_dir(elsewhere.path());
        run(cmd)
    };

    let (_, json, _) = in_elsewhere(&["list", "--json"]);
    let document: serde_json::Value = serde_json::from_str(&json).unwrap();
    let listed = &document["entries"];
    assert_eq!(listed[0]["path"], path_str(&sample), "{json}");
    assert_eq!(listed[0]["problem"], serde_json::Value::Null, "{json}");
    let (code, out, _) = in_elsewhere(&["doctor"]);
    assert_eq!(
        (code, common::without_isolation(&out).as_str()),
        (
            0,
            format!(
                "ok     [drivers32] rel = sub/libdrvsample.so: loads and opens ({})\n1 entry, 0 broken\n",
                sample.display()
            )
            .as_str()
        )
    );
    let (code, out, err) = in_elsewhere(&["send", "rel", "DRV_QUERYCONFIGURE"]);
    assert_eq!((code, out.as_str()), (0, "DRV_QUERYCONFIGURE answered 0 (0x0)\n"), "{err}");
}

/// An entry no command line can name (a NUL byte or more than 128 KiB in its alias
/// or value) is one broken entry; the others are still listed and checked.
#[test]
fn a_hostile_entry_is_reported_and_the_rest_checked() {
    let s = Scratch::new();
    let sample = common::lib("drvsample");
    let long = "z".repeat(140 * 1024);
    s.write_config(&format!(
        "[drivers32]\na\0b=x.so\n{long}=x.so\nnul=x\0.so\nhuge={long}\ngood={}\n",
        sample.display()
    ));
    let (code, json, err) = run(s.drvctl(&["list", "--json"]));
    assert_eq!(code, 0, "{err}");
    let document: serde_json::Value = serde_json::from_str(&json).unwrap();
    let listed = &document["entries"];
    let problems: Vec<serde_json::Value> =
        listed.as_array().unwrap().iter().map(|e| e["problem"].clone()).collect();
    assert_eq!(
        problems,
        serde_json::json!([
            "the alias contains a NUL byte",
            "the alias is 143360 bytes long (more than 128 KiB)",
            "the value contains a NUL byte, which no file name can",
            "the value is 143360 bytes long (more than 128 KiB), which no file name and arguments are",
            null,
        ])
        .as_array()
        .unwrap()
        .clone()
    );
    assert_eq!(listed[0]["fix"], format!("delete line 2 of {} with a text editor", s.config().display()));

    let (code, out, err) = run(s.drvctl(&["doctor"]));
    assert_eq!(code, 1, "{err}");
    assert!(out.contains("broken [drivers32] \"a\\0b\" = x.so: the alias contains a NUL byte\n"), "{out}");
    assert!(out.contains("broken [drivers32] nul = \"x\\0.so\": the value contains a NUL byte"), "{out}");
    assert!(out.contains("broken [drivers32] huge = zzzzzzzz"), "{out}");
    assert!(out.ends_with("5 entries, 4 broken\n"), "{out}");
    assert!(out.len() < 4096, "a long value is shortened when shown: {} bytes", out.len());
}
