//! Exports `DriverCallback` from the `drvproc-hostd` executable, so that drivers it
//! loads bind to it (see that program's notes). Executables export nothing by
//! default.

fn main() {
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-link-arg-bin=drvproc-hostd=-Wl,--export-dynamic-symbol=DriverCallback");
    }
}
