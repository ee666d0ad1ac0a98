//! The `keyhouse` program, run as a user would.

mod common;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use common::TempDir;
use serde_json::Value;

fn keyhouse(dir: &TempDir, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_keyhouse")).arg("--db").arg(dir.db()).args(args).output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn json(out: &Output) -> Value {
    assert!(out.status.success(), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn create_verify_revoke_round_trip() {
    let dir = TempDir::new("cli");
    let out = keyhouse(&dir, &["create", "--prefix", "acme_live", "--owner", "u1", "--permission", "files:*", "--remaining", "2"]);
    assert!(out.status.success());
    let stdout = text(&out.stdout);
    let key = stdout.lines().next().unwrap().to_owned();
    assert!(key.starts_with("acme_live_"));
    assert!(text(&out.stderr).contains("will not be shown again"));
    let id = keyhouse::parse(&key).unwrap().id;

    let ok = keyhouse(&dir, &["verify", &key, "--permission", "files:read"]);
    assert_eq!(ok.status.code(), Some(0));
    assert!(text(&ok.stdout).starts_with("VALID"), "{}", text(&ok.stdout));

    let denied = keyhouse(&dir, &["verify", &key, "--permission", "billing:read"]);
    assert_eq!(denied.status.code(), Some(1));
    assert!(text(&denied.stdout).starts_with("INSUFFICIENT_PERMISSIONS"));

    let v = json(&keyhouse(&dir, &["--json", "verify", &key]));
    assert_eq!(v["outcome"], "VALID");
    assert_eq!(v["key"]["remaining"], 0);
    let spent = keyhouse(&dir, &["verify", &key]);
    assert_eq!(spent.status.code(), Some(1));
    assert!(text(&spent.stdout).starts_with("USAGE_EXCEEDED"));

    let shown = text(&keyhouse(&dir, &["show", &id]).stdout);
    assert!(shown.contains("owner        u1") && !shown.contains(&key));
    let listed = text(&keyhouse(&dir, &["list"]).stdout);
    assert!(listed.contains(&id) && listed.contains("(1 key)"));

    assert!(keyhouse(&dir, &["revoke", &id]).status.success());
    let revoked = keyhouse(&dir, &["verify", &key]);
    assert_eq!(revoked.status.code(), Some(1));
    assert!(text(&revoked.stdout).starts_with("REVOKED"));
    assert!(!text(&keyhouse(&dir, &["list"]).stdout).contains(&id));
    assert!(text(&keyhouse(&dir, &["list", "--include-revoked"]).stdout).contains(&id));
}

#[test]
fn verify_reads_the_key_from_stdin() {
    let dir = TempDir::new("cli-stdin");
    let created = json(&keyhouse(&dir, &["--json", "create"]));
    let key = created["key"].as_str().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_keyhouse"))
        .arg("--db")
        .arg(dir.db())
        .args(["verify", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{key}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
}

#[test]
fn roll_update_delete_and_purge() {
    let dir = TempDir::new("cli-roll");
    let created = json(&keyhouse(&dir, &["--json", "create", "--name", "old", "--expires-in", "1h"]));
    let (key, id) = (created["key"].as_str().unwrap(), created["info"]["id"].as_str().unwrap());
    let rolled = json(&keyhouse(&dir, &["--json", "roll", id, "--grace", "0"]));
    assert_eq!(rolled["info"]["name"], "old");
    let new_key = rolled["key"].as_str().unwrap();
    assert_eq!(keyhouse(&dir, &["verify", key]).status.code(), Some(1));
    assert_eq!(keyhouse(&dir, &["verify", new_key]).status.code(), Some(0));
    let new_id = rolled["info"]["id"].as_str().unwrap();
    let updated = json(&keyhouse(&dir, &["--json", "update", new_id, "--name", "new", "--disable", "--no-expiry"]));
    assert_eq!((updated["name"].as_str(), updated["enabled"].as_bool(), updated["expires_at"].as_str()), (Some("new"), Some(false), None));
    assert_eq!(json(&keyhouse(&dir, &["--json", "purge-expired"]))["purged"], 1);
    assert!(keyhouse(&dir, &["delete", new_id]).status.success());
    assert_eq!(json(&keyhouse(&dir, &["--json", "list", "--include-revoked"]))["keys"].as_array().unwrap().len(), 0);
}

#[test]
fn bad_input_gets_one_clear_line_and_a_nonzero_exit() {
    let dir = TempDir::new("cli-bad");
    let cases: &[&[&str]] = &[
        &["create", "--prefix", "Bad"],
        &["create", "--remaining", "-5"],
        &["create", "--metadata", "[1,2]"],
        &["create", "--expires-in", "soon"],
        &["create", "--expires-at", "yesterday"],
        &["show", "not-an-id"],
        &["show", "00000000000000"],
        &["revoke", "00000000000000"],
        &["list", "--limit", "0"],
        &["list", "--cursor", "nope"],
        &["verify", "x", "--permission", "a:*"],
        &["roll", "00000000000000", "--grace", "-1"],
        &["frobnicate"],
    ];
    for args in cases {
        let out = keyhouse(&dir, args);
        let err = text(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(err.starts_with("error"), "{args:?}: {err}");
    }
    let code = |args: &[&str]| text(&keyhouse(&dir, args).stderr);
    assert!(code(&["show", "00000000000000"]).contains("[NOT_FOUND]"));
    assert!(code(&["create", "--prefix", "Bad"]).contains("[INVALID_ARGUMENT]"));
    let long = "k".repeat(100 * 1024);
    let out = keyhouse(&dir, &["verify", &long]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).starts_with("MALFORMED (TOO_LONG)"));
}

#[test]
fn a_closed_stdout_is_not_a_crash() {
    let dir = TempDir::new("cli-pipe");
    for _ in 0..3 {
        keyhouse(&dir, &["create"]);
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_keyhouse"))
        .arg("--db")
        .arg(dir.db())
        .arg("list")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert!(!text(&out.stderr).contains("panicked"), "{}", text(&out.stderr));
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn db_path_comes_from_the_environment() {
    let dir = TempDir::new("cli-env");
    let path = dir.path().join("from-env.db");
    let out = Command::new(env!("CARGO_BIN_EXE_keyhouse")).env("KEYHOUSE_DB", &path).args(["--json", "create"]).output().unwrap();
    assert!(out.status.success());
    assert!(path.exists());
}
