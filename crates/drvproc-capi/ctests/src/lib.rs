//! Helpers for compiling and running C code against `drvproc.h` and the freshly
//! built `libdrvproc`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Where cargo put this build's libraries (libdrvproc.so/.a, libdrvsample.so):
/// beside the test binary.
pub fn deps_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    exe.parent().expect("test binary directory").to_path_buf()
}

/// A library cargo built, e.g. `built("libdrvproc.so")`.
pub fn built(file: &str) -> PathBuf {
    let path = deps_dir().join(file);
    assert!(path.is_file(), "{} was not built", path.display());
    path
}

/// The directory holding `drvproc.h`.
pub fn include_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../include")
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../..")
}

/// The C compiler: `$CC`, else `cc`.
pub fn cc() -> Command {
    Command::new(std::env::var_os("CC").unwrap_or_else(|| "cc".into()))
}

/// Runs a command, failing the test with its output unless it succeeds.
pub fn run(mut cmd: Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Compiles a compiler invocation and asserts it printed no warning.
pub fn compile_clean(cmd: Command) {
    let out = run(cmd);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.trim().is_empty(), "the compiler warned:\n{stderr}");
}

/// Builds the C sample driver (`drivers/sample-c/sample.c`) into `dir`, warning-free,
/// linked against libdrvproc; returns its path.
pub fn build_c_sample(dir: &Path) -> PathBuf {
    let out = dir.join("libdrvsamplec.so");
    let mut cmd = cc();
    cmd.args(["-shared", "-fPIC", "-std=c11", "-Wall", "-Wextra", "-Werror"])
        .arg("-I")
        .arg(include_dir())
        .arg(repo_root().join("drivers/sample-c/sample.c"))
        .arg("-o")
        .arg(&out)
        .arg("-L")
        .arg(deps_dir())
        .arg(format!("-Wl,-rpath,{}", deps_dir().display()))
        .arg("-ldrvproc");
    compile_clean(cmd);
    out
}

/// Installs the built library and header under `prefix` the way
/// `scripts/install-capi.sh` lays them out (symlinks), with `drvproc.pc` generated
/// from the same template; returns the pkgconfig directory.
pub fn fake_install(prefix: &Path) -> PathBuf {
    let lib = prefix.join("lib");
    let pc_dir = lib.join("pkgconfig");
    std::fs::create_dir_all(&pc_dir).unwrap();
    std::fs::create_dir_all(prefix.join("include")).unwrap();
    for file in ["libdrvproc.so", "libdrvproc.a"] {
        std::os::unix::fs::symlink(built(file), lib.join(file)).unwrap();
    }
    std::os::unix::fs::symlink(include_dir().join("drvproc.h"), prefix.join("include/drvproc.h")).unwrap();
    let template =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../drvproc.pc.in")).unwrap();
    let pc = template
        .replace("@PREFIX@", &prefix.display().to_string())
        .replace("@VERSION@", env!("CARGO_PKG_VERSION"));
    std::fs::write(pc_dir.join("drvproc.pc"), pc).unwrap();
    pc_dir
}

/// `pkg-config ARGS drvproc` with `PKG_CONFIG_PATH=pc_dir`, split into arguments.
pub fn pkg_config(pc_dir: &Path, args: &[&str]) -> Vec<String> {
    let mut cmd = Command::new("pkg-config");
    cmd.env("PKG_CONFIG_PATH", pc_dir).args(args).arg("drvproc");
    let out = run(cmd);
    String::from_utf8(out.stdout).unwrap().split_whitespace().map(str::to_string).collect()
}
