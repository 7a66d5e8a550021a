//! `fieldvisit-server admin-user` as an operator runs it, through the real binary: the
//! password comes from standard input or FIELDVISIT_ADMIN_PASSWORD (never argv), a short one
//! is refused with the minimum, names are unique, `list` shows roles and states, `disable`
//! blocks the account, and creation and disabling are in the admin log.

#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::process::{Command, Output, Stdio};

const SERVER: &str = env!("CARGO_BIN_EXE_fieldvisit-server");

fn run(args: &[&str], stdin: &str, env_password: Option<&str>) -> Output {
    let mut cmd = Command::new(SERVER);
    cmd.args(args)
        .env_remove("FIELDVISIT_ADMIN_PASSWORD")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(p) = env_password {
        cmd.env("FIELDVISIT_ADMIN_PASSWORD", p);
    }
    let mut child = cmd.spawn().unwrap();
    // A command refused before it reads its input (a bad role) may exit before this write.
    match child.stdin.take().unwrap().write_all(stdin.as_bytes()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        other => other.unwrap(),
    }
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn accounts_are_added_listed_and_disabled_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("server.db");
    let db = db.to_str().unwrap();

    let out = run(
        &[
            "admin-user",
            "add",
            "wang",
            "--role",
            "supervisor",
            "--db",
            db,
            "--actor",
            "root",
        ],
        "long enough password\n",
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));

    let short = run(
        &[
            "admin-user",
            "add",
            "li",
            "--role",
            "sync-admin",
            "--db",
            db,
        ],
        "short\n",
        None,
    );
    assert!(!short.status.success());
    assert!(
        text(&short.stderr).contains("at least 12"),
        "{}",
        text(&short.stderr)
    );

    let from_env = run(
        &[
            "admin-user",
            "add",
            "li",
            "--role",
            "sync-admin",
            "--db",
            db,
        ],
        "",
        Some("another long password"),
    );
    assert!(from_env.status.success(), "{}", text(&from_env.stderr));

    let taken = run(
        &[
            "admin-user",
            "add",
            "wang",
            "--role",
            "sync-admin",
            "--db",
            db,
        ],
        "long enough password\n",
        None,
    );
    assert!(!taken.status.success());
    assert!(
        text(&taken.stderr).contains("exists"),
        "{}",
        text(&taken.stderr)
    );

    let bad_role = run(
        &["admin-user", "add", "zhao", "--role", "root", "--db", db],
        "long enough password\n",
        None,
    );
    assert!(!bad_role.status.success());

    let out = run(
        &[
            "admin-user",
            "disable",
            "wang",
            "--db",
            db,
            "--actor",
            "root",
        ],
        "",
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let missing = run(&["admin-user", "disable", "nobody", "--db", db], "", None);
    assert!(!missing.status.success());

    let out = run(&["admin-user", "list", "--db", db, "--json"], "", None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let list: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let summary: Vec<(String, String, bool)> = list
        .iter()
        .map(|u| {
            (
                u["name"].as_str().unwrap().to_string(),
                u["role"].as_str().unwrap().to_string(),
                !u["disabled_at"].is_null(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("li".into(), "sync-admin".into(), false),
            ("wang".into(), "supervisor".into(), true)
        ]
    );
    assert!(
        !text(&out.stdout).contains("argon2"),
        "the listing never shows a hash"
    );

    let log = run(&["admin-log", "--db", db, "--json"], "", None);
    let entries: Vec<serde_json::Value> = serde_json::from_slice(&log.stdout).unwrap();
    let actions: Vec<(String, String)> = entries
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_string(),
                e["subject"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        actions,
        [
            ("admin_user.add".into(), "wang".into()),
            ("admin_user.add".into(), "li".into()),
            ("admin_user.disable".into(), "wang".into()),
        ]
    );
    assert_eq!(entries[0]["actor"], "root");
}
