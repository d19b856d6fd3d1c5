//! Name resolution does not depend on the language of the platform loader's messages.
//!
//! glibc translates `dlerror()` once a program calls `setlocale`, and CI machines
//! rarely have the translations installed. So a child run of this test binary gets
//! an `LD_PRELOAD` shim that rewrites `dlerror()`'s text exactly as glibc's French
//! catalogue does; what the manager decides must not change.
#![cfg(all(target_os = "linux", target_env = "gnu"))]

mod common;

use std::path::Path;
use std::process::Command;

use common::{Trace, trace_file_name};

/// Rewrites glibc's "file not found" text into its French translation.
const SHIM: &str = r#"
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

static __thread char translated[4096];
static char *(*real)(void);

/* Looked up once, up front: a dlsym call clears the pending dlerror text. */
__attribute__((constructor)) static void find_real(void) {
    real = (char *(*)(void))dlsym(RTLD_NEXT, "dlerror");
}

char *dlerror(void) {
    char *message = real();
    const char *english = "cannot open shared object file: No such file or directory";
    char *at = message ? strstr(message, english) : NULL;
    if (!at) return message;
    snprintf(translated, sizeof translated, "%.*s%s%s", (int)(at - message), message,
             "impossible d'ouvrir le fichier objet partag\xc3\xa9: Aucun fichier ou dossier de ce type",
             at + strlen(english));
    return translated;
}
"#;

fn build_shim(dir: &Path) -> std::path::PathBuf {
    let source = dir.join("dlerror_fr.c");
    let shim = dir.join("libdlerror_fr.so");
    std::fs::write(&source, SHIM).unwrap();
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let status = Command::new(&cc)
        .args(["-shared", "-fPIC", "-o"])
        .arg(&shim)
        .arg(&source)
        .arg("-ldl")
        .status()
        .unwrap_or_else(|e| panic!("this test needs a C compiler ({cc}): {e}"));
    assert!(status.success(), "{cc} failed on the dlerror shim");
    shim
}

#[test]
fn whole_then_split_under_a_translated_loader() {
    let dir = tempfile::tempdir().unwrap();
    let shim = build_shim(dir.path());
    let child = "child_whole_then_split_under_a_translated_loader";
    let out = Command::new(std::env::current_exe().unwrap())
        .args([child, "--exact", "--ignored", "--test-threads=1"])
        .env("LD_PRELOAD", &shim)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("test result: ok. 1 passed"), "{stdout}");
}

/// Run by the test above, in a child with the shim preloaded.
#[test]
#[ignore = "run in a child by whole_then_split_under_a_translated_loader"]
fn child_whole_then_split_under_a_translated_loader() {
    // The shim is in effect: the loader now speaks French.
    // SAFETY: loading a library that does not exist runs no code.
    let err = unsafe { libloading::Library::new("libdrvproc-surely-absent.so") }.err().unwrap();
    let text = std::error::Error::source(&err).map_or(err.to_string(), |s| s.to_string());
    assert!(text.contains("Aucun fichier ou dossier de ce type"), "{text}");

    // A bare "file args" name: the whole name is no file anywhere, so it is split.
    let t = Trace::new();
    let m = t.manager();
    let _i = m.open(&format!("{}  a b", trace_file_name()), None).unwrap();
    assert_eq!(t.take()[2], "DRV_OPEN(0x0, H1, \"a b\", 0) -> 0x1001");
}
