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
    let out = keyhouse(
        &dir,
        &["create", "--prefix", "acme_live", "--owner", "u1", "--permission", "files:*", "--remaining", "2"],
    );
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
    assert_eq!(
        (updated["name"].as_str(), updated["enabled"].as_bool(), updated["expires_at"].as_str()),
        (Some("new"), Some(false), None)
    );
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
    let out = Command::new(env!("CARGO_BIN_EXE_keyhouse"))
        .env("KEYHOUSE_DB", &path)
        .args(["--json", "create"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(path.exists());
}

fn keyhouse_env(dir: &TempDir, env: &[(&str, &str)], args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_keyhouse"))
        .arg("--db")
        .arg(dir.db())
        .args(args)
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

#[test]
fn a_key_given_where_an_id_belongs_is_never_echoed() {
    let dir = TempDir::new("cli-echo");
    let key = text(&keyhouse(&dir, &["create"]).stdout).lines().next().unwrap().to_owned();
    let id = keyhouse::parse(&key).unwrap().id;
    let secret = &key[key.rfind('_').unwrap() + 1..];
    for cmd in ["show", "revoke", "delete", "roll", "update"] {
        for arg in [key.clone(), format!("{key}x"), key[..key.len() - 1].to_owned()] {
            let out = keyhouse(&dir, &[cmd, &arg]);
            assert_eq!(out.status.code(), Some(2), "{cmd}");
            let err = text(&out.stderr);
            assert!(err.contains("INVALID_ARGUMENT"), "{cmd}: {err}");
            // Not even a fragment of the secret long enough to matter.
            for w in secret.as_bytes().windows(8) {
                assert!(!err.contains(std::str::from_utf8(w).unwrap()), "{cmd} echoed the secret: {err}");
            }
            if arg == key {
                assert!(err.contains("looks like a key, not an id") && err.contains(&id), "{err}");
            }
        }
    }
    assert_eq!(keyhouse(&dir, &["verify", &key]).status.code(), Some(0), "nothing was changed");
}

#[test]
fn tables_escape_control_characters_and_json_keeps_them() {
    let dir = TempDir::new("cli-escape");
    let name = "evil\nkh_FORGED00000000  kh  active\u{1b}[31m\u{202e}";
    let out = keyhouse(&dir, &["create", "--name", name, "--owner", "o\r\n1"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let listed = text(&keyhouse(&dir, &["list"]).stdout);
    assert_eq!(listed.lines().count(), 3, "a header, one row and the count: {listed}");
    assert!(
        listed.contains("evil\\nkh_FORGED") && listed.contains("\\u{1b}[31m\\u{202e}") && listed.contains("o\\r\\n1")
    );
    assert!(!listed.contains('\u{1b}') && !listed.contains('\r'));
    let id = keyhouse::parse(text(&out.stdout).lines().next().unwrap()).unwrap().id;
    let shown = text(&keyhouse(&dir, &["show", &id]).stdout);
    assert!(shown.contains("evil\\nkh_FORGED") && !shown.contains('\u{1b}'));
    let v = json(&keyhouse(&dir, &["--json", "show", &id]));
    assert_eq!(v["name"], name);
}

#[test]
fn peppers_come_from_the_environment_and_a_cli_verify_never_rehashes() {
    let dir = TempDir::new("cli-pepper");
    let hash = |id: &str| -> String {
        rusqlite::Connection::open(dir.db())
            .unwrap()
            .query_row("SELECT hash FROM keys WHERE id = ?1", [id], |r| r.get(0))
            .unwrap()
    };
    let old = [("KEYHOUSE_PEPPER", "first secret of 32 bytes or more!!"), ("KEYHOUSE_PEPPER_ID", "p1")];
    let key = text(&keyhouse_env(&dir, &old, &["create"]).stdout).lines().next().unwrap().to_owned();
    let id = keyhouse::parse(&key).unwrap().id;
    assert!(hash(&id).starts_with("hmac-sha256$p1$"));
    let rotated = [
        ("KEYHOUSE_PEPPER", "second secret of 32 bytes or more!"),
        ("KEYHOUSE_PEPPER_ID", "p2"),
        ("KEYHOUSE_PREVIOUS_PEPPER_1", "first secret of 32 bytes or more!!"),
        ("KEYHOUSE_PREVIOUS_PEPPER_ID_1", "p1"),
    ];
    assert_eq!(keyhouse_env(&dir, &rotated, &["verify", &key]).status.code(), Some(0));
    assert!(hash(&id).starts_with("hmac-sha256$p1$"), "a CLI verify must not rehash by default");
    // A service that only knows p1 still verifies the key.
    assert_eq!(keyhouse_env(&dir, &old, &["verify", &key]).status.code(), Some(0));
    let mut opted_in = rotated.to_vec();
    opted_in.push(("KEYHOUSE_REHASH_ON_VERIFY", "1"));
    assert_eq!(keyhouse_env(&dir, &opted_in, &["verify", &key]).status.code(), Some(0));
    assert!(hash(&id).starts_with("hmac-sha256$p2$"));
    // Without the pepper its hash names, the key is simply not found.
    let none = keyhouse_env(&dir, &old, &["verify", &key]);
    assert_eq!(none.status.code(), Some(1));
    assert!(text(&none.stdout).starts_with("NOT_FOUND"), "{}", text(&none.stdout));
    let missing_id = keyhouse_env(&dir, &[("KEYHOUSE_PREVIOUS_PEPPER_1", "x".repeat(32).as_str())], &["list"]);
    assert_eq!(missing_id.status.code(), Some(2));
}

#[test]
fn far_future_durations_and_times_are_refused() {
    let dir = TempDir::new("cli-far");
    for args in [
        &["create", "--expires-in", "213503982334d"][..],
        &["create", "--expires-in", "3650000d"],
        &["create", "--expires-at", "99999999999999999"],
    ] {
        let out = keyhouse(&dir, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out.stdout));
    }
    let v = json(&keyhouse(&dir, &["--json", "create", "--expires-at", "9999-12-31T23:59:59.999Z"]));
    assert_eq!(v["info"]["expires_at"], "9999-12-31T23:59:59.999Z");
}

#[test]
fn arguments_clap_refuses_are_never_echoed() {
    let dir = TempDir::new("cli-refused");
    let key = keyhouse::generate("kh").unwrap().key;
    let secret = key.rsplit('_').next().unwrap();
    for args in [
        vec!["list", "--limit", key.as_str()],
        vec![key.as_str()],
        vec!["show", "00000000000000", key.as_str()],
        vec!["create", "--expires-in", key.as_str()],
    ] {
        let out = keyhouse(&dir, &args);
        let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert_eq!(out.status.code(), Some(2), "{args:?}: {all}");
        assert!(!all.contains(secret) && !all.contains(&key[..20]), "{args:?} echoed the key: {all}");
        assert!(all.contains("error"), "{args:?}: {all}");
    }
    let help = keyhouse(&dir, &["--help"]);
    assert_eq!(help.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&help.stdout).contains("Usage"));
}

#[test]
fn a_postgres_url_s_password_is_never_printed() {
    let url = "postgres://app:hunter2secret@127.0.0.1:1/db?sslmode=disable";
    let run = |args: &[&str], env: &[(&str, &str)]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_keyhouse"));
        cmd.args(args).env("KEYHOUSE_CONNECT_TIMEOUT", "500ms");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    };
    let failed = run(&["--db", url, "list"], &[]);
    assert_eq!(failed.status.code(), Some(2));
    let err = text(&failed.stderr);
    assert!(err.contains("app:***@") && err.contains("STORE_ERROR"), "{err}");
    // The URL in KEYHOUSE_DB is not shown by --help either.
    let help = run(&["--help"], &[("KEYHOUSE_DB", url)]);
    let dir = TempDir::new("cli-copy");
    let db = dir.db();
    let copy = run(&["copy", "--from", db.to_str().unwrap(), "--to", url], &[]);
    for out in [&failed, &help, &copy] {
        let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert!(!all.contains("hunter2secret"), "{all}");
    }
    assert_eq!(copy.status.code(), Some(2));
}

#[test]
fn migrate_and_copy_between_two_sqlite_files() {
    let (a, b) = (TempDir::new("cli-from"), TempDir::new("cli-to"));
    let made = json(&keyhouse(&a, &["--json", "create", "--remaining", "4"]));
    let key = made["key"].as_str().unwrap();
    assert!(keyhouse(&a, &["verify", key]).status.success());
    let out = keyhouse(&b, &["migrate"]);
    assert!(out.status.success() && text(&out.stdout).contains("is up to date"), "{}", text(&out.stderr));
    let copy = |from: &TempDir, to: &TempDir| {
        let out = Command::new(env!("CARGO_BIN_EXE_keyhouse"))
            .args(["--json", "copy", "--from"])
            .arg(from.db())
            .arg("--to")
            .arg(to.db())
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        json(&out)
    };
    assert_eq!(copy(&a, &b), serde_json::json!({"copied": 1, "skipped": 0}));
    assert_eq!(copy(&a, &b), serde_json::json!({"copied": 0, "skipped": 1}));
    let verified = keyhouse(&b, &["verify", key]);
    assert!(text(&verified.stdout).contains("remaining=2"), "{}", text(&verified.stdout));
}
