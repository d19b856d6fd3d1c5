//! `drvtrace`: a test driver that records every message it receives and answers as
//! configured. The manager's tests and `drvctl trace` are built on it.
//!
//! It is a raw `DriverProc` (not the SDK) on purpose: it must record exactly what a
//! manager sends, including ids and orders the SDK would reject.
//!
//! # Settings
//! Read at every `DRV_LOAD`, from a file named `drvtrace.env` in the directory of the
//! library itself (Unix and Windows) (`KEY=VALUE` lines, `#` comments), falling back to the environment
//! variable `DRVTRACE_<KEY>`. The file lets parallel tests each use their own copy of
//! the library without touching the process environment.
//!
//! | key | meaning | default |
//! |---|---|---|
//! | `LOG` | file to append one line per message to (relative: to the settings file) | none |
//! | `LOAD` | answer to `DRV_LOAD` | 1 |
//! | `FAIL_OPEN` | comma-separated n: the n-th `DRV_OPEN` since load answers 0 | none |
//! | `ANSWER` | `MSG:VALUE,...`, fixed answers (`DRV_INSTALL:2,DRV_USER+1:-5`) | none |
//! | `ABORT` | a message name: abort the process when it arrives | none |
//! | `SEGV` | a message name: end the process with a segmentation fault when it arrives (`SIGSEGV`; on Windows an access violation's exit code) | none |
//! | `HANG` | a message name: never return from it | none |
//! | `PANIC` | a message name: panic in it (a raw `extern "system"` function cannot unwind, so the process aborts) | none |
//! | `SLEEP` | `MSG:MICROSECONDS,...`: take that long to answer (widens race windows: a message still running when another arrives is recorded after it) | none |
//! | `PRINT` | `MSG:TEXT`: write TEXT and a newline to stdout when MSG arrives; `\xNN` writes the byte NN | none |
//! | `FLOOD` | a message name: write to stdout without end when it arrives | none |
//! | `SPAWN` | a message name: the first time it arrives in the process, start a helper process (`sleep 30`; on Windows `ping -n 31 127.0.0.1`) that inherits stdout and stderr; answer as usual | none |
//! | `SPAWNED` | file to append the helper's process id to, one line per helper (relative: to the settings file), so that a test can check it is gone | none |
//! | `EXIT` | `MSG:CODE`: end the process with `exit(CODE)` when MSG arrives | none |
//! | `CALLBACK` | `MSG:FLAGS` or `MSG:FLAGS:thread`: when MSG arrives, call `DriverCallback(lParam1, FLAGS, hdrvr, MSG, lParam2, id, CALLBACK_PARAM2)` (found in the process by name, as a driver linked with `-ldrvproc` binds it; Unix only) and answer its result, -1 when the process has none; with `thread`, from a thread of the driver's own that it waits for | none |
//! | `ACM_ASYNC` | `1`: on `ACMDM_STREAM_OPEN`, read `lParam1` as an `ACMDRVSTREAMINSTANCE` and notify its opener as an asynchronous ACM codec does, `DriverCallback(dwCallback, HIWORD(fdwOpen), has, MM_ACM_OPEN, dwInstance, 0, 0)` (found as for `CALLBACK`); answer its result, -1 when the process has none, `MMSYSERR_INVALPARAM` for a NULL or short structure | none |
//! | `STALE` | `1`: remember a `DRV_FREE` in a static and refuse every later `DRV_LOAD`, as a driver relying on fresh statics does when its image stays mapped | none |
//!
//! `PRINT`, `FLOOD`, `SPAWN` and `EXIT` stand for drivers that misbehave towards the
//! process hosting them; `drvctl check` must survive each.
//!
//! Unconfigured answers: `DRV_OPEN` returns `0x1000 + n` for the n-th open since load,
//! `DRV_CLOSE` returns 1, everything else what `DefDriverProc` answers.
//!
//! # Record format
//! One line per message, written after the answer is known:
//! `msg=0x0003 id=0 h=0x10001 l1=140737 args="a b" l2=0 ret=4097 # DRV_OPEN`
//! (`args=-` when the message is not `DRV_OPEN` or `lParam1` is NULL; the message's
//! name follows the `#` for people reading the file).

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError, RwLock};

use drvproc::acm::consts::{ACMDM_STREAM_OPEN, MMSYSERR_INVALPARAM};
use drvproc::acm::layout::AcmDrvStreamInstance;
use drvproc::consts::*;
use drvproc::wide::WideString;
use drvproc::{DriverId, Hdrvr, LParam, LResult, Msg, def_driver_proc, message_name, parse_message};

/// Name of the settings file looked for beside the library.
pub const SETTINGS_FILE: &str = "drvtrace.env";

/// The `dwParam2` of a `CALLBACK` notification.
pub const CALLBACK_PARAM2: usize = 0x0C0F_FEE5;

/// `MM_ACM_OPEN` (= `MM_STREAM_OPEN`): what an asynchronous ACM codec tells a
/// stream's opener once the stream is open (`ACM_ASYNC`).
pub const MM_ACM_OPEN: Msg = 0x3D4;

/// What `CALLBACK` does: the flags, and whether from a thread of its own.
#[derive(Debug, Clone, Copy)]
struct Notify {
    flags: u32,
    on_thread: bool,
}

#[derive(Default, Debug)]
struct Settings {
    log: Option<PathBuf>,
    load: Option<LResult>,
    fail_open: Vec<usize>,
    answers: HashMap<Msg, LResult>,
    abort: Option<Msg>,
    segv: Option<Msg>,
    hang: Option<Msg>,
    panic: Option<Msg>,
    sleep: HashMap<Msg, u64>,
    print: Option<(Msg, Vec<u8>)>,
    flood: Option<Msg>,
    spawn: Option<Msg>,
    spawned: Option<PathBuf>,
    exit: Option<(Msg, i32)>,
    callback: HashMap<Msg, Notify>,
    acm_async: bool,
    stale: bool,
}

static SETTINGS: RwLock<Option<Settings>> = RwLock::new(None);
static LOG: Mutex<Option<File>> = Mutex::new(None);
static OPENS: AtomicUsize = AtomicUsize::new(0);
/// Set when `SPAWN` started its helper: one per process, as a driver starting a
/// helper does. (A process per message would make a rule sending thousands of them
/// as slow as the system starts processes: on Windows, tens of milliseconds each.)
static SPAWNED: AtomicBool = AtomicBool::new(false);
/// Set by `DRV_FREE` and never cleared: survives an unload while the image stays mapped.
static FREED: AtomicBool = AtomicBool::new(false);

/// The exported entry point: answer, then record.
///
/// # Safety
/// For `DRV_OPEN`, `l1` must be 0 or a NUL-terminated UTF-16 string (the manager's
/// contract); with `ACM_ASYNC` set, `ACMDM_STREAM_OPEN`'s `l1` must be 0 or an
/// `ACMDRVSTREAMINSTANCE` as long as its `cbStruct` says (msacm32's contract). No
/// other parameter is dereferenced.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn DriverProc(
    id: DriverId,
    h: Hdrvr,
    msg: Msg,
    l1: LParam,
    l2: LParam,
) -> LResult {
    let args = if msg == DRV_OPEN {
        // SAFETY: DRV_OPEN's lParam1 is 0 or an args string (the caller's contract).
        unsafe { WideString::from_ptr(l1 as *const u16) }
    } else {
        None
    };
    if msg == DRV_LOAD {
        reload_settings();
    }
    // SAFETY: forwarded contract.
    let answer = unsafe { answer(id, h, msg, l1, l2) };
    record(id, h, msg, l1, args.as_ref(), l2, answer);
    answer
}

/// Ends the process as an invalid memory access would, without one (which would
/// be undefined behaviour in Rust).
fn segfault() -> ! {
    #[cfg(unix)]
    // SAFETY: signal(2) and raise(3) take integers. SIG_DFL makes SIGSEGV fatal
    // whatever a handler the host installed, and the signal is delivered to this
    // thread before raise returns.
    unsafe {
        libc::signal(libc::SIGSEGV, libc::SIG_DFL);
        libc::raise(libc::SIGSEGV);
    }
    #[cfg(windows)]
    {
        const STATUS_ACCESS_VIOLATION: u32 = 0xC000_0005;
        // SAFETY: ExitProcess takes an integer and does not return.
        unsafe { windows_sys::Win32::System::Threading::ExitProcess(STATUS_ACCESS_VIOLATION) }
    }
    #[allow(unreachable_code)]
    std::process::abort()
}

/// What the driver answers, after doing what the settings say.
///
/// # Safety
/// As for [`DriverProc`].
unsafe fn answer(id: DriverId, h: Hdrvr, msg: Msg, l1: LParam, l2: LParam) -> LResult {
    let settings = SETTINGS.read().unwrap_or_else(PoisonError::into_inner);
    let settings = settings.as_ref();
    if let Some(s) = settings {
        misbehave(s, msg);
        if s.abort == Some(msg) {
            eprintln!("drvtrace: aborting on {} as configured", message_name(msg));
            std::process::abort();
        }
        if s.segv == Some(msg) {
            eprintln!("drvtrace: crashing with a segmentation fault on {} as configured", message_name(msg));
            segfault();
        }
        if s.panic == Some(msg) {
            panic!("drvtrace: panicking on {} as configured", message_name(msg));
        }
        if s.hang == Some(msg) {
            eprintln!("drvtrace: hanging on {} as configured", message_name(msg));
            loop {
                std::thread::park();
            }
        }
    }
    if let Some(&micros) = settings.and_then(|s| s.sleep.get(&msg)) {
        std::thread::sleep(std::time::Duration::from_micros(micros));
    }
    if let Some(&notify) = settings.and_then(|s| s.callback.get(&msg)) {
        return call_back(notify, id, h, msg, l1, l2);
    }
    if msg == ACMDM_STREAM_OPEN && settings.is_some_and(|s| s.acm_async) {
        // SAFETY: with ACM_ASYNC set, lParam1 is 0 or a stream instance (the caller's contract).
        return unsafe { stream_opened(l1) };
    }
    let open_number = (msg == DRV_OPEN).then(|| OPENS.fetch_add(1, Ordering::SeqCst) + 1);
    if let Some(&fixed) = settings.and_then(|s| s.answers.get(&msg)) {
        return fixed;
    }
    match msg {
        DRV_LOAD if settings.is_some_and(|s| s.stale) && FREED.load(Ordering::SeqCst) => 0,
        DRV_FREE if settings.is_some_and(|s| s.stale) => {
            FREED.store(true, Ordering::SeqCst);
            1
        }
        DRV_LOAD => settings.and_then(|s| s.load).unwrap_or(1),
        DRV_OPEN => {
            let n = open_number.unwrap_or(0);
            if settings.is_some_and(|s| s.fail_open.contains(&n)) { 0 } else { 0x1000 + n as LResult }
        }
        DRV_CLOSE => 1,
        _ => def_driver_proc(id, h, msg, l1, l2),
    }
}

/// The `PRINT`, `FLOOD`, `SPAWN` and `EXIT` behaviours, in that order.
fn misbehave(s: &Settings, msg: Msg) {
    if let Some((_, text)) = s.print.as_ref().filter(|(m, _)| *m == msg) {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(text).and_then(|()| out.write_all(b"\n")).and_then(|()| out.flush());
    }
    if s.flood == Some(msg) {
        let chunk = [b'x'; 4096];
        let mut out = std::io::stdout().lock();
        while out.write_all(&chunk).is_ok() {}
        // The reader went away: hang rather than answer.
        loop {
            std::thread::park();
        }
    }
    if s.spawn == Some(msg) && !SPAWNED.swap(true, Ordering::SeqCst) {
        match helper_process().stdin(std::process::Stdio::null()).spawn() {
            Ok(helper) => {
                if let Some(path) = &s.spawned {
                    let written = std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(path)
                        .and_then(|mut f| writeln!(f, "{}", helper.id()));
                    if let Err(e) = written {
                        eprintln!("drvtrace: cannot record the helper's id in {}: {e}", path.display());
                    }
                }
            }
            Err(e) => eprintln!("drvtrace: cannot start the helper: {e}"),
        }
    }
    if let Some(&(_, code)) = s.exit.as_ref().filter(|(m, _)| *m == msg) {
        std::process::exit(code);
    }
}

/// `DriverCallback`'s signature.
type DriverCallbackFn = unsafe extern "system" fn(usize, u32, Hdrvr, u32, usize, usize, usize) -> i32;

/// The `DriverCallback` a driver linked with `-ldrvproc` would call: the first
/// definition in the process's global symbol scope.
#[cfg(unix)]
fn driver_callback_fn() -> Option<DriverCallbackFn> {
    // SAFETY: RTLD_DEFAULT and a NUL-terminated name; dlsym only looks the name up.
    let f = unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"DriverCallback".as_ptr()) };
    // SAFETY: a non-null `DriverCallback` is the driver-manager export with this
    // signature (drvproc.h); a null one becomes `None`.
    (!f.is_null()).then(|| unsafe { std::mem::transmute::<*mut libc::c_void, DriverCallbackFn>(f) })
}

#[cfg(not(unix))]
fn driver_callback_fn() -> Option<DriverCallbackFn> {
    None
}

/// The `CALLBACK` behaviour: notifies whatever the sender named in `lParam1`.
fn call_back(notify: Notify, id: DriverId, h: Hdrvr, msg: Msg, l1: LParam, l2: LParam) -> LResult {
    let Some(f) = driver_callback_fn() else { return -1 };
    let (callback, user) = (l1 as usize, l2 as usize);
    // SAFETY: DriverCallback takes integers; the target is the sender's to choose
    // (the sender of the message configured for this behaviour passes a callback).
    let call = move || unsafe { f(callback, notify.flags, h, msg, user, id, CALLBACK_PARAM2) } as LResult;
    if notify.on_thread { std::thread::spawn(call).join().unwrap_or(-1) } else { call() }
}

/// The `ACM_ASYNC` behaviour: tells the stream's opener that the stream is open,
/// with the values it put in the stream instance at `l1`.
///
/// # Safety
/// `l1` is 0 or an `ACMDRVSTREAMINSTANCE` as long as its `cbStruct` says.
unsafe fn stream_opened(l1: LParam) -> LResult {
    if l1 == 0 {
        return MMSYSERR_INVALPARAM;
    }
    // SAFETY: a stream instance starts with its u32 size (the contract); unaligned,
    // as the caller's structure need not be aligned.
    let cb = unsafe { std::ptr::read_unaligned(l1 as *const u32) } as usize;
    if cb < std::mem::size_of::<AcmDrvStreamInstance>() {
        return MMSYSERR_INVALPARAM;
    }
    // SAFETY: the whole structure is there (its size, the contract); plain integers
    // and pointers that are copied, not followed.
    let si = unsafe { std::ptr::read_unaligned(l1 as *const AcmDrvStreamInstance) };
    let Some(f) = driver_callback_fn() else { return -1 };
    let flags = si.fdw_open >> 16;
    let has = Hdrvr::from_raw(si.has as usize);
    // SAFETY: DriverCallback takes integers; the target is the one the stream's
    // opener gave for this stream, as msacm32 passes it.
    (unsafe { f(si.callback, flags, has, MM_ACM_OPEN, si.instance, 0, 0) }) as LResult
}

/// `SPAWN`'s helper: a program of the system's own that lives about 30 s and keeps
/// the stdout and stderr it inherited open all that time.
fn helper_process() -> std::process::Command {
    let mut cmd;
    if cfg!(windows) {
        // Windows has no `sleep`; 31 echoes to the loopback interface take 30 s.
        cmd = std::process::Command::new("ping");
        cmd.args(["-n", "31", "127.0.0.1"]);
    } else {
        cmd = std::process::Command::new("sleep");
        cmd.arg("30");
    }
    cmd
}

/// `TEXT` with each `\xNN` replaced by the byte NN.
fn unescape(text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = text.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        let byte = (b == b'\\')
            .then(|| tail.strip_prefix(b"x"))
            .flatten()
            .and_then(|t| t.get(..2))
            .and_then(|hex| u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok());
        match byte {
            Some(v) => {
                out.push(v);
                rest = &tail[3..];
            }
            None => {
                out.push(b);
                rest = tail;
            }
        }
    }
    out
}

fn record(id: DriverId, h: Hdrvr, msg: Msg, l1: LParam, args: Option<&WideString>, l2: LParam, ret: LResult) {
    let mut log = LOG.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(file) = log.as_mut() {
        let args = args.map_or_else(|| "-".to_string(), |a| format!("{:?}", a.to_string_lossy()));
        let line = format!(
            "msg={msg:#06x} id={id} h={h} l1={l1} args={args} l2={l2} ret={ret} # {}\n",
            message_name(msg)
        );
        // One write per line on an O_APPEND file: lines from threads never interleave.
        if let Err(e) = file.write_all(line.as_bytes()) {
            eprintln!("drvtrace: cannot write the log: {e}");
        }
    }
}

fn reload_settings() {
    let dir = own_dir();
    let file_values = dir.as_ref().and_then(|d| std::fs::read_to_string(d.join(SETTINGS_FILE)).ok());
    let file_values: HashMap<String, String> = file_values
        .as_deref()
        .map(|text| {
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .filter_map(|l| l.split_once('='))
                .map(|(k, v)| (k.trim().to_ascii_uppercase(), v.trim().to_string()))
                .collect()
        })
        .unwrap_or_default();
    let get =
        |key: &str| file_values.get(key).cloned().or_else(|| std::env::var(format!("DRVTRACE_{key}")).ok());
    let settings = Settings {
        log: get("LOG").map(|p| match &dir {
            Some(d) if file_values.contains_key("LOG") => d.join(p),
            _ => PathBuf::from(p),
        }),
        load: get("LOAD").and_then(|v| parse_value(&v)),
        fail_open: get("FAIL_OPEN")
            .map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect())
            .unwrap_or_default(),
        answers: get("ANSWER").map(|v| message_values(&v, parse_value)).unwrap_or_default(),
        abort: get("ABORT").and_then(|m| parse_message(&m).ok()),
        segv: get("SEGV").and_then(|m| parse_message(&m).ok()),
        hang: get("HANG").and_then(|m| parse_message(&m).ok()),
        panic: get("PANIC").and_then(|m| parse_message(&m).ok()),
        sleep: get("SLEEP").map(|v| message_values(&v, |t| t.trim().parse().ok())).unwrap_or_default(),
        print: get("PRINT").and_then(|v| {
            let (m, text) = v.split_once(':')?;
            Some((parse_message(m).ok()?, unescape(text)))
        }),
        flood: get("FLOOD").and_then(|m| parse_message(&m).ok()),
        spawn: get("SPAWN").and_then(|m| parse_message(&m).ok()),
        spawned: get("SPAWNED").map(|p| match &dir {
            Some(d) if file_values.contains_key("SPAWNED") => d.join(p),
            _ => PathBuf::from(p),
        }),
        exit: get("EXIT").and_then(|v| {
            let (m, code) = v.rsplit_once(':')?;
            Some((parse_message(m).ok()?, code.trim().parse().ok()?))
        }),
        callback: get("CALLBACK")
            .map(|v| {
                v.split(',')
                    .filter_map(|entry| {
                        let mut parts = entry.split(':');
                        let msg = parse_message(parts.next()?).ok()?;
                        let flags = parts.next()?.trim().parse().ok()?;
                        let on_thread = parts.next().map(str::trim) == Some("thread");
                        Some((msg, Notify { flags, on_thread }))
                    })
                    .collect()
            })
            .unwrap_or_default(),
        acm_async: get("ACM_ASYNC").is_some_and(|v| v.trim() == "1"),
        stale: get("STALE").is_some_and(|v| v.trim() == "1"),
    };
    let file = settings.log.as_deref().and_then(open_log);
    OPENS.store(0, Ordering::SeqCst);
    *LOG.lock().unwrap_or_else(PoisonError::into_inner) = file;
    *SETTINGS.write().unwrap_or_else(PoisonError::into_inner) = Some(settings);
}

/// Parses `MSG:VALUE,...` (the value after the last colon, so `DRV_USER+1:-5` works);
/// pairs that do not parse are skipped.
fn message_values<T>(text: &str, value: impl Fn(&str) -> Option<T>) -> HashMap<Msg, T> {
    text.split(',')
        .filter_map(|pair| pair.rsplit_once(':'))
        .filter_map(|(m, v)| Some((parse_message(m).ok()?, value(v)?)))
        .collect()
}

fn open_log(path: &Path) -> Option<File> {
    match OpenOptions::new().create(true).append(true).open(path) {
        Ok(f) => Some(f),
        Err(e) => {
            eprintln!("drvtrace: cannot open log {}: {e}", path.display());
            None
        }
    }
}

fn parse_value(text: &str) -> Option<LResult> {
    let t = text.trim();
    let (neg, t) = t.strip_prefix('-').map_or((false, t), |rest| (true, rest));
    let v = match t.strip_prefix("0x") {
        Some(hex) => LResult::from_str_radix(hex, 16).ok()?,
        None => t.parse().ok()?,
    };
    Some(if neg { -v } else { v })
}

/// The directory of this library's file, to find the settings file beside it.
#[cfg(unix)]
fn own_dir() -> Option<PathBuf> {
    use std::ffi::CStr;
    use std::os::unix::ffi::OsStrExt;
    // SAFETY: an all-zero Dl_info is a valid value of this plain C struct.
    let mut info: libc::Dl_info = unsafe { std::mem::zeroed() };
    // SAFETY: dladdr only reads the address (of a function in this library) and
    // fills `info`; it returns 0 if the address is not in a loaded object.
    let found = unsafe { libc::dladdr(DriverProc as *const libc::c_void, &mut info) };
    if found == 0 || info.dli_fname.is_null() {
        return None;
    }
    // SAFETY: dli_fname is a NUL-terminated path owned by the loader, valid while
    // this library stays loaded (it is: we are running its code).
    let name = unsafe { CStr::from_ptr(info.dli_fname) };
    let path = Path::new(std::ffi::OsStr::from_bytes(name.to_bytes()));
    path.parent().map(Path::to_path_buf)
}

/// The directory of this DLL's file, to find the settings file beside it: the module
/// that holds `DriverProc`, asked for without taking a reference (the DLL is running,
/// so it stays loaded while its name is read).
#[cfg(windows)]
fn own_dir() -> Option<PathBuf> {
    use std::os::windows::ffi::OsStringExt;
    use windows_sys::Win32::System::LibraryLoader::{
        GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS, GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT,
        GetModuleFileNameW, GetModuleHandleExW,
    };
    let mut module = std::ptr::null_mut();
    // SAFETY: with FROM_ADDRESS the name argument is read as an address, here one of a
    // function of this DLL; UNCHANGED_REFCOUNT adds no reference to release; `module`
    // is a valid place for the handle.
    let found = unsafe {
        GetModuleHandleExW(
            GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS | GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT,
            DriverProc as *const u16,
            &mut module,
        )
    };
    if found == 0 {
        return None;
    }
    // Long paths can exceed MAX_PATH: grow the buffer while the name fills it.
    let mut buf = vec![0u16; 260];
    loop {
        let size = u32::try_from(buf.len()).ok()?;
        // SAFETY: `buf` holds `size` writable UTF-16 units; `module` is this DLL's handle.
        let len = unsafe { GetModuleFileNameW(module, buf.as_mut_ptr(), size) } as usize;
        if len == 0 {
            return None;
        }
        if len < buf.len() {
            buf.truncate(len);
            break;
        }
        buf.resize(buf.len() * 2, 0);
    }
    let path = PathBuf::from(std::ffi::OsString::from_wide(&buf));
    path.parent().map(Path::to_path_buf)
}

/// No way to find this library's file elsewhere: only the environment is read.
#[cfg(not(any(unix, windows)))]
fn own_dir() -> Option<PathBuf> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_parse() {
        assert_eq!(parse_value("42"), Some(42));
        assert_eq!(parse_value("-5"), Some(-5));
        assert_eq!(parse_value("0x10"), Some(16));
        assert_eq!(parse_value("x"), None);
    }

    #[test]
    fn escapes_become_bytes() {
        assert_eq!(unescape(r"a\xffb\x0"), b"a\xffb\\x0");
        assert_eq!(unescape(r"{\x22pass\x22}"), b"{\"pass\"}");
    }

    #[test]
    fn message_value_lists_parse() {
        let sleeps = message_values("DRV_USER:200, DRV_CLOSE:x,bogus:3", |t| t.trim().parse::<u64>().ok());
        assert_eq!(sleeps, HashMap::from([(DRV_USER, 200)]));
        let answers = message_values("DRV_USER+1:-5", parse_value);
        assert_eq!(answers, HashMap::from([(DRV_USER + 1, -5)]));
    }
}
