//! A C client and a C driver written against the Windows documentation build with
//! only `drvproc.h` and libdrvproc (through pkg-config), and run: the client opens the
//! C and Rust sample drivers by file and by alias, sends messages and closes.
//!
//! Built with the Unix C compiler, pkg-config and `-rpath`: Unix only
//! (scripts/windows-test.sh drives C clients on Windows).
#![cfg(unix)]

use std::path::Path;
use std::process::Command;

use drvproc_capi_tests::*;

/// What the client prints; `@CONFIG@` and `@DIR@` stand for the config file and its
/// directory.
fn expected() -> String {
    let block = |label: &str, config_answer: i64, install_answer: i64, with_path: bool| {
        let mut s = format!(
            "{label}: open ok\n{label}: flags 0x80000000\n{label}: DRV_QUERYCONFIGURE -> 0\n\
             {label}: DRV_CONFIGURE -> {config_answer}\n{label}: DRV_INSTALL -> {install_answer}\n\
             {label}: DRV_USER+1 -> 0\n"
        );
        if with_path {
            s += &format!(
                "{label}: module handle is the dlopen handle: yes\n{label}: DriverProc found through it: yes\n"
            );
        }
        s + &format!(
            "{label}: CloseDriver -> 1\n{label}: CloseDriver again -> 0\n{label}: SendDriverMessage after close -> 0\n"
        )
    };
    [
        block("c file", 1, 1, true),
        block("c alias", 1, 1, true),
        block("rust file", 1, 1, true),
        block("rust alias", 1, 1, true),
        "two instances: ok, distinct handles: yes\n".to_string(),
        "close first -> 1, close second -> 1\n".to_string(),
        "OpenDriver(NULL) -> (nil): OpenDriver: the driver name is NULL\n".to_string(),
        "OpenDriver(bad UTF-16) -> (nil): OpenDriver: the driver name is not valid UTF-16\n".to_string(),
        "OpenDriverA(bad UTF-8) -> (nil): OpenDriver: the driver name is not valid UTF-8\n".to_string(),
        "OpenDriverA(missing) -> (nil): no.such.alias: not found (as a file in @DIR@ (searched config dir, system \
         library path; dlopen failed: no.such.alias: cannot open shared object file: No such file or directory); \
         no alias in [Drivers32] of @CONFIG@)\n"
            .to_string(),
        "CloseDriver(NULL) -> 0\n".to_string(),
        "SendDriverMessage(NULL) -> 0\n".to_string(),
        "GetDriverModuleHandle(NULL) -> (nil)\n".to_string(),
        "GetDriverFlags(NULL) -> 0\n".to_string(),
        "DefDriverProc(DRV_LOAD) -> 1, (DRV_OPEN) -> 0, DrvDefDriverProc(DRV_INSTALL) -> 1\n".to_string(),
        "DriverCallback(DCB_NULL) -> 0\n".to_string(),
    ]
    .concat()
}

fn run_client(client: &Path, config: &Path, c_driver: &Path, rust_driver: &Path) -> String {
    let mut cmd = Command::new(client);
    cmd.arg(c_driver).arg(rust_driver).env("DRVPROC_CONFIG", config).env_remove("DRVPROC_PATH");
    let out = run(cmd);
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn c_client_drives_c_and_rust_drivers_through_libdrvproc() {
    let dir = tempfile::tempdir().unwrap();
    let c_driver = build_c_sample(dir.path());
    let rust_driver = built("libdrvsample.so");
    let config = dir.path().join("system.ini");
    std::fs::write(
        &config,
        format!(
            "[Drivers32]\nc.sample={}\nrust.sample={} from=alias\n",
            c_driver.display(),
            rust_driver.display()
        ),
    )
    .unwrap();
    let pc_dir = fake_install(&dir.path().join("prefix"));

    // Builds c/client.c with the documented cflags, linked with `link`.
    let build_client = |out: &Path, link: Vec<String>| {
        let mut cmd = cc();
        cmd.args(["-std=c11", "-Wall", "-Wextra", "-Werror"])
            .args(pkg_config(&pc_dir, &["--cflags"]))
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("c/client.c"))
            .arg("-o")
            .arg(out)
            .args(link);
        compile_clean(cmd);
    };

    // Dynamic link, with the documented pkg-config line.
    let client = dir.path().join("client");
    let mut link = pkg_config(&pc_dir, &["--libs"]);
    link.push("-ldl".into());
    build_client(&client, link);
    let want = expected()
        .replace("@CONFIG@", &config.display().to_string())
        .replace("@DIR@", &dir.path().display().to_string());
    assert_eq!(run_client(&client, &config, &c_driver, &rust_driver), want);

    // Static link against libdrvproc.a with its private libraries.
    let static_client = dir.path().join("client-static");
    let mut link = vec![dir.path().join("prefix/lib/libdrvproc.a").display().to_string()];
    link.extend(
        pkg_config(&pc_dir, &["--libs-only-other", "--static"])
            .into_iter()
            .filter(|a| !a.starts_with("-Wl,-rpath")),
    );
    link.extend(["-lgcc_s", "-lutil", "-lrt", "-lpthread", "-lm", "-ldl", "-lc"].map(String::from));
    build_client(&static_client, link);
    let nm = run({
        let mut c = Command::new("nm");
        c.arg("-D").arg(&static_client);
        c
    });
    assert!(
        !String::from_utf8_lossy(&nm.stdout).contains("libdrvproc"),
        "the static client does not need libdrvproc.so"
    );
    assert_eq!(run_client(&static_client, &config, &c_driver, &rust_driver), want);
}

#[test]
fn the_c_sample_driver_exports_driver_proc() {
    let dir = tempfile::tempdir().unwrap();
    let c_driver = build_c_sample(dir.path());
    let out = run({
        let mut c = Command::new("nm");
        c.args(["-D", "--defined-only"]).arg(&c_driver);
        c
    });
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.lines().any(|l| l.ends_with(" T DriverProc")), "{text}");
}
