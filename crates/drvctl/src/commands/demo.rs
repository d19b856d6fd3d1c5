//! `drvctl demo`: the bundled sample driver through its whole lifecycle, in a
//! temporary registry, with every message it receives printed as it happens.

use std::path::PathBuf;

use drvproc::config_info::ConfigInfoBuf;
use drvproc::consts::DRV_USER;
use drvproc_host::Param;

use crate::capture::Capture;
use crate::commands::registration;
use crate::context::Ctx;
use crate::conversation;
use crate::error::{CliResult, failed};

/// The sample driver built with drvctl: beside the executable or in its `deps`.
fn sample_driver() -> CliResult<PathBuf> {
    let name = format!("{}drvsample{}", std::env::consts::DLL_PREFIX, std::env::consts::DLL_SUFFIX);
    let exe = std::env::current_exe()?;
    let dir = exe.parent().ok_or_else(|| failed!("drvctl has no directory"))?;
    [dir.join(&name), dir.join("deps").join(&name), dir.join("../lib").join(&name)]
        .into_iter()
        .find(|p| p.is_file())
        .ok_or_else(|| {
            failed!(
                "the sample driver {name} is not beside drvctl: build it with `cargo build -p drvproc-sample`"
            )
        })
}

/// Seconds the sample may take per conversation (it answers at once).
const DEMO_TIMEOUT: u64 = 60;

pub fn demo() -> CliResult {
    let sample = sample_driver()?;
    let dir = tempfile::tempdir()?;
    let config = dir.path().join("system.ini");
    let ctx = Ctx { config: Some(config.clone()), system_key: false };
    println!("drvctl demo: the sample driver's whole lifecycle");
    println!("driver:   {}", sample.display());
    println!("registry: {} (temporary)\n", config.display());
    let _capture = Capture::live("    driver got ");
    // install and remove talk to the driver in a child process; show those calls too.
    conversation::echo_calls("    driver got ");

    println!("$ drvctl install sample.demo {} mode=demo", sample.display());
    registration::install(
        &ctx,
        "sample.demo",
        &sample,
        &["mode=demo".to_string()],
        drvproc_host::DRIVERS32,
        false,
        DEMO_TIMEOUT,
    )?;

    let manager = ctx.manager();
    println!("\nopen #1 through the alias (first open: load, enable, open)");
    let first = manager.open("sample.demo", None)?;
    println!("open #2 (module already loaded: open only)");
    let second = manager.open("sample.demo", None)?;
    println!(
        "  two instances, one module: {} instances, {} module loaded",
        manager.instance_count(),
        manager.loaded_module_count()
    );

    println!("\nconfigure through #1");
    if first.query_configure()? {
        let dci = ConfigInfoBuf::new(Some(drvproc_host::DRIVERS32), Some("sample.demo"))?;
        first.configure(0, Some(&dci))?;
    } else {
        println!("  (DRV_QUERYCONFIGURE answered 0: no dialog, so no DRV_CONFIGURE)");
    }
    println!("custom message DRV_USER+1 to #2");
    // Described as numbers, so that a driver hosted in a process of its own
    // (DRVPROC_ISOLATE=1) receives them too: an undescribed custom message with
    // non-zero parameters may carry addresses, and is not forwarded to one.
    // SAFETY: the sample leaves custom messages to DefDriverProc; no pointer is passed.
    unsafe { second.send_params(DRV_USER + 1, &mut Param::Int(7), &mut Param::Int(8)) }?;

    println!("\nclose #2 (not the last: close only)");
    second.close()?;
    println!("close #1 (the last: close, disable, free, unload)");
    first.close()?;
    println!("  {} instances, {} modules loaded", manager.instance_count(), manager.loaded_module_count());

    println!("\n$ drvctl remove sample.demo");
    registration::remove(&ctx, "sample.demo", drvproc_host::DRIVERS32, false, DEMO_TIMEOUT)?;
    println!("\nregistry now: {:?}", std::fs::read_to_string(&config)?);
    Ok(())
}
