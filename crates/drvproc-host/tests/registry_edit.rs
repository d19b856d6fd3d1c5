//! Registry transactions: check and lock first, act, then commit or drop; missing
//! files reported, created only when asked; one winner among concurrent inserts.

use std::path::Path;
use std::sync::{Arc, Barrier, mpsc};
use std::time::Duration;

use drvproc_host::{Committed, EditOptions, Registry, RegistryError};

const CREATE: EditOptions = EditOptions { create: true, create_dirs: false };
const CREATE_ALL: EditOptions = EditOptions { create: true, create_dirs: true };

fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    names
}

#[test]
fn a_missing_file_is_reported_with_where_it_was_looked_for() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("system.ini");
    let r = Registry::new(&path);
    assert!(!r.exists().unwrap());
    assert!(r.read().unwrap().sections().is_empty(), "the manager still reads it as empty");
    let err = r.read_existing().unwrap_err();
    assert_eq!(err.to_string(), format!("no registry file at {}", path.display()));
    let err = r.edit(EditOptions::default()).unwrap_err();
    assert!(matches!(err, RegistryError::Missing { .. }), "{err}");
    #[cfg(unix)]
    {
        let link = dir.path().join("link.ini");
        std::os::unix::fs::symlink("gone.ini", &link).unwrap();
        let err = Registry::new(&link).read_existing().unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "no registry file at {} (a symbolic link to {}, which does not exist)",
                link.display(),
                dir.path().join("gone.ini").display()
            )
        );
    }
    // Nothing was created looking.
    assert!(!names_in(dir.path()).contains(&"system.ini".to_string()));
}

#[test]
fn missing_directories_are_created_only_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a").join("b").join("system.ini");
    let r = Registry::new(&path);
    let err = r.edit(CREATE).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "cannot create {}: the directory {} does not exist",
            path.display(),
            path.parent().unwrap().display()
        )
    );
    assert_eq!(names_in(dir.path()), Vec::<String>::new());

    // Abandoned: nothing is left, not even the directories.
    let mut edit = r.edit(CREATE_ALL).unwrap();
    assert!(edit.creates());
    edit.insert("Drivers32", "a", "a.so", false).unwrap();
    drop(edit);
    assert_eq!(names_in(dir.path()), Vec::<String>::new());

    let mut edit = r.edit(CREATE_ALL).unwrap();
    edit.insert("Drivers32", "a", "a.so", false).unwrap();
    assert_eq!(edit.commit().unwrap(), Committed { path: path.clone(), created: true, changed: true });
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "[Drivers32]\na=a.so\n");
    let mut edit = r.edit(CREATE_ALL).unwrap();
    assert!(!edit.creates());
    edit.insert("Drivers32", "b", "b.so", false).unwrap();
    assert_eq!(edit.commit().unwrap(), Committed { path: path.clone(), created: false, changed: true });
    assert_eq!(names_in(path.parent().unwrap()), ["system.ini"]);
}

#[test]
fn an_edit_that_changes_nothing_writes_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("system.ini");
    let r = Registry::new(&path);
    let edit = r.edit(CREATE).unwrap();
    assert_eq!(edit.commit().unwrap(), Committed { path: path.clone(), created: false, changed: false });
    assert_eq!(names_in(dir.path()), Vec::<String>::new());

    std::fs::write(&path, "[drivers32]\r\na = a.so\r\n").unwrap();
    let before = std::fs::metadata(&path).unwrap().modified().unwrap();
    let mut edit = r.edit(EditOptions::default()).unwrap();
    assert_eq!(edit.remove("drivers32", "missing"), None);
    assert!(!edit.commit().unwrap().changed);
    assert_eq!(std::fs::metadata(&path).unwrap().modified().unwrap(), before);
    assert_eq!(names_in(dir.path()), ["system.ini"]);
}

#[test]
fn dropping_an_edit_changes_nothing_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("system.ini");
    std::fs::write(&path, "[drivers32]\na=a.so\n").unwrap();
    let r = Registry::new(&path);
    let mut edit = r.edit(EditOptions::default()).unwrap();
    assert_eq!(edit.document().get("drivers32", "a"), Some("a.so"));
    edit.insert("drivers32", "b", "b.so", false).unwrap();
    assert_eq!(names_in(dir.path()).len(), 2, "the temporary file exists while the edit is open");
    drop(edit);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "[drivers32]\na=a.so\n");
    assert_eq!(names_in(dir.path()), ["system.ini"]);
}

#[test]
fn insert_refuses_a_taken_alias_unless_replacing_and_validates() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("system.ini");
    std::fs::write(&path, "[Drivers32]\nmsacm.a=a.acm x\n").unwrap();
    let r = Registry::new(&path);
    let mut edit = r.edit(EditOptions::default()).unwrap();
    let err = edit.insert("drivers32", "MSACM.A", "b.acm", false).unwrap_err();
    assert_eq!(err.to_string(), "MSACM.A is already registered in [drivers32] as \"a.acm x\"");
    let err = edit.insert("drivers32", "a=b", "b.acm", true).unwrap_err();
    assert_eq!(err.to_string(), "invalid alias \"a=b\": it contains '=', '[' or ']'");
    assert_eq!(edit.insert("drivers32", "msacm.a", "b.acm", true).unwrap().as_deref(), Some("a.acm x"));
    edit.commit().unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "[Drivers32]\nmsacm.a=b.acm\n");

    assert!(Registry::validate_entry("Drivers32", "msacm.x", "x.acm arg=1").is_ok());
    for (section, alias, value) in [("a]", "x", "v"), ("s", "", "v"), ("s", "x", "v\nw"), ("s", "x", " ")] {
        assert!(matches!(
            Registry::validate_entry(section, alias, value),
            Err(RegistryError::Invalid { .. })
        ));
    }
}

#[cfg(unix)]
#[test]
fn a_read_only_file_is_refused_before_anything_else() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("system.ini");
    std::fs::write(&path, "[drivers32]\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o440)).unwrap();
    let err = Registry::new(&path).edit(EditOptions::default()).unwrap_err();
    assert!(matches!(err, RegistryError::ReadOnly { .. }), "{err}");
    assert_eq!(names_in(dir.path()), ["system.ini"]);
}

#[test]
fn an_open_edit_holds_off_other_writers() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("system.ini");
    std::fs::write(&path, "[drivers32]\n").unwrap();
    let mut edit = Registry::new(&path).edit(EditOptions::default()).unwrap();
    let (done_tx, done_rx) = mpsc::channel();
    let other = {
        let path = path.clone();
        std::thread::spawn(move || {
            let r = Registry::new(path);
            let result = r.set_entry("drivers32", "second", "2.so");
            done_tx.send(()).unwrap();
            result.unwrap();
        })
    };
    assert!(done_rx.recv_timeout(Duration::from_millis(200)).is_err(), "the second writer did not wait");
    edit.insert("drivers32", "first", "1.so", false).unwrap();
    edit.commit().unwrap();
    other.join().unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "[drivers32]\nfirst=1.so\nsecond=2.so\n");
    assert_eq!(names_in(dir.path()), ["system.ini"]);
}

#[test]
fn concurrent_inserts_of_one_alias_have_exactly_one_winner() {
    const WRITERS: usize = 8;
    for round in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("system.ini");
        if round % 2 == 0 {
            std::fs::write(&path, "; keep\n[drivers32]\n").unwrap();
        }
        let start = Arc::new(Barrier::new(WRITERS));
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                let (path, start) = (path.clone(), start.clone());
                std::thread::spawn(move || {
                    // Its own Registry and file handle, as another process would have.
                    let r = Registry::new(path);
                    start.wait();
                    let mut edit = r.edit(CREATE)?;
                    edit.insert("drivers32", "same", &format!("w{w}.so"), false)?;
                    edit.commit()
                })
            })
            .collect();
        let results: Vec<Result<Committed, RegistryError>> =
            writers.into_iter().map(|w| w.join().unwrap()).collect();
        let winners: Vec<&Committed> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
        assert_eq!(winners.len(), 1, "round {round}: {results:?}");
        assert_eq!(winners[0].created, round % 2 == 1);
        for r in results.iter().filter_map(|r| r.as_ref().err()) {
            assert!(matches!(r, RegistryError::AlreadyRegistered { .. }), "{r}");
        }
        let doc = Registry::new(&path).read().unwrap();
        assert_eq!(doc.entries("drivers32").len(), 1);
        assert_eq!(names_in(dir.path()), ["system.ini"]);
    }
}

#[test]
fn a_writer_waiting_on_an_abandoned_creation_creates_the_file_itself() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("system.ini");
    let first = Registry::new(&path).edit(CREATE).unwrap();
    assert!(first.creates());
    let (tx, rx) = mpsc::channel();
    let second = {
        let path = path.clone();
        std::thread::spawn(move || {
            let mut edit = Registry::new(path).edit(CREATE).unwrap();
            tx.send(()).unwrap();
            edit.insert("drivers32", "b", "b.so", false).unwrap();
            edit.commit().unwrap()
        })
    };
    assert!(rx.recv_timeout(Duration::from_millis(200)).is_err(), "the second writer did not wait");
    drop(first);
    let committed = second.join().unwrap();
    assert!(committed.created);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "[drivers32]\nb=b.so\n");
    assert_eq!(names_in(dir.path()), ["system.ini"]);
}

/// The writer half of the test below, run in its child processes.
#[test]
#[ignore = "run by concurrent_install_processes_have_exactly_one_winner"]
fn writer_process() {
    let Some(path) = std::env::var_os("DRVPROC_TEST_WRITER_PATH") else { return };
    let id = std::env::var("DRVPROC_TEST_WRITER_ID").unwrap();
    let r = Registry::new(path);
    let mut edit = r.edit(CREATE).unwrap();
    let outcome = match edit.insert("drivers32", "same", &format!("p{id}.so"), false) {
        Ok(_) => edit.commit().map(|_| "won".to_string()).unwrap_or_else(|e| e.to_string()),
        Err(RegistryError::AlreadyRegistered { .. }) => "lost".into(),
        Err(e) => e.to_string(),
    };
    println!("outcome: {outcome}");
}

#[test]
fn concurrent_install_processes_have_exactly_one_winner() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("system.ini");
    let children: Vec<_> = (0..6)
        .map(|id| {
            std::process::Command::new(std::env::current_exe().unwrap())
                .args(["writer_process", "--exact", "--ignored", "--nocapture", "--test-threads=1"])
                .env("DRVPROC_TEST_WRITER_PATH", &path)
                .env("DRVPROC_TEST_WRITER_ID", id.to_string())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut outcomes: Vec<String> = children
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().unwrap();
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            text.lines().find_map(|l| l.split_once("outcome: ")).map_or(text.clone(), |(_, o)| o.to_string())
        })
        .collect();
    outcomes.sort();
    assert_eq!(outcomes, ["lost", "lost", "lost", "lost", "lost", "won"]);
    assert_eq!(Registry::new(&path).read().unwrap().entries("drivers32").len(), 1);
    assert_eq!(names_in(dir.path()), ["system.ini"]);
}
