//! Running one step in a child drvctl, so a driver that crashes, aborts or hangs
//! takes down only that child.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;

use crate::context::Ctx;

/// How a child step ended.
pub enum Outcome<T> {
    /// It reported a result.
    Reported(T),
    /// It died or said nothing useful: why, in words.
    Died(String),
    /// It did not finish in time (it was killed).
    TimedOut(Duration),
}

fn signal_name(signal: i32) -> &'static str {
    match signal {
        4 => "SIGILL",
        6 => "SIGABRT",
        7 => "SIGBUS",
        8 => "SIGFPE",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        _ => "signal",
    }
}

/// Runs `drvctl __worker STEP TARGET` and decodes the JSON line it prints last.
pub fn run<T: DeserializeOwned>(
    ctx: &Ctx,
    step: &str,
    target: &str,
    timeout: Duration,
) -> std::io::Result<Outcome<T>> {
    let exe = std::env::current_exe()?;
    let mut child = Command::new(exe)
        .args(ctx.child_args())
        .args(["__worker", step, target])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    // Drain both pipes on threads so a chatty child can never block on a full pipe.
    let mut out = child.stdout.take().expect("piped stdout");
    let mut err = child.stderr.take().expect("piped stderr");
    let out_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break Some(status);
        }
        if start.elapsed() >= timeout {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let stdout = out_reader.join().unwrap_or_default();
    let stderr = err_reader.join().unwrap_or_default();
    let Some(status) = status else { return Ok(Outcome::TimedOut(timeout)) };
    if let Some(line) = stdout.lines().rev().find(|l| l.starts_with('{'))
        && let Ok(value) = serde_json::from_str(line)
    {
        return Ok(Outcome::Reported(value));
    }
    let last_words = stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").trim();
    let how = {
        #[cfg(unix)]
        {
            use std::os::unix::process::ExitStatusExt;
            status.signal().map(|s| format!("killed by signal {s} ({})", signal_name(s)))
        }
        #[cfg(not(unix))]
        {
            None::<String>
        }
    }
    .unwrap_or_else(|| format!("exited with {status}"));
    Ok(Outcome::Died(if last_words.is_empty() { how } else { format!("{how}: {last_words}") }))
}
