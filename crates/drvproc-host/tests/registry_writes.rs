//! Writing the registry: through symlinks, refusing read-only files, no lock files
//! left behind, errors that name the right thing.

use std::path::Path;

use drvproc_host::Registry;

fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    names
}

#[cfg(unix)]
#[test]
fn a_symlinked_config_stays_a_symlink_and_its_target_is_updated() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let real_dir = dir.path().join("real");
    std::fs::create_dir(&real_dir).unwrap();
    let target = real_dir.join("system.ini");
    std::fs::write(&target, "[drivers32]\na=a.so\n").unwrap();
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o640)).unwrap();
    let link = dir.path().join("link.ini");
    std::os::unix::fs::symlink("real/system.ini", &link).unwrap();

    let r = Registry::new(&link);
    r.set_entry("drivers32", "b", "b.so").unwrap();
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "the link was replaced");
    assert_eq!(std::fs::read_link(&link).unwrap(), Path::new("real/system.ini"));
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "[drivers32]\na=a.so\nb=b.so\n");
    assert_eq!(std::fs::metadata(&target).unwrap().permissions().mode() & 0o777, 0o640);
    assert_eq!(names_in(dir.path()), ["link.ini", "real"]);
    assert_eq!(names_in(&real_dir), ["system.ini"]);
}

#[cfg(unix)]
#[test]
fn a_read_only_file_is_refused_not_replaced() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("system.ini");
    std::fs::write(&path, "[drivers32]\na=a.so\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o444)).unwrap();
    let r = Registry::new(&path);
    let err = r.set_entry("drivers32", "b", "b.so").unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("{}: the file is read-only (no write permission); nothing was changed", path.display())
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "[drivers32]\na=a.so\n");
    assert_eq!(names_in(dir.path()), ["system.ini"]);
}

#[test]
fn writes_leave_no_lock_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("system.ini");
    std::fs::write(&path, "[drivers32]\n").unwrap();
    let r = Registry::new(&path);
    r.set_entry("drivers32", "a", "a.so").unwrap();
    r.remove_entry("drivers32", "a").unwrap();
    r.remove_entry("drivers32", "never").unwrap();
    assert_eq!(names_in(dir.path()), ["system.ini"]);
}

#[test]
fn removing_from_a_missing_file_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let r = Registry::new(dir.path().join("sub").join("system.ini"));
    assert_eq!(r.remove_entry("drivers32", "a").unwrap(), None);
    assert_eq!(names_in(dir.path()), Vec::<String>::new());
}

#[test]
fn cached_reads_follow_a_repointed_symlink() {
    #[cfg(unix)]
    {
        let dir = tempfile::tempdir().unwrap();
        let one = dir.path().join("one.ini");
        let two = dir.path().join("two.ini");
        // Same size, same modification time: only the inode tells them apart.
        std::fs::write(&one, "[drivers32]\na=1.so\n").unwrap();
        std::fs::write(&two, "[drivers32]\na=2.so\n").unwrap();
        let t = std::fs::metadata(&one).unwrap().modified().unwrap() - std::time::Duration::from_secs(60);
        for p in [&one, &two] {
            std::fs::File::options().write(true).open(p).unwrap().set_modified(t).unwrap();
        }
        let link = dir.path().join("system.ini");
        std::os::unix::fs::symlink("one.ini", &link).unwrap();
        let r = Registry::new(&link);
        assert_eq!(r.lookup("drivers32", "a").unwrap().as_deref(), Some("1.so"));
        assert_eq!(r.lookup("drivers32", "a").unwrap().as_deref(), Some("1.so"));
        std::fs::remove_file(&link).unwrap();
        std::os::unix::fs::symlink("two.ini", &link).unwrap();
        assert_eq!(r.lookup("drivers32", "a").unwrap().as_deref(), Some("2.so"));
    }
}

/// Runs `test` (a test of this binary) as the unprivileged user `nobody` when the
/// suite runs as root, since root may create files in any directory.
#[cfg(unix)]
fn unprivileged(test: &str, dir: &Path) -> bool {
    use std::os::unix::process::CommandExt;
    if std::env::var_os("DRVPROC_TEST_UNPRIVILEGED").is_some() {
        return true;
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return true;
    }
    let chown = |p: &Path| std::os::unix::fs::chown(p, Some(65534), Some(65534)).unwrap();
    chown(dir);
    for e in std::fs::read_dir(dir).unwrap() {
        chown(&e.unwrap().path());
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env("DRVPROC_TEST_UNPRIVILEGED", "1")
        .env("DRVPROC_TEST_DIR", dir)
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("1 passed"),
        "{test} as nobody: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    false
}

#[cfg(unix)]
#[test]
fn a_temporary_file_that_cannot_be_created_names_the_directory() {
    use std::os::unix::fs::PermissionsExt;
    let (_keep, dir) = match std::env::var_os("DRVPROC_TEST_DIR") {
        Some(d) => (None, std::path::PathBuf::from(d)),
        None => {
            let t = tempfile::tempdir().unwrap();
            let d = t.path().to_path_buf();
            std::fs::write(d.join("system.ini"), "[drivers32]\n").unwrap();
            (Some(t), d)
        }
    };
    if !unprivileged("a_temporary_file_that_cannot_be_created_names_the_directory", &dir) {
        return;
    }
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o555)).unwrap();
    let r = Registry::new(dir.join("system.ini"));
    let err = r.set_entry("drivers32", "a", "a.so").unwrap_err();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(
        err.to_string(),
        format!(
            "{}: cannot create a temporary file in this directory: Permission denied (os error 13)",
            dir.display()
        )
    );
    assert_eq!(std::fs::read_to_string(dir.join("system.ini")).unwrap(), "[drivers32]\n");
}
