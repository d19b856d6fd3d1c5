//! Gives libdrvproc.so its SONAME, so that a process loads one copy of it however
//! it is reached: a program's own `dlopen` by path and a driver's `-ldrvproc`
//! dependency then resolve to the same library (and the same process-wide manager)
//! instead of mapping a second copy found through another search path.
//!
//! And marks it never to be unloaded (`-z nodelete`): other copies of the manager in
//! the process may call its handle router (drvproc-host's `directory.rs`), and Rust's
//! thread-local destructors must not outlive their code.

fn main() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if os == "linux" || os == "freebsd" || os == "netbsd" || os == "openbsd" || os == "dragonfly" {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libdrvproc.so");
        println!("cargo:rustc-cdylib-link-arg=-Wl,-z,nodelete");
    }
}
