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

/// The file name of library `name` on this platform: `libNAME.so`, `NAME.dll`, ...
pub fn dylib(name: &str) -> String {
    format!("{}{name}{}", std::env::consts::DLL_PREFIX, std::env::consts::DLL_SUFFIX)
}

/// A library cargo built, e.g. `built(&dylib("drvproc"))`.
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

/// Linker flags that make the `-rpath` win over `LD_LIBRARY_PATH`: `cargo test`
/// puts `target/debug` on that path, where a `libdrvproc.so` from an earlier build
/// of the library's own package may lie, older than the one in `target/debug/deps`
/// that this build made; with the default `RUNPATH` the C programs would load it
/// and test stale code.
#[cfg(unix)]
fn rpath_first() -> &'static [&'static str] {
    if cfg!(target_os = "linux") { &["-Wl,--disable-new-dtags"] } else { &[] }
}

/// Builds the C sample driver (`drivers/sample-c/sample.c`) into `dir`, warning-free,
/// linked against libdrvproc; returns its path.
#[cfg(unix)]
pub fn build_c_sample(dir: &Path) -> PathBuf {
    build_c_driver(&repo_root().join("drivers/sample-c/sample.c"), &dir.join("libdrvsamplec.so"))
}

/// Builds a C driver from `source` into `out`, warning-free, linked against
/// libdrvproc with `-ldrvproc` (as the README shows); returns `out`.
#[cfg(unix)]
pub fn build_c_driver(source: &Path, out: &Path) -> PathBuf {
    let mut cmd = cc();
    cmd.args(["-shared", "-fPIC", "-std=c11", "-Wall", "-Wextra", "-Werror"])
        .arg("-I")
        .arg(include_dir())
        .arg(source)
        .arg("-o")
        .arg(out)
        .arg("-L")
        .arg(deps_dir())
        .arg(format!("-Wl,-rpath,{}", deps_dir().display()))
        .args(rpath_first())
        .arg("-ldrvproc");
    compile_clean(cmd);
    out.to_path_buf()
}

/// Builds the C program `c/NAME.c` of this package into `dir/NAME`, warning-free,
/// linked against libdrvproc and pthreads; returns its path.
#[cfg(unix)]
pub fn build_c_program(name: &str, dir: &Path) -> PathBuf {
    let out = dir.join(name);
    let mut cmd = cc();
    cmd.args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-pthread"])
        .arg("-I")
        .arg(include_dir())
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("c").join(format!("{name}.c")))
        .arg("-o")
        .arg(&out)
        .arg("-L")
        .arg(deps_dir())
        .arg(format!("-Wl,-rpath,{}", deps_dir().display()))
        .args(rpath_first())
        .arg("-ldrvproc");
    compile_clean(cmd);
    out
}

/// How a process run with [`run_with_timeout`] ended.
pub struct Finished {
    /// `None` when it was killed for running too long.
    pub status: Option<std::process::ExitStatus>,
    pub stdout: String,
    pub stderr: String,
}

impl Finished {
    /// Fails with the output unless the process exited with status 0.
    pub fn assert_success(&self, what: &str) {
        let output = format!("stdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        match self.status {
            None => panic!("{what}: hung (killed after the timeout)\n{output}"),
            Some(s) if !s.success() => panic!("{what}: did not exit cleanly ({s})\n{output}"),
            Some(_) => {}
        }
    }
}

/// Runs `cmd`, killing it after `timeout`.
pub fn run_with_timeout(mut cmd: Command, timeout: std::time::Duration) -> Finished {
    use std::io::Read;
    use std::process::Stdio;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = pipe.read_to_string(&mut s);
            s
        })
    };
    let out = drain(Box::new(child.stdout.take().expect("piped")));
    let err = drain(Box::new(child.stderr.take().expect("piped")));
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the child") {
            break Some(status);
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    Finished { status, stdout: out.join().unwrap(), stderr: err.join().unwrap() }
}

/// A private copy of the trace driver (`drivers/trace`) with its settings file.
pub struct TraceCopy {
    pub lib: PathBuf,
    pub log: PathBuf,
}

impl TraceCopy {
    /// Copies the built trace driver into `dir` (one copy per directory) with these
    /// `KEY=VALUE` settings and a log in the same directory.
    pub fn new(dir: &Path, settings: &[(&str, &str)]) -> TraceCopy {
        let lib = dir.join(dylib("drvtrace"));
        std::fs::copy(built(&dylib("drvtrace")), &lib).unwrap();
        let mut env = String::from("LOG=trace.log\n");
        for (k, v) in settings {
            env += &format!("{k}={v}\n");
        }
        std::fs::write(dir.join("drvtrace.env"), env).unwrap();
        TraceCopy { lib, log: dir.join("trace.log") }
    }

    pub fn path(&self) -> &str {
        self.lib.to_str().expect("UTF-8 temporary path")
    }

    /// Every message recorded so far, as `NAME(id, Hn) -> answer` (hex), handles
    /// numbered H1, H2, ... in order of first appearance; and the handle values, so
    /// that `handles[n - 1]` is `Hn`.
    pub fn messages(&self) -> (Vec<String>, Vec<String>) {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let mut handles: Vec<String> = Vec::new();
        let messages = text
            .lines()
            .map(|line| {
                let (name, id, h, ret) = parse_record(line);
                let n = handles.iter().position(|x| *x == h).unwrap_or_else(|| {
                    handles.push(h);
                    handles.len() - 1
                });
                format!("{name}({id:#x}, H{}) -> {ret:#x}", n + 1)
            })
            .collect();
        (messages, handles)
    }
}

/// `drivers/selfsend-c` built into `dir`, beside a private trace driver that it opens
/// through libdrvproc in its `DRV_OPEN` and keeps open while its instance lives:
/// the trace copy, and the target to open (`"<selfsend> <trace driver>"`, DRV_OPEN's
/// args naming the other driver).
#[cfg(unix)]
pub fn selfsend_beside_trace(dir: &Path) -> (TraceCopy, String) {
    let other = TraceCopy::new(dir, &[]);
    let selfsend =
        build_c_driver(&repo_root().join("drivers/selfsend-c/selfsend.c"), &dir.join("libselfsend.so"));
    let target = format!("{} {}", selfsend.display(), other.path());
    (other, target)
}

/// What the other driver of [`selfsend_beside_trace`] records when one selfsend
/// instance opens and closes: its whole lifecycle, and no message meant for selfsend.
pub const OTHER_OPENED_AND_CLOSED: [&str; 6] = [
    "DRV_LOAD(0x0, H1) -> 0x1",
    "DRV_ENABLE(0x0, H1) -> 0x1",
    "DRV_OPEN(0x0, H1) -> 0x1001",
    "DRV_CLOSE(0x1001, H1) -> 0x1",
    "DRV_DISABLE(0x0, H1) -> 0x1",
    "DRV_FREE(0x0, H1) -> 0x1",
];

/// One trace record (`msg=0x0003 id=0 h=0x1 l1=0 args=- l2=0 ret=4097 # DRV_OPEN`)
/// as (name, id, handle text, answer).
fn parse_record(line: &str) -> (String, u64, String, i64) {
    let (body, name) = line.rsplit_once(" # ").unwrap_or_else(|| panic!("not a trace record: {line}"));
    let head = body.split(" args=").next().unwrap_or(body);
    let field = |text: &str, key: &str| -> String {
        let start =
            text.find(&format!(" {key}=")).unwrap_or_else(|| panic!("no {key} in {line}")) + key.len() + 2;
        text[start..].split(' ').next().unwrap_or("").to_string()
    };
    let id: u64 = field(head, "id").parse().unwrap_or_else(|_| panic!("bad id in {line}"));
    let ret: i64 = field(body, "ret").parse().unwrap_or_else(|_| panic!("bad ret in {line}"));
    (name.to_string(), id, field(head, "h"), ret)
}

/// Installs the built library and header under `prefix` the way
/// `scripts/install-capi.sh` lays them out (symlinks), with `drvproc.pc` generated
/// from the same template; returns the pkgconfig directory.
#[cfg(unix)]
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
#[cfg(unix)]
pub fn pkg_config(pc_dir: &Path, args: &[&str]) -> Vec<String> {
    let mut cmd = Command::new("pkg-config");
    cmd.env("PKG_CONFIG_PATH", pc_dir).args(args).arg("drvproc");
    let out = run(cmd);
    String::from_utf8(out.stdout).unwrap().split_whitespace().map(str::to_string).collect()
}
