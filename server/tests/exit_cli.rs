//! The county's exit commands as an admin runs them, through the real binary: `exit notice`
//! and `exit approve` refuse with a specific reason and a non-zero exit when a step is missing,
//! a recorded notice shows on `household` and in `admin-log`, and a refused approval changes
//! nothing. (The whole procedure with phones, to exited, is `tests/tests/exit_verification.rs`.)

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Output};

use fieldvisit_core::clock::{Clock, SystemClock};
use fieldvisit_core::domain::exit;
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

fn household_json(db: &Path, id: &str) -> serde_json::Value {
    let shown = run(db, &["household", id, "--json"]);
    assert!(shown.status.success(), "{}", stderr(&shown));
    serde_json::from_str(&stdout(&shown)).unwrap()
}

#[test]
fn exit_commands_refuse_missing_steps_and_a_notice_shows_on_the_household_and_in_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("county.db");
    let seeded = run(
        &db,
        &["seed", "--small", "--seed", "5", "--actor", "county"],
    );
    assert!(seeded.status.success(), "{}", stderr(&seeded));
    let region = Region::generate(RegionSpec::small(5));
    let status_of = |s: &str| {
        region
            .households
            .iter()
            .find(|h| h.poverty_status == s)
            .map(|h| h.id.to_string())
            .unwrap()
    };
    let (not_exited, pre_exit) = (status_of(exit::NOT_EXITED), status_of(exit::PRE_EXIT));
    let today = SystemClock.now().local_date();

    // A household that is not pre-exit gets neither.
    for args in [
        vec!["exit", "notice", &not_exited, "--from", "2026-01-05"],
        vec!["exit", "approve", &not_exited],
    ] {
        let refused = run(&db, &args);
        assert_eq!(refused.status.code(), Some(1), "{args:?}");
        assert!(
            stderr(&refused).contains("not pre-exit"),
            "{}",
            stderr(&refused)
        );
    }
    // A bad date and an unknown household are named.
    let bad = run(&db, &["exit", "notice", &pre_exit, "--from", "2026-13-01"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("--from"), "{}", stderr(&bad));
    let unknown = run(&db, &["exit", "approve", "h-nobody"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(stderr(&unknown).contains("no household h-nobody"));

    // Approval names the first missing step (the procedure's order: verification, then the
    // notice); a notice in the future is refused.
    let refused = run(&db, &["exit", "approve", &pre_exit]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        stderr(&refused).contains("no exit-verification visit"),
        "{}",
        stderr(&refused)
    );
    let tomorrow = (today + chrono::Days::new(1)).to_string();
    let future = run(&db, &["exit", "notice", &pre_exit, "--from", &tomorrow]);
    assert_eq!(future.status.code(), Some(1));
    assert!(
        stderr(&future).contains("after today"),
        "{}",
        stderr(&future)
    );

    // The notice is recorded and tells when approval becomes possible.
    let from = today.to_string();
    let possible = (today + chrono::Days::new(7)).to_string();
    let noticed = run(
        &db,
        &[
            "exit", "notice", &pre_exit, "--from", &from, "--actor", "county",
        ],
    );
    assert!(noticed.status.success(), "{}", stderr(&noticed));
    assert!(
        stdout(&noticed).contains(&format!("approval is possible from {possible}")),
        "{}",
        stdout(&noticed)
    );

    // No verification visit by the first secretary (the registry says pre-exit, but no one
    // verified): refused, and the status stays.
    let refused = run(&db, &["exit", "approve", &pre_exit, "--actor", "county"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        stderr(&refused).contains("no exit-verification visit"),
        "{}",
        stderr(&refused)
    );

    let shown = household_json(&db, &pre_exit);
    assert_eq!(shown["household"]["poverty_status"], exit::PRE_EXIT);
    let history = shown["exit_history"].as_array().unwrap();
    assert_eq!(history.len(), 1, "{shown}");
    assert_eq!(history[0]["kind"], "notice");
    assert_eq!(history[0]["day"], from);
    assert_eq!(history[0]["actor"], "county");
    let text = run(&db, &["household", &pre_exit]);
    assert!(
        stdout(&text).contains(&format!(
            "notice from {from}, approval possible from {possible}"
        )),
        "{}",
        stdout(&text)
    );

    // Only the notice is in the admin log; refusals add nothing.
    let log = run(&db, &["admin-log", "--json"]);
    let entries: Vec<serde_json::Value> = serde_json::from_str(&stdout(&log)).unwrap();
    let exits: Vec<_> = entries
        .iter()
        .filter(|e| e["action"].as_str().unwrap().starts_with("exit."))
        .collect();
    assert_eq!(exits.len(), 1, "{entries:?}");
    assert_eq!(exits[0]["action"], "exit.notice");
    assert_eq!(exits[0]["actor"], "county");
    assert_eq!(exits[0]["subject"], pre_exit);
    assert_eq!(exits[0]["detail"]["approval_possible_from"], possible);
}
