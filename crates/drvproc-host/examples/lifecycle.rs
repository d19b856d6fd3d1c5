//! The main job: a real driver through its whole lifecycle, via the manager.
//!
//! Registers the bundled sample driver under an alias in a fresh `system.ini`, opens
//! two instances through the alias, installs, queries the configuration, sends a
//! custom message, closes both (the module unloads), removes the alias, and prints
//! every message the driver receives as the manager traces it.
//!
//! Run with `cargo run -p drvproc-host --example lifecycle [DRIVER]`; without DRIVER
//! it uses the sample driver cargo built beside this example.

use std::path::PathBuf;

use drvproc::config_info::ConfigInfoBuf;
use drvproc::consts::DRV_USER;
use drvproc_host::{DRIVERS32, DriverManager, ManagerOptions, Registry};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// Prints each traced driver call as one line of its fields.
struct CallLine;

impl<S, N> FormatEvent<S, N> for CallLine
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        write!(w, "    driver got ")?;
        ctx.field_format().format_fields(w.by_ref(), event)?;
        writeln!(w)
    }
}

fn sample_driver() -> Result<PathBuf, Box<dyn std::error::Error>> {
    if let Some(p) = std::env::args_os().nth(1) {
        return Ok(PathBuf::from(p));
    }
    let exe = std::env::current_exe()?;
    let dir = exe.parent().ok_or("the example has no directory")?;
    let name = format!("{}drvsample{}", std::env::consts::DLL_PREFIX, std::env::consts::DLL_SUFFIX);
    [dir.join(&name), dir.join("../deps").join(&name)]
        .into_iter()
        .find(|p| p.is_file())
        .ok_or_else(|| "the sample driver is not built: run `cargo build -p drvproc-sample`".into())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Print every driver call the manager makes (target drvproc::call, level TRACE).
    tracing_subscriber::fmt()
        .with_env_filter("drvproc::call=trace")
        .with_ansi(false)
        .event_format(CallLine)
        .init();

    let driver = sample_driver()?.canonicalize()?;
    let dir = tempfile::tempdir()?;
    let config = dir.path().join("system.ini");
    let registry = Registry::new(&config);
    registry.set_entry(DRIVERS32, "sample.demo", &format!("{} mode=demo", driver.display()))?;
    println!("registered [{DRIVERS32}] sample.demo = {} mode=demo", driver.display());
    println!("in {}\n", config.display());

    let manager = DriverManager::new(ManagerOptions::new().config_path(&config));

    println!("open #1 through the alias: load, enable, open");
    let first = manager.open("sample.demo", None)?;
    println!("open #2: open only");
    let second = manager.open("sample.demo", None)?;
    println!(
        "module handle {:#x}, {} instances, {} module loaded\n",
        first.module_handle()?.unwrap_or(0),
        manager.instance_count(),
        manager.loaded_module_count()
    );

    println!("install and configure through instance #1");
    let dci = ConfigInfoBuf::new(Some(DRIVERS32), Some("sample.demo"))?;
    println!("install -> {}", first.install(0, Some(&dci))?);
    if first.query_configure()? {
        println!("configure -> {}", first.configure(0, Some(&dci))?);
    } else {
        println!("the driver has no configuration dialog: DRV_CONFIGURE not sent");
    }
    // SAFETY: the sample driver answers custom messages through DefDriverProc and
    // never dereferences their parameters.
    let answer = unsafe { second.send(DRV_USER + 1, 7, 8) }?;
    println!("custom message DRV_USER+1 -> {answer}\n");

    println!("close #2 (not the last): close only");
    second.close()?;
    println!("close #1 (the last): close, disable, free, unload");
    first.close()?;
    println!("{} instances, {} modules loaded\n", manager.instance_count(), manager.loaded_module_count());

    registry.remove_entry(DRIVERS32, "sample.demo")?;
    println!("removed the alias; {} now reads: {:?}", config.display(), std::fs::read_to_string(&config)?);
    Ok(())
}
