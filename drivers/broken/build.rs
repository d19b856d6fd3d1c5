//! Keeps the library mapped after its last `dlclose` (`-z nodelete`), as happens to
//! real drivers that another component also references: its statics then survive an
//! unload, which is what exposes its reload defect.

fn main() {
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-z,nodelete");
    }
}
