//! The admin's plate commands as a county admin runs them: `seed`, `plates --village … --out`,
//! `plates reissue`, and `admin-log`, through the real binary. Errors name what is wrong and
//! exit non-zero; every action lands in the admin log under the `--actor` given.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Output};

use fieldvisit_core::synth::{Region, RegionSpec};

const SERVER: &str = env!("CARGO_BIN_EXE_fieldvisit-server");

fn run(db: &Path, args: &[&str]) -> Output {
    Command::new(SERVER)
        .args(args)
        .arg("--db")
        .arg(db)
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn an_admin_prints_and_reissues_plates_and_every_action_is_logged() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("county.db");
    let seeded = run(
        &db,
        &["seed", "--small", "--seed", "4", "--actor", "wang.admin"],
    );
    assert!(seeded.status.success(), "{}", stderr(&seeded));

    let region = Region::generate(RegionSpec::small(4));
    let village = region.households[0].village.clone();
    let in_village = region
        .households
        .iter()
        .filter(|h| h.village == village)
        .count();
    let out = dir.path().join("plates.svg");
    let printed = run(
        &db,
        &[
            "plates",
            "--village",
            &village,
            "--out",
            out.to_str().unwrap(),
            "--actor",
            "wang.admin",
        ],
    );
    assert!(printed.status.success(), "{}", stderr(&printed));
    let listed: Vec<String> = stdout(&printed)
        .lines()
        .skip(1)
        .map(str::to_string)
        .collect();
    assert_eq!(listed.len(), in_village.div_ceil(8), "{}", stdout(&printed));
    for file in &listed {
        let svg = std::fs::read_to_string(file).unwrap();
        assert!(svg.contains(r#"width="210mm""#));
    }

    let household = &region.households[0];
    let new_sheet = dir.path().join("reissued.svg");
    let reissued = run(
        &db,
        &[
            "plates",
            "reissue",
            household.id.as_str(),
            "--reason",
            "lost in a flood",
            "--out",
            new_sheet.to_str().unwrap(),
            "--actor",
            "li.admin",
        ],
    );
    assert!(reissued.status.success(), "{}", stderr(&reissued));
    assert_eq!(stdout(&reissued).trim(), household.code.grouped());
    assert!(
        stderr(&reissued).contains(&format!(
            "plate issue {} replaces issue {}",
            household.plate_issue + 1,
            household.plate_issue
        )),
        "{}",
        stderr(&reissued)
    );
    assert!(new_sheet.exists());

    let log = run(&db, &["admin-log", "--json"]);
    assert!(log.status.success(), "{}", stderr(&log));
    let entries: Vec<serde_json::Value> = serde_json::from_slice(&log.stdout).unwrap();
    let seen: Vec<(&str, &str)> = entries
        .iter()
        .map(|e| (e["actor"].as_str().unwrap(), e["action"].as_str().unwrap()))
        .collect();
    assert_eq!(
        seen,
        [
            ("wang.admin", "region.load"),
            ("wang.admin", "plates.print"),
            ("li.admin", "plate.reissue"),
        ]
    );
    assert_eq!(entries[2]["detail"]["reason"], "lost in a flood");
    let text = run(&db, &["admin-log", "--limit", "1"]);
    assert_eq!(stdout(&text).lines().count(), 1);
    assert!(stdout(&text).contains("plate.reissue"), "{}", stdout(&text));
}

#[test]
fn plate_commands_refuse_bad_input_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("county.db");
    assert!(run(&db, &["seed", "--small"]).status.success());
    let out = dir.path().join("x.svg");
    let out = out.to_str().unwrap();

    let unknown = run(&db, &["plates", "--village", "150799999999", "--out", out]);
    assert!(!unknown.status.success());
    assert!(
        stderr(&unknown).contains("no village with code '150799999999'"),
        "{}",
        stderr(&unknown)
    );

    let region = Region::generate(RegionSpec::small(1));
    let village = &region.households[0].village;
    let unwritable = run(
        &db,
        &[
            "plates",
            "--village",
            village,
            "--out",
            "/nonexistent-folder/x.svg",
        ],
    );
    assert!(!unwritable.status.success());
    assert!(
        stderr(&unwritable).contains("cannot write to /nonexistent-folder"),
        "{}",
        stderr(&unwritable)
    );

    let no_household = run(&db, &["plates", "reissue", "h-nobody", "--reason", "lost"]);
    assert!(!no_household.status.success());
    assert!(
        stderr(&no_household).contains("no household with id or door-plate code 'h-nobody'"),
        "{}",
        stderr(&no_household)
    );

    // A reissue whose sheet could not be written is refused before anything changes.
    let before = run(&db, &["admin-log", "--json"]);
    let bad_out = run(
        &db,
        &[
            "plates",
            "reissue",
            region.households[0].id.as_str(),
            "--out",
            "/tmp/x.pdf",
        ],
    );
    assert!(!bad_out.status.success());
    assert!(
        stderr(&bad_out).contains("ending in .svg"),
        "{}",
        stderr(&bad_out)
    );
    assert_eq!(run(&db, &["admin-log", "--json"]).stdout, before.stdout);

    let missing_args = run(&db, &["plates", "--village", village]);
    assert!(!missing_args.status.success());
    assert!(
        stderr(&missing_args).contains("--out"),
        "{}",
        stderr(&missing_args)
    );
}
