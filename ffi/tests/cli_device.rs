//! The `fieldvisit` command-line device against a real server: two devices of one cadre, a
//! visit recorded and synced on one and seen on the other after its sync; and every failure
//! is a non-zero exit with a clear message.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

fn fieldvisit(store: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fieldvisit"))
        .arg("--store")
        .arg(store)
        .args(args)
        .output()
        .expect("fieldvisit runs")
}

/// Runs a command that must succeed with `--json` and returns its output.
fn json(store: &Path, args: &[&str]) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let out = fieldvisit(store, &all);
    support::assert_success(&format!("fieldvisit {args:?}"), &out);
    serde_json::from_slice(&out.stdout).expect("one JSON value on stdout")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_visit_recorded_and_synced_on_one_device_appears_on_another_after_its_sync() {
    let scenario = support::Scenario::start();
    let url = scenario.server.url.as_str();
    let first = scenario.work.path().join("first.db");
    let second = scenario.work.path().join("second.db");
    let household = scenario.household.id.as_str();
    let plate = scenario.server.region.plate(&scenario.household);

    for store in [&first, &second] {
        let identity = json(store, &["enroll", "--no-sync", url, &scenario.code()]);
        assert_eq!(identity["cadre_id"], scenario.cadre.as_str());
        let report = json(store, &["sync"]);
        assert_eq!(report["complete"], true);
    }

    let found = json(
        &first,
        &["households", "--search", &scenario.village_search],
    );
    assert!(
        found
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["id"] == household)
    );
    let scanned = json(&first, &["scan", &plate]);
    assert_eq!(scanned["household"]["id"], household);

    let visit = json(
        &first,
        &[
            "visit",
            "--scan",
            &plate,
            "--kind",
            "problem",
            "--diary",
            "屋顶漏雨，已联系镇里安排维修。",
            "--problem",
            "屋顶漏雨",
            "--check",
            "food=ok",
            "--check",
            "housing=problem:屋顶漏雨",
            "--follow-up",
            &(chrono::Local::now().date_naive() + chrono::Days::new(14)).to_string(),
            "--lat",
            "49.21",
            "--lon",
            "119.73",
            "--accuracy",
            "12",
        ],
    );
    let visit_id = visit["id"].as_str().unwrap().to_string();
    assert_eq!(visit["sync_state"], "Pending");
    let status = json(&first, &["status"]);
    assert_eq!(status["sync"]["pending"], 1);

    let amended = json(
        &first,
        &[
            "amend",
            &visit_id,
            "--reason",
            "补充维修时间",
            "--diary",
            "屋顶漏雨，镇里下周二来维修。",
        ],
    );
    assert_eq!(amended["amendments"].as_array().unwrap().len(), 1);

    let report = json(&first, &["sync"]);
    assert_eq!(report["acknowledged"], 2);
    let status = json(&first, &["status"]);
    assert_eq!(status["sync"]["pending"], 0);
    assert!(
        status["operations"]
            .as_array()
            .unwrap()
            .iter()
            .all(|op| op["state"] == "Synced")
    );

    json(&second, &["sync"]);
    let detail = json(&second, &["household", household]);
    let seen = detail["visits"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["id"] == visit_id.as_str())
        .expect("the other device holds the visit after its sync");
    assert_eq!(seen["diary"], "屋顶漏雨，镇里下周二来维修。");
    assert_eq!(seen["kind"], "problem");

    let export = scenario.work.path().join("export.json");
    let exported = json(&second, &["export", &export.display().to_string()]);
    assert_eq!(exported["operations"], 0);
}

#[test]
fn every_failure_exits_non_zero_with_a_clear_message() {
    let scenario = support::Scenario::start();
    let store = scenario.work.path().join("cli.db");

    let out = fieldvisit(&store, &["households"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("not enrolled"), "{}", stderr(&out));

    let out = fieldvisit(
        &store,
        &["enroll", &scenario.server.url, "0000-0000-0000-0000"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("enrollment code was refused"));

    let out = fieldvisit(&store, &["enroll", &scenario.server.url, &scenario.code()]);
    support::assert_success("enroll", &out);
    let code = scenario.household.code.as_str();

    let out = fieldvisit(
        &store,
        &[
            "--json",
            "visit",
            "--household",
            code,
            "--reason",
            "门牌丢失",
            "--diary",
            "短",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let err: Value = serde_json::from_str(stderr(&out).trim()).expect("a JSON error");
    assert_eq!(err["error"], "Validation");
    assert!(err["message"].as_str().unwrap().starts_with("diary:"));

    let out = fieldvisit(&store, &["scan", &format!("FV1{}", "7".repeat(119))]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("door plate"), "{}", stderr(&out));

    let out = fieldvisit(
        &store,
        &[
            "visit",
            "--household",
            code,
            "--reason",
            "门牌丢失",
            "--diary",
            "入户走访。",
            "--check",
            "food",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("ITEM=ok"));

    let out = fieldvisit(&store, &["visit", "--diary", "入户走访。"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "clap refuses a visit with no household"
    );

    let out = fieldvisit(
        &store,
        &[
            "amend",
            "not-a-visit",
            "--reason",
            "改正",
            "--diary",
            "入户走访。",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("visit_id"));
}

#[test]
fn a_photo_added_and_named_by_a_visit_reaches_the_server_after_the_visit() {
    let scenario = support::Scenario::start();
    let store = scenario.work.path().join("photos.db");
    json(
        &store,
        &[
            "enroll",
            "--no-sync",
            &scenario.server.url,
            &scenario.code(),
        ],
    );
    json(&store, &["sync"]);
    let file = scenario.work.path().join("door.jpg");
    let bytes: Vec<u8> = (0..200_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    std::fs::write(&file, &bytes).unwrap();
    let photo = json(&store, &["photo", "add", &file.display().to_string()]);
    let sha = photo["sha256"].as_str().unwrap().to_string();
    assert_eq!(photo["size"], 200_000);
    assert_eq!(photo["source"], "Camera");
    assert_eq!(photo["upload_state"], "Unattached");

    let unknown = "0".repeat(64);
    let plate = scenario.server.region.plate(&scenario.household);
    let visit_args = |hash: &str| {
        vec![
            "visit".to_string(),
            "--scan".into(),
            plate.clone(),
            "--diary".into(),
            "入户走访，拍摄了住房照片。".into(),
            "--photo".into(),
            hash.to_string(),
        ]
    };
    let refused: Vec<String> = visit_args(&unknown);
    let refused: Vec<&str> = refused.iter().map(String::as_str).collect();
    let out = fieldvisit(&store, &refused);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("no photo with hash"),
        "{}",
        stderr(&out)
    );

    let args = visit_args(&sha);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let visit = json(&store, &args);
    let visit_id = visit["id"].as_str().unwrap().to_string();
    let listed = json(&store, &["photos", "--visit", &visit_id]);
    assert_eq!(listed[0]["upload_state"], "WaitingForVisit");

    let report = json(&store, &["sync", "--photos", "unmetered-only"]);
    assert_eq!(report["acknowledged"], 1);
    assert_eq!(
        report["photos_uploaded"], 0,
        "a metered network holds photos back"
    );
    assert_eq!(report["photos_pending"], 1);
    let report = json(
        &store,
        &["sync", "--photos", "unmetered-only", "--unmetered"],
    );
    assert_eq!(report["photos_uploaded"], 1);
    assert_eq!(report["photo_bytes_up"], 200_000);

    let listed = json(&store, &["photos"]);
    assert_eq!(listed[0]["upload_state"], "Uploaded");
    assert_eq!(listed[0]["has_data"], false, "only the metadata stays");
    let stored = scenario
        .server
        .storage
        .read()
        .unwrap()
        .photo_bytes(&sha)
        .unwrap();
    assert_eq!(stored.as_deref(), Some(bytes.as_slice()));

    let out = fieldvisit(&store, &["photo", "add", "/no/such/file.jpg"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("cannot read"), "{}", stderr(&out));
}
