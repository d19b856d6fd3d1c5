//! Drives the bundled sample driver through its whole documented lifecycle by hand:
//! load the library, find `DriverProc`, and send the messages a manager sends
//! (spec §7.3 a, c, d, e), printing each with its answer.
//!
//! Run with `cargo run -p drvproc-host --example lifecycle [PATH]`; without PATH it
//! uses the sample driver cargo built beside this example.

use std::path::PathBuf;

use drvproc::config_info::ConfigInfoBuf;
use drvproc::consts::*;
use drvproc::wide::WideString;
use drvproc::{DriverProc, Hdrvr, LParam, Msg, message_name};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = match std::env::args_os().nth(1) {
        Some(p) => PathBuf::from(p),
        None => {
            let exe = std::env::current_exe()?;
            let dir = exe.parent().ok_or("example has no directory")?;
            let name = format!("{}drvsample{}", std::env::consts::DLL_PREFIX, std::env::consts::DLL_SUFFIX);
            [dir.join(&name), dir.join("../deps").join(&name)]
                .into_iter()
                .find(|p| p.is_file())
                .ok_or("sample driver not built: run `cargo build -p drvproc-sample`")?
        }
    };
    println!("driver file: {}", path.display());
    // SAFETY: loading a driver library runs its initialisers; the bundled sample has
    // none beyond Rust's std. `DriverProc` is looked up with its documented type.
    let lib = unsafe { libloading::Library::new(&path) }?;
    // SAFETY: as above: the symbol has the DriverProc signature.
    let proc_: DriverProc = *unsafe { lib.get::<DriverProc>(b"DriverProc\0") }?;

    let send = |id: usize, h: Hdrvr, msg: Msg, l1: LParam, l2: LParam| {
        // SAFETY: every pointer passed below (args string, DRVCONFIGINFO) is alive
        // for the duration of the call, as each message's contract requires.
        let answer = unsafe { proc_(id, h, msg, l1, l2) };
        println!(
            "  DriverProc(id={id:#x}, h={h}, {:<18} l1={l1:#x}, l2={l2:#x}) -> {answer}",
            message_name(msg)
        );
        answer
    };

    let (h1, h2) = (Hdrvr::from_raw(0x1001), Hdrvr::from_raw(0x1002));
    let args = WideString::new("mode=demo")?;
    println!("first open: load, enable, open");
    if send(0, h1, DRV_LOAD, 0, 0) == 0 {
        return Err("the driver refused DRV_LOAD".into());
    }
    send(0, h1, DRV_ENABLE, 0, 0);
    let id1 = send(0, h1, DRV_OPEN, args.as_ptr() as LParam, 0) as usize;
    println!("second open: open only");
    let id2 = send(0, h2, DRV_OPEN, 0, 0) as usize;
    if id1 == 0 || id2 == 0 {
        return Err("the driver refused DRV_OPEN".into());
    }
    println!("install and configure through the first instance");
    let dci = ConfigInfoBuf::new(Some("Drivers32"), Some("sample"))?;
    send(id1, h1, DRV_INSTALL, 0, dci.as_lparam());
    if send(id1, h1, DRV_QUERYCONFIGURE, 0, 0) != 0 {
        send(id1, h1, DRV_CONFIGURE, 0, dci.as_lparam());
    } else {
        println!("  (no configuration dialog: DRV_CONFIGURE not sent)");
    }
    send(id2, h2, DRV_USER + 1, 7, 8);
    println!("close the non-last instance, then the last: close, disable, free");
    send(id2, h2, DRV_CLOSE, 0, 0);
    send(id1, h1, DRV_CLOSE, 0, 0);
    send(0, h1, DRV_DISABLE, 0, 0);
    send(0, h1, DRV_FREE, 0, 0);
    drop(lib);
    println!("unloaded");
    Ok(())
}
