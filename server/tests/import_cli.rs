//! The real `fieldvisit-server` binary: `synth` writes a region, `import --dry-run` checks it
//! and writes nothing, `import` writes it, and an import with a bad row exits non-zero, prints
//! the row's file, row and column, and leaves the database as it was.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_fieldvisit-server");

fn server(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env("USER", "cli-tester")
        .output()
        .unwrap()
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn households(db: &Path) -> i64 {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.query_row("SELECT COUNT(*) FROM household", [], |r| r.get(0))
        .unwrap()
}

fn csv_files(dir: &Path) -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path().display().to_string())
        .collect();
    files.sort();
    files
}

#[test]
fn synth_then_dry_run_then_import_then_a_bad_row_through_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("region");
    let db = dir.path().join("county.db");
    let db_arg = db.display().to_string();

    let synth = server(&[
        "synth",
        "--seed",
        "5",
        "--small",
        "--out",
        &out.display().to_string(),
    ]);
    assert!(synth.status.success(), "{synth:?}");
    assert!(text(&synth).contains("households.csv"));
    let files = csv_files(&out);
    assert_eq!(files.len(), 7, "{files:?}");

    let mut args = vec!["import", "--db", &db_arg, "--dry-run"];
    args.extend(files.iter().map(String::as_str));
    let dry = server(&args);
    assert!(dry.status.success(), "{dry:?}");
    let report = text(&dry);
    assert!(report.contains("dry run"), "{report}");
    assert!(
        report.contains("households:     40 rows: 40 new"),
        "{report}"
    );
    assert_eq!(households(&db), 0, "a dry run wrote households");

    let mut args = vec!["import", "--db", &db_arg, "--actor", "wang.li"];
    args.extend(files.iter().map(String::as_str));
    let real = server(&args);
    assert!(real.status.success(), "{real:?}");
    assert!(text(&real).contains("in one transaction"));
    assert_eq!(households(&db), 40);
    let log = server(&["admin-log", "--db", &db_arg, "--json"]);
    let entries: serde_json::Value = serde_json::from_slice(&log.stdout).unwrap();
    assert_eq!(entries[0]["action"], "registry.import");
    assert_eq!(entries[0]["actor"], "wang.li");

    // A resident ID with a wrong check character on row 3 of members.csv.
    let members = out.join("members.csv");
    let content = std::fs::read_to_string(&members).unwrap();
    let mut lines: Vec<String> = content.lines().map(str::to_string).collect();
    let header: Vec<&str> = lines[0].split(',').collect();
    let col = header.iter().position(|c| *c == "resident_id").unwrap();
    let mut cells: Vec<String> = lines[2].split(',').map(str::to_string).collect();
    let id = cells[col].clone();
    let last = if id.ends_with('1') { "2" } else { "1" };
    cells[col] = format!("{}{last}", &id[..17]);
    // Also change a name, so that a partial write would show.
    let name_col = header.iter().position(|c| *c == "name").unwrap();
    cells[name_col] = "改名".into();
    lines[2] = cells.join(",");
    std::fs::write(&members, lines.join("\r\n")).unwrap();

    let bad = server(&["import", "--db", &db_arg, &members.display().to_string()]);
    assert_eq!(bad.status.code(), Some(1), "{bad:?}");
    let report = text(&bad);
    let letter = fieldvisit_server::import::column_letter(col);
    assert!(
        report.contains(&format!(
            "members.csv: row 3, column resident_id ({letter}):"
        )),
        "{report}"
    );
    assert!(report.contains("nothing was written"), "{report}");
    assert!(
        !report.contains(&id[..17]),
        "the report repeats the ID: {report}"
    );
    let conn = rusqlite::Connection::open(&db).unwrap();
    let name: String = conn
        .query_row("SELECT name FROM member WHERE id = ?1", [&cells[0]], |r| {
            r.get(0)
        })
        .unwrap();
    assert_ne!(name, "改名", "a refused import changed a member");
    let log = server(&["admin-log", "--db", &db_arg, "--json"]);
    let entries: serde_json::Value = serde_json::from_slice(&log.stdout).unwrap();
    assert_eq!(
        entries.as_array().unwrap().len(),
        1,
        "a refused import was logged"
    );

    // An unknown --encoding is refused by the argument parser.
    let wrong = server(&[
        "import",
        "--encoding",
        "latin1",
        &members.display().to_string(),
    ]);
    assert_eq!(wrong.status.code(), Some(2));
}
