//! Registry import, end to end through the library: a synthetic region written as CSV (UTF-8
//! and GBK) imports into exactly that region; importing again updates instead of duplicating;
//! every kind of bad row is reported at its file, row and column, and then nothing is written;
//! phones hear of the changes an import makes to what they hold.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use fieldvisit_core::clock::{ServerTime, WallTime};
use fieldvisit_core::codes::{CodeKind, HumanCode};
use fieldvisit_core::ids::{CadreId, DeviceId, HouseholdId};
use fieldvisit_core::journal::ChainPoint;
use fieldvisit_core::synth::{Region, RegionSpec};
use fieldvisit_server::admin_log::Actor;
use fieldvisit_server::import::{self, Encoding, ImportOptions, ImportReport, Kind, RowError};
use fieldvisit_server::storage::sqlite::SqliteStorage;
use fieldvisit_server::storage::{DeviceRecord, FeedItem, Storage};

const NOW: ServerTime = ServerTime(1_750_000_000_000);

fn files(dir: &Path) -> Vec<PathBuf> {
    Kind::ALL.iter().map(|k| dir.join(k.file_name())).collect()
}

fn run(storage: &SqliteStorage, files: &[PathBuf], dry_run: bool) -> ImportReport {
    let options = ImportOptions {
        dry_run,
        encoding: None,
        progress: indicatif::ProgressBar::hidden(),
    };
    import::import(
        storage,
        files,
        &options,
        &Actor::new("tester").unwrap(),
        NOW,
    )
    .unwrap()
}

fn small(seed: u64, dir: &Path, encoding: Encoding) -> Region {
    let region = Region::generate(RegionSpec::small(seed));
    import::synth::write_region(&region, dir, encoding).unwrap();
    region
}

/// Every row of every table, as text, sorted: two equal dumps are two equal databases.
fn dump(db: &Path) -> Vec<String> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut out = Vec::new();
    for table in tables {
        let mut stmt = conn.prepare(&format!("SELECT * FROM \"{table}\"")).unwrap();
        let n = stmt.column_count();
        let rows = stmt
            .query_map([], |r| {
                let cells: Vec<String> = (0..n)
                    .map(|i| format!("{:?}", r.get::<_, rusqlite::types::Value>(i).unwrap()))
                    .collect();
                Ok(format!("{table}|{}", cells.join("|")))
            })
            .unwrap();
        out.extend(rows.map(Result::unwrap));
    }
    out.sort();
    out
}

fn count(db: &Path, table: &str) -> usize {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| {
        r.get::<_, i64>(0)
    })
    .map(|n| usize::try_from(n).unwrap())
    .unwrap()
}

/// The db holds exactly `region`: the same number of rows per table, and every record equal.
fn assert_holds_exactly(storage: &SqliteStorage, db: &Path, region: &Region) {
    for (table, n) in [
        ("area", region.areas.len()),
        ("household", region.households.len()),
        ("member", region.members.len()),
        ("cadre", region.cadres.len()),
        ("assignment", region.assignments.len()),
        ("village_post", region.posts.len()),
        ("measure", region.measures.len()),
    ] {
        assert_eq!(count(db, table), n, "{table}");
    }
    let mut tx = storage.read().unwrap();
    for a in &region.areas {
        assert_eq!(tx.area(&a.code).unwrap().as_ref(), Some(a));
    }
    for h in &region.households {
        assert_eq!(tx.household(&h.id).unwrap().as_ref(), Some(h));
    }
    for m in &region.members {
        assert_eq!(tx.member(&m.id).unwrap().as_ref(), Some(m));
    }
    for c in &region.cadres {
        assert_eq!(tx.cadre(&c.id).unwrap().as_ref(), Some(c));
    }
    for a in &region.assignments {
        assert_eq!(tx.assignment(&a.id).unwrap().as_ref(), Some(a));
    }
    for p in &region.posts {
        assert_eq!(tx.post(&p.id).unwrap().as_ref(), Some(p));
    }
    for m in &region.measures {
        assert_eq!(tx.measure(&m.id).unwrap().as_ref(), Some(m));
    }
}

/// A CSV file as rows of cells (UTF-8), to edit in tests.
fn read_csv(path: &Path) -> Vec<Vec<String>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_path(path)
        .unwrap();
    reader
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect()
}

fn write_csv(path: &Path, rows: &[Vec<String>]) {
    let mut writer = csv::WriterBuilder::new()
        .flexible(true)
        .from_path(path)
        .unwrap();
    for row in rows {
        writer.write_record(row).unwrap();
    }
    writer.flush().unwrap();
}

/// Sets the cell of spreadsheet row `row` (header = 1) in `column`.
fn set(rows: &mut [Vec<String>], row: usize, column: &str, value: &str) {
    let i = rows[0].iter().position(|c| c == column).unwrap();
    rows[row - 1][i] = value.to_string();
}

fn get(rows: &[Vec<String>], row: usize, column: &str) -> String {
    let i = rows[0].iter().position(|c| c == column).unwrap();
    rows[row - 1][i].clone()
}

fn edit(dir: &Path, kind: Kind, f: impl FnOnce(&mut Vec<Vec<String>>)) {
    let path = dir.join(kind.file_name());
    let mut rows = read_csv(&path);
    f(&mut rows);
    write_csv(&path, &rows);
}

#[test]
fn the_synthetic_region_imports_into_an_empty_database_as_exactly_that_region() {
    let dir = tempfile::tempdir().unwrap();
    let region = small(7, &dir.path().join("csv"), Encoding::Utf8);
    let db = dir.path().join("s.db");
    let storage = SqliteStorage::open(&db).unwrap();

    let report = run(&storage, &files(&dir.path().join("csv")), false);
    assert!(report.errors.is_empty(), "{:#?}", report.errors);
    assert!(report.written);
    assert_eq!(report.counts["households"].new, region.households.len());
    assert_eq!(report.counts["members"].new, region.members.len());
    assert_holds_exactly(&storage, &db, &region);

    let log = storage.read().unwrap().admin_log(10).unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].action, "registry.import");
    assert_eq!(log[0].actor, "tester");
    assert_eq!(
        log[0].detail["counts"]["households"]["new"],
        region.households.len()
    );
    assert_eq!(log[0].detail["files"][0], "areas.csv");
}

#[test]
fn a_gbk_region_imports_exactly_like_the_utf8_one() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("gbk");
    let region = small(8, &csv, Encoding::Gb18030);
    let bytes = std::fs::read(csv.join("members.csv")).unwrap();
    assert!(
        std::str::from_utf8(&bytes).is_err(),
        "GBK output must not be UTF-8"
    );
    let db = dir.path().join("g.db");
    let storage = SqliteStorage::open(&db).unwrap();
    let report = run(&storage, &files(&csv), false);
    assert!(report.errors.is_empty(), "{:#?}", report.errors);
    assert!(report.files.iter().all(|f| f.encoding == "GBK/GB18030"
        || !std::fs::read(&f.file).unwrap().iter().any(|b| *b >= 0x80)));
    assert_holds_exactly(&storage, &db, &region);
}

#[test]
fn importing_again_updates_records_instead_of_duplicating_them() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("csv");
    let region = small(9, &csv, Encoding::Utf8);
    let db = dir.path().join("r.db");
    let storage = SqliteStorage::open(&db).unwrap();
    assert!(run(&storage, &files(&csv), false).written);

    // The same files again: nothing new, nothing changed, not one row more.
    let before = dump(&db);
    let again = run(&storage, &files(&csv), false);
    assert!(again.written);
    assert!(
        again
            .counts
            .values()
            .all(|c| c.new == 0 && c.updated == 0 && c.unchanged == c.rows)
    );
    let after: Vec<String> = dump(&db)
        .into_iter()
        .filter(|r| !r.starts_with("admin_log|"))
        .collect();
    let before: Vec<String> = before
        .into_iter()
        .filter(|r| !r.starts_with("admin_log|"))
        .collect();
    assert_eq!(before, after);

    // A changed field in one household and one member: updated in place.
    let mut household_id = String::new();
    edit(&csv, Kind::Households, |rows| {
        household_id = get(rows, 2, "household_id");
        set(rows, 2, "drinking_water", "井水");
        set(rows, 2, "poverty_status", "4");
    });
    let mut member_id = String::new();
    edit(&csv, Kind::Members, |rows| {
        member_id = get(rows, 3, "member_id");
        set(rows, 3, "work_months", "7");
    });
    let changed = run(&storage, &files(&csv), false);
    assert!(changed.errors.is_empty(), "{:#?}", changed.errors);
    assert_eq!(changed.counts["households"].updated, 1);
    assert_eq!(changed.counts["members"].updated, 1);
    assert_eq!(count(&db, "household"), region.households.len());
    assert_eq!(count(&db, "member"), region.members.len());
    let mut tx = storage.read().unwrap();
    let h = tx
        .household(&HouseholdId::new(household_id).unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(h.drinking_water.as_deref(), Some("井水"));
    assert_eq!(h.poverty_status, "4");
    let m = tx
        .member(&fieldvisit_core::ids::MemberId::new(member_id).unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(m.work_months, Some(7));
}

/// Whether `errors` has one at this file (name), row and column.
fn has(errors: &[RowError], file: &str, row: u64, column: &str) -> bool {
    errors
        .iter()
        .any(|e| e.file.ends_with(file) && e.row == row && e.column.as_deref() == Some(column))
}

#[test]
fn every_class_of_bad_row_is_reported_at_its_file_row_and_column_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("csv");
    small(10, &csv, Encoding::Utf8);
    let db = dir.path().join("b.db");
    let storage = SqliteStorage::open(&db).unwrap();
    assert!(run(&storage, &files(&csv), false).written);
    let before = dump(&db);

    // A required column missing from the header.
    edit(&csv, Kind::Cadres, |rows| {
        let i = rows[0].iter().position(|c| c == "role").unwrap();
        for row in rows.iter_mut() {
            row.remove(i);
        }
    });
    edit(&csv, Kind::Households, |rows| {
        set(rows, 2, "attribute", ""); // an empty required field
        set(rows, 3, "housing_area_m2", "12,5"); // a bad number
        set(rows, 4, "main_cause", "42"); // an unknown code
        set(rows, 5, "identified_year", "2O14"); // a bad whole number
    });
    edit(&csv, Kind::Members, |rows| {
        // A resident ID whose check character is wrong.
        let id = get(rows, 2, "resident_id");
        let last = if id.ends_with('1') { "2" } else { "1" };
        set(rows, 2, "resident_id", &format!("{}{last}", &id[..17]));
        // A key used twice in one file: reported at the second row.
        let first = get(rows, 4, "member_id");
        set(rows, 5, "member_id", &first);
        // A reference to a household that exists nowhere.
        set(rows, 6, "household_id", "hh-999999");
        // A code with the leading zero a spreadsheet dropped.
        set(rows, 7, "education", "3");
    });
    edit(&csv, Kind::Assignments, |rows| {
        set(rows, 2, "cadre_id", "c-nobody"); // an unknown cadre
        set(rows, 3, "to_date", "2001-01-01"); // an end before the start
    });
    edit(&csv, Kind::VillagePosts, |rows| {
        set(rows, 2, "village_code", "150721102299"); // an unknown area
    });
    edit(&csv, Kind::Measures, |rows| {
        set(rows, 2, "date", "2019-02-30"); // no such day
        set(rows, 3, "date", "2019/03/01"); // not YYYY-MM-DD
    });
    // Bytes that are neither UTF-8 nor GBK in one cell of an otherwise UTF-8 file.
    let areas = csv.join("areas.csv");
    let text = std::fs::read_to_string(&areas).unwrap();
    let mut lines: Vec<Vec<u8>> = text.lines().map(|l| l.as_bytes().to_vec()).collect();
    let comma = lines[2].iter().position(|&b| b == b',').unwrap();
    let rest_at = comma
        + 1
        + lines[2][comma + 1..]
            .iter()
            .position(|&b| b == b',')
            .unwrap();
    let mut row3 = lines[2][..=comma].to_vec();
    row3.extend_from_slice(b"\xff\xfe\x80");
    row3.extend_from_slice(&lines[2][rest_at..]);
    lines[2] = row3;
    std::fs::write(&areas, lines.join(&b"\n"[..])).unwrap();

    let report = run(&storage, &files(&csv), false);
    let errors = &report.errors;
    let expected = [
        ("cadres.csv", 1, "role", "required column"),
        ("households.csv", 2, "attribute", "is required"),
        ("households.csv", 3, "housing_area_m2", "must be a number"),
        (
            "households.csv",
            4,
            "main_cause",
            "not a code of the list 'poverty_cause'",
        ),
        ("households.csv", 5, "identified_year", "whole number"),
        ("members.csv", 2, "resident_id", "check character"),
        (
            "members.csv",
            5,
            "member_id",
            "repeats the member_id of row 4",
        ),
        (
            "members.csv",
            6,
            "household_id",
            "neither in the import nor in the database",
        ),
        ("members.csv", 7, "education", "leading zero"),
        (
            "assignments.csv",
            2,
            "cadre_id",
            "neither in the import nor in the database",
        ),
        ("assignments.csv", 3, "to_date", "before from_date"),
        (
            "village_posts.csv",
            2,
            "village_code",
            "neither in the import nor",
        ),
        ("measures.csv", 2, "date", "not a real calendar date"),
        ("measures.csv", 3, "date", "YYYY-MM-DD"),
        ("areas.csv", 3, "name", "not valid UTF-8"),
    ];
    for (file, row, column, reason) in expected {
        let found = errors.iter().any(|e| {
            e.file.ends_with(file)
                && e.row == row
                && e.column.as_deref() == Some(column)
                && e.reason.contains(reason)
        });
        assert!(
            found,
            "no error {file} row {row} {column} ({reason}) in {errors:#?}"
        );
    }
    // Every error points at a place; none repeats a value of the files.
    assert!(errors.iter().all(|e| e.row >= 1 && e.column.is_some()));
    assert!(!errors.iter().any(|e| e.reason.contains("hh-999999")));
    // Sorted by file (in the order given), then row.
    let order: Vec<(usize, u64)> = errors
        .iter()
        .map(|e| {
            let f = Kind::ALL
                .iter()
                .position(|k| e.file.ends_with(&k.file_name()))
                .unwrap();
            (f, e.row)
        })
        .collect();
    assert!(order.windows(2).all(|w| w[0] <= w[1]), "{order:?}");
    // The rows of the cadres file are all bad, but assignments naming them are not blamed.
    assert!(!has(errors, "assignments.csv", 4, "cadre_id"));

    assert!(!report.written);
    assert_eq!(dump(&db), before, "a refused import wrote something");
}

#[test]
fn one_bad_cell_keeps_an_empty_database_empty() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("csv");
    small(11, &csv, Encoding::Utf8);
    edit(&csv, Kind::Measures, |rows| {
        let n = rows.len();
        set(rows, n, "cost_yuan", "-5");
    });
    let db = dir.path().join("e.db");
    let storage = SqliteStorage::open(&db).unwrap();
    let before = dump(&db);
    let report = run(&storage, &files(&csv), false);
    assert_eq!(report.errors.len(), 1, "{:#?}", report.errors);
    assert_eq!(report.errors[0].column.as_deref(), Some("cost_yuan"));
    assert!(!report.written);
    assert_eq!(dump(&db), before);
    assert_eq!(count(&db, "household"), 0);
}

#[test]
fn a_dry_run_reports_what_would_change_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("csv");
    let region = small(12, &csv, Encoding::Utf8);
    let db = dir.path().join("d.db");
    let storage = SqliteStorage::open(&db).unwrap();
    let before = dump(&db);
    let report = run(&storage, &files(&csv), true);
    assert!(report.errors.is_empty(), "{:#?}", report.errors);
    assert!(!report.written);
    assert_eq!(report.counts["households"].new, region.households.len());
    assert_eq!(dump(&db), before);
}

fn enroll(storage: &SqliteStorage, cadre: &CadreId, n: u8) -> DeviceId {
    let device = DeviceId::from_bytes([n; 16]);
    let mut tx = storage.write().unwrap();
    tx.upsert_device(
        &DeviceRecord {
            id: device,
            cadre: cadre.clone(),
            public_key: [n; 32],
            enrolled_at: NOW,
            revoked: None,
            retiring: None,
            head: ChainPoint::START,
            app_version: None,
            last_sync_at: None,
            pending_reported: 0,
            clock_skew_ms: 0,
        },
        &[n; 32],
    )
    .unwrap();
    tx.commit().unwrap();
    device
}

fn feed(storage: &SqliteStorage, device: &DeviceId) -> Vec<FeedItem> {
    let mut tx = storage.read().unwrap();
    tx.feed_after(device, 0, 10_000)
        .unwrap()
        .into_iter()
        .map(|(_, item)| item)
        .collect()
}

#[test]
fn phones_hear_of_imported_changes_to_their_households_and_their_scope() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("csv");
    let region = small(13, &csv, Encoding::Utf8);
    let db = dir.path().join("f.db");
    let storage = SqliteStorage::open(&db).unwrap();
    assert!(run(&storage, &files(&csv), false).written);

    // An assisting cadre with at least one household, and a household outside their scope.
    let day = WallTime(NOW.0).local_date();
    let assignment = region
        .assignments
        .iter()
        .find(|a| {
            let cadre = region.cadres.iter().find(|c| c.id == a.cadre).unwrap();
            cadre.role == "assisting"
        })
        .unwrap()
        .clone();
    let cadre = assignment.cadre.clone();
    let scope = storage
        .read()
        .unwrap()
        .households_in_scope(&cadre, day)
        .unwrap();
    let outside = region
        .households
        .iter()
        .find(|h| !scope.contains(&h.id))
        .unwrap()
        .id
        .clone();
    let device = enroll(&storage, &cadre, 1);
    let bystander_cadre = region
        .cadres
        .iter()
        .find(|c| c.id != cadre && c.role == "assisting")
        .unwrap()
        .id
        .clone();
    let bystander = enroll(&storage, &bystander_cadre, 2);
    let bystander_before = feed(&storage, &bystander);

    // 1. A registry field of a household the phone holds changes.
    edit(&csv, Kind::Households, |rows| {
        let row = (2..=rows.len())
            .find(|&r| get(rows, r, "household_id") == assignment.household.as_str())
            .unwrap();
        set(rows, row, "housing_safety", "D");
    });
    assert!(run(&storage, &files(&csv), false).written);
    let items = feed(&storage, &device);
    assert!(items.contains(&FeedItem::Household(assignment.household.clone())));

    // 2. A new assignment brings another household into the phone's scope; 3. the end of the
    //    old one (dated before today) takes that household out of it.
    edit(&csv, Kind::Assignments, |rows| {
        let row = (2..=rows.len())
            .find(|&r| get(rows, r, "assignment_id") == assignment.id.as_str())
            .unwrap();
        set(rows, row, "to_date", "2020-12-31");
        let mut extra = rows[row - 1].clone();
        extra[0] = "a-imported-1".into();
        extra[2] = outside.to_string();
        extra[4] = String::new();
        rows.push(extra);
    });
    let report = run(&storage, &files(&csv), false);
    assert!(report.errors.is_empty(), "{:#?}", report.errors);
    assert_eq!(report.counts["assignments"].new, 1);
    assert_eq!(report.counts["assignments"].updated, 1);
    let items = feed(&storage, &device);
    let still_held = storage
        .read()
        .unwrap()
        .in_scope(&cadre, &assignment.household, day)
        .unwrap();
    assert!(
        !still_held,
        "the ended assignment was the cadre's only tie to the household"
    );
    assert!(items.contains(&FeedItem::Purge(assignment.household.clone())));
    assert!(items.contains(&FeedItem::Household(outside.clone())));
    assert!(items.contains(&FeedItem::Assignment(assignment.id.clone())));
    let household_at = items
        .iter()
        .rposition(|i| i == &FeedItem::Household(outside.clone()))
        .unwrap();
    assert!(
        items[..household_at]
            .iter()
            .any(|i| matches!(i, FeedItem::Area(_))),
        "the new household's areas come before it"
    );

    // A phone whose cadre's households did not change heard nothing.
    let bystander_scope = storage
        .read()
        .unwrap()
        .households_in_scope(&bystander_cadre, day)
        .unwrap();
    if !bystander_scope.contains(&assignment.household) && !bystander_scope.contains(&outside) {
        assert_eq!(feed(&storage, &bystander), bystander_before);
    }
}

#[test]
fn header_and_cross_column_problems_are_reported_too() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("csv");
    small(14, &csv, Encoding::Utf8);
    let db = dir.path().join("h.db");
    let storage = SqliteStorage::open(&db).unwrap();
    assert!(run(&storage, &files(&csv), false).written);
    let before = dump(&db);

    edit(&csv, Kind::Areas, |rows| {
        rows[0].push("notes".into()); // an unknown column
        for row in rows.iter_mut().skip(1) {
            row.push(String::new());
        }
        set(rows, 2, "lon", ""); // lat without lon
    });
    edit(&csv, Kind::Cadres, |rows| {
        rows[0][1] = "cadre_id".into(); // a column named twice ("name" becomes "cadre_id")
        rows[2].push("stray".into()); // a value beyond the header
    });
    let mut other_head = String::new();
    edit(&csv, Kind::Households, |rows| {
        // A known household's plate code changed (to a valid code no household has).
        let code = HumanCode::new(CodeKind::Household, 999_999).unwrap();
        set(rows, 2, "household_code", code.as_str());
        other_head = get(rows, 4, "head_member_id");
        set(rows, 3, "head_member_id", &other_head); // the head of another household
        set(rows, 5, "village_code", "1.50721E+11"); // a spreadsheet's scientific notation
    });
    edit(&csv, Kind::Members, |rows| {
        let id = get(rows, 2, "resident_id");
        let sex = get(rows, 2, "sex");
        set(rows, 2, "sex", if sex == "1" { "2" } else { "1" }); // disagrees with the ID
        let birth = get(rows, 3, "birth_date");
        let year: i32 = birth[..4].parse().unwrap();
        set(
            rows,
            3,
            "birth_date",
            &format!("{}{}", year - 1, &birth[4..]),
        );
        assert_eq!(id.len(), 18);
    });
    let stray = dir.path().join("export.csv");
    std::fs::write(&stray, "x,y\n1,2\n").unwrap();
    let mut all = files(&csv);
    all.push(stray);
    all.push(dir.path().join("missing.csv"));

    let report = run(&storage, &all, false);
    let errors = &report.errors;
    let expect = |file: &str, row: u64, column: Option<&str>, reason: &str| {
        let found = errors.iter().any(|e| {
            e.file.ends_with(file)
                && e.row == row
                && e.column.as_deref() == column
                && e.reason.contains(reason)
        });
        assert!(
            found,
            "no error {file} row {row} {column:?} ({reason}) in {errors:#?}"
        );
    };
    expect(
        "areas.csv",
        1,
        Some("notes"),
        "is not a column of areas.csv",
    );
    expect("areas.csv", 2, Some("lon"), "required when lat is given");
    expect("cadres.csv", 1, Some("cadre_id"), "appears twice");
    expect("cadres.csv", 1, Some("name"), "required column");
    expect("households.csv", 2, Some("household_code"), "never changes");
    expect(
        "households.csv",
        3,
        Some("head_member_id"),
        "not a member of this household",
    );
    expect(
        "households.csv",
        5,
        Some("village_code"),
        "scientific notation",
    );
    expect("members.csv", 2, Some("sex"), "17th digit");
    expect("members.csv", 3, Some("birth_date"), "characters 7-14");
    expect("export.csv", 1, None, "kind is unknown");
    expect("missing.csv", 0, None, "cannot be read");
    let beyond = errors
        .iter()
        .any(|e| e.file.ends_with("cadres.csv") && e.row == 3 && e.reason.contains("beyond"));
    assert!(beyond, "{errors:#?}");
    assert!(!report.written);
    assert_eq!(dump(&db), before);
}
