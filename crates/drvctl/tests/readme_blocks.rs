//! Every command block of README.md runs as written, in order, on a checkout: `c`
//! blocks with `file=NAME` in their info string are saved under that name, `sh`
//! blocks run in one `bash -euo pipefail`, so an `export` carries to the next block.
//!
//! They run in a scratch directory that holds a symlink to each top-level entry of
//! the repository (so `scripts/…` and `drivers/…` resolve, and what the blocks build
//! lands in the scratch directory), with a scratch `HOME` and `XDG_CONFIG_HOME` (so
//! `$HOME/.local` and the default registry are fresh) and no `DRVPROC_*` variables.
//! Cargo builds in `target/readme-blocks`, kept between runs, so that the blocks'
//! builds neither wait for nor replace the binaries other tests are running.
//!
//! A block marked `sh no-run` is not run; each such block is listed in [`NOT_RUN`]
//! with the reason, so none is skipped silently. Blocks marked `sh windows` build for
//! Windows and run under Wine: `scripts/windows-test.sh` runs them, in the same way.
//!
//! The blocks are bash, run on a Unix checkout: Unix only.
#![cfg(unix)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The blocks not run, and why.
const NOT_RUN: [(&str, &str); 2] = [
    ("cargo test --workspace\n", "it is the command that runs this test: running it here would recurse"),
    (
        "sudo apt-get install -y --no-install-recommends gcc-mingw-w64-x86-64 rustc-web cargo-web rust-web-src wine wine64\n",
        "it installs system packages; scripts/windows-test.sh installs the same ones before it runs the `sh windows` blocks",
    ),
];

struct Block {
    info: String,
    body: String,
}

/// The fenced blocks of a Markdown text, with their info strings.
fn blocks(markdown: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut lines = markdown.lines();
    while let Some(line) = lines.next() {
        let Some(info) = line.strip_prefix("```") else { continue };
        let mut body = String::new();
        for line in lines.by_ref() {
            if line.starts_with("```") {
                break;
            }
            body.push_str(line);
            body.push('\n');
        }
        out.push(Block { info: info.trim().to_string(), body });
    }
    out
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

#[test]
fn readme_blocks_run_as_written() {
    for tool in ["cc", "pkg-config", "bash"] {
        let found = Command::new("sh").args(["-c", &format!("command -v {tool}")]).output().unwrap();
        assert!(found.status.success(), "{tool} is needed (.ci/run installs it)");
    }
    let repo = repo();
    let readme = std::fs::read_to_string(repo.join("README.md")).unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let work = scratch.path().join("checkout");
    let home = scratch.path().join("home");
    std::fs::create_dir_all(&work).unwrap();
    std::fs::create_dir_all(home.join(".config")).unwrap();
    for entry in std::fs::read_dir(&repo).unwrap() {
        let name = entry.unwrap().file_name();
        if name != "target" && name != ".git" {
            std::os::unix::fs::symlink(repo.join(&name), work.join(&name)).unwrap();
        }
    }

    let mut script = String::from("set -euo pipefail\n");
    let mut skipped = Vec::new();
    let mut files = Vec::new();
    let mut windows_blocks = 0;
    for block in blocks(&readme) {
        let words: Vec<&str> = block.info.split_whitespace().collect();
        match words.first().copied() {
            Some("sh") if words.contains(&"no-run") => skipped.push(block.body),
            Some("sh") if words.contains(&"windows") => windows_blocks += 1,
            Some("sh") => {
                script.push_str(&block.body);
                script.push('\n');
            }
            Some("c") => {
                if let Some(name) = words.iter().find_map(|w| w.strip_prefix("file=")) {
                    std::fs::write(work.join(name), &block.body).unwrap();
                    files.push(name.to_string());
                }
            }
            _ => {}
        }
    }
    let expected_skips: Vec<&str> = NOT_RUN.iter().map(|(body, _)| *body).collect();
    assert_eq!(skipped, expected_skips, "every `sh no-run` block is listed in NOT_RUN with a reason");
    assert_eq!(files, ["client.c"], "the C client is saved where the sh blocks compile it");
    let windows_script = std::fs::read_to_string(repo.join("scripts/windows-test.sh")).unwrap();
    assert!(
        windows_blocks > 0 && windows_script.contains("$1 == \"```sh\" && $2 == \"windows\""),
        "the README's {windows_blocks} `sh windows` blocks are run by scripts/windows-test.sh"
    );
    assert!(script.contains("./client\n"), "the README runs the client it builds");

    // The user's own cargo and rustup, wherever HOME points now.
    let real_home = PathBuf::from(std::env::var_os("HOME").unwrap());
    let cargo_home = std::env::var_os("CARGO_HOME").map_or(real_home.join(".cargo"), PathBuf::from);
    let rustup_home = std::env::var_os("RUSTUP_HOME").map_or(real_home.join(".rustup"), PathBuf::from);
    let mut cmd = Command::new("bash");
    cmd.arg("-c")
        .arg(&script)
        .current_dir(&work)
        .env("HOME", &home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("CARGO_HOME", cargo_home)
        .env("RUSTUP_HOME", rustup_home)
        .env("CARGO_TARGET_DIR", repo.join("target/readme-blocks"))
        .env_remove("PKG_CONFIG_PATH")
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE");
    for (var, _) in std::env::vars() {
        if var.starts_with("DRVPROC_") || var.starts_with("DRVTRACE_") || var.starts_with("CARGO_PKG_") {
            cmd.env_remove(var);
        }
    }
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the README's commands failed ({})\n{stdout}\n{stderr}", out.status);

    // What the README says they print.
    assert!(stdout.contains("drvctl demo: the sample driver's whole lifecycle"), "{stdout}");
    assert!(stdout.contains("installed [Drivers32] msacm.sample = "), "{stdout}");
    assert_eq!(stdout.matches("msacm.sample: DRV_QUERYCONFIGURE answered 0\n").count(), 2, "{stdout}");
    let registry = std::fs::read_to_string(home.join(".config/drvproc/system.ini")).unwrap();
    assert!(registry.contains("msacm.sample="), "{registry}");
}

#[test]
fn blocks_are_found_with_their_info_strings() {
    let text = "a\n```sh\necho 1\n```\n```c file=x.c\nint x;\n```\n```\nplain\n```\n";
    let found: Vec<(String, String)> = blocks(text).into_iter().map(|b| (b.info, b.body)).collect();
    assert_eq!(
        found,
        [
            ("sh".to_string(), "echo 1\n".to_string()),
            ("c file=x.c".to_string(), "int x;\n".to_string()),
            (String::new(), "plain\n".to_string())
        ]
    );
}
