//! The device commands as a sync admin runs them, through the real binary, on a small demo's
//! database: `devices --json` lists state, app version, rejected count and the stuck/silent
//! flags; `retire --now` revokes and the listing shows it; `retire` of a revoked or unknown
//! device and `import-unsynced` of a file for an unknown device exit non-zero with a reason.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Output};

const SERVER: &str = env!("CARGO_BIN_EXE_fieldvisit-server");

fn server(args: &[&str]) -> Output {
    Command::new(SERVER).args(args).output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

fn listing(db: &str) -> Vec<serde_json::Value> {
    let out = server(&["devices", "--json", "--db", db]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn devices_retire_and_import_unsynced_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let db_path = dir.path().join("demo.db");
    let db = db_path.to_str().unwrap();
    let out = server(&[
        "demo",
        "--small",
        "--exit",
        "--json",
        "--devices",
        "3",
        "--listen",
        "127.0.0.1:0",
        "--db",
        db,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));

    let devices = listing(db);
    assert_eq!(devices.len(), 3);
    for d in &devices {
        assert_eq!(d["state"], "active", "{d}");
        assert!(
            d["rejected"].is_u64() && d["app_version"].is_string(),
            "{d}"
        );
        assert_eq!((&d["stuck"], &d["silent"]), (&false.into(), &false.into()));
    }
    let out = server(&["devices", "--db", db, "--stale-days", "0"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    assert!(table.starts_with("device"), "{table}");
    assert!(
        table.contains("rejected") && table.contains("active"),
        "{table}"
    );

    let id = devices[0]["id"].as_str().unwrap().to_string();
    let out = server(&[
        "retire",
        &id,
        "--reason",
        "phone lost",
        "--now",
        "--actor",
        "admin",
        "--db",
        db,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let after = listing(db);
    let line = after.iter().find(|d| d["id"] == id.as_str()).unwrap();
    assert_eq!(line["state"], "revoked");
    assert_eq!(line["revoked"]["reason"], "retired: phone lost");

    let again = server(&["retire", &id, "--reason", "x", "--db", db]);
    assert!(!again.status.success());
    assert!(text(&again.stderr).contains("already revoked"));
    let unknown = server(&[
        "retire",
        "01900000-0000-7000-8000-000000000000",
        "--reason",
        "x",
        "--db",
        db,
    ]);
    assert!(!unknown.status.success());

    let file = dir.path().join("unsynced.json");
    std::fs::write(
        &file,
        serde_json::json!({
            "format": "fieldvisit-unsynced-v1",
            "device": "01900000-0000-7000-8000-000000000000",
            "public_key": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            "operations": [],
        })
        .to_string(),
    )
    .unwrap();
    let out = server(&["import-unsynced", file.to_str().unwrap(), "--db", db]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("unknown device"),
        "{}",
        text(&out.stderr)
    );
    assert!(Path::new(db).exists());
}
