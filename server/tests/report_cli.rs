//! Supervision reports as a supervisor runs them, through the real binary: a small demo
//! fills a database with synced visits, then `report NAME --format csv|json` prints them.
//! CSV starts with a UTF-8 byte-order mark and a header row; a bad report name exits non-zero
//! and lists the reports; `flags-eval` prints recall 1 for every flag; `--format xlsx` writes a
//! workbook that an independent reader (calamine) reads back with the JSON's numbers.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Output};

const SERVER: &str = env!("CARGO_BIN_EXE_fieldvisit-server");

fn server(args: &[&str]) -> Output {
    Command::new(SERVER).args(args).output().unwrap()
}

fn report(db: &Path, args: &[&str]) -> Output {
    Command::new(SERVER)
        .arg("report")
        .args(args)
        .arg("--db")
        .arg(db)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

fn demo_db(dir: &Path) -> std::path::PathBuf {
    let db = dir.join("demo.db");
    let out = server(&[
        "demo",
        "--small",
        "--exit",
        "--json",
        "--devices",
        "6",
        "--listen",
        "127.0.0.1:0",
        "--db",
        db.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    db
}

#[test]
fn coverage_csv_has_a_bom_a_header_and_one_row_per_village_and_cadre() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_db(dir.path());
    let out = report(&db, &["coverage", "--days", "7", "--format", "csv"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let csv = text(&out.stdout);
    let body = csv.strip_prefix('\u{feff}').expect("UTF-8 byte-order mark");
    let mut lines = body.lines();
    assert_eq!(lines.next(), Some("level,id,name,households,visited,share"));
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert!(rows.iter().all(|r| r.len() == 6), "{body}");
    let villages: Vec<&Vec<&str>> = rows.iter().filter(|r| r[0] == "village").collect();
    assert_eq!(villages.len(), 3, "the small region has 3 villages");
    let households: u32 = villages.iter().map(|r| r[3].parse::<u32>().unwrap()).sum();
    let visited: u32 = villages.iter().map(|r| r[4].parse::<u32>().unwrap()).sum();
    assert_eq!(households, 40);
    assert!(visited > 0, "the demo's visits were recorded today: {body}");
    assert!(rows.iter().any(|r| r[0] == "cadre"));
}

#[test]
fn every_report_prints_json_rows_and_an_unknown_name_fails_naming_the_reports() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_db(dir.path());
    for name in fieldvisit_server::report::Report::names() {
        let out = report(&db, &[name, "--format", "json"]);
        assert!(out.status.success(), "{name}: {}", text(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(v.is_array(), "{name}");
    }
    let rate = report(&db, &["visit-rate", "--format", "json", "--required", "1"]);
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&rate.stdout).unwrap();
    assert!(
        rows.iter().any(|r| r["meets"] == true),
        "someone visited once"
    );

    let bad = report(&db, &["nonsense"]);
    assert!(!bad.status.success());
    assert!(
        text(&bad.stderr).contains("visit-rate"),
        "{}",
        text(&bad.stderr)
    );
}

#[test]
fn flags_eval_prints_recall_one_for_every_flag() {
    let out = server(&["flags-eval", "--seed", "7", "--weeks", "6"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    let rows: Vec<&str> = table
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| flag"))
        .collect();
    assert_eq!(
        rows.len(),
        fieldvisit_server::report::flags::FlagKind::ALL.len(),
        "{table}"
    );
    for r in rows {
        let cells: Vec<&str> = r.split('|').map(str::trim).collect();
        assert_eq!(cells[4], "1.000", "{r}");
    }
}

#[test]
fn coverage_xlsx_reads_back_with_the_same_rows_and_numbers_as_json() {
    use calamine::{Data, Reader, Xlsx, open_workbook};
    let dir = tempfile::tempdir().unwrap();
    let db = demo_db(dir.path());
    let json = report(&db, &["coverage", "--days", "7", "--format", "json"]);
    assert!(json.status.success(), "{}", text(&json.stderr));
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&json.stdout).unwrap();
    let file = dir.path().join("coverage.xlsx");
    let out = report(
        &db,
        &[
            "coverage",
            "--days",
            "7",
            "--format",
            "xlsx",
            "--out",
            file.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut book: Xlsx<_> = open_workbook(&file).unwrap();
    let sheet = book.worksheet_range("coverage").unwrap();
    let mut lines = sheet.rows();
    let header: Vec<String> = lines
        .next()
        .unwrap()
        .iter()
        .map(|c| c.to_string())
        .collect();
    assert_eq!(
        header,
        ["level", "id", "name", "households", "visited", "share"]
    );
    let mut n = 0;
    for (row, expected) in lines.zip(&rows) {
        n += 1;
        assert_eq!(row[0].to_string(), expected["level"].as_str().unwrap());
        for (i, col) in [(3, "households"), (4, "visited"), (5, "share")] {
            match &row[i] {
                Data::Float(v) => assert_eq!(*v, expected[col].as_f64().unwrap(), "{col}"),
                other => panic!("{col} should be a number, got {other:?}"),
            }
        }
    }
    assert_eq!(n, rows.len());
}
