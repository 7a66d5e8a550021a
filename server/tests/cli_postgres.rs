//! The real `fieldvisit-server` binary on PostgreSQL, with the database named by a URL whose
//! `options` set the search path to a throwaway schema (`ScratchSchema::url`): the demo runs
//! its fleet on it, two `serve` processes started together on one schema both come up (the
//! schema is created once, under the writers' lock) and name the same storage, and the admin
//! tools read what the demo wrote. Skipped, saying so, when `FIELDVISIT_TEST_POSTGRES_URL` is
//! unset.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};

use fieldvisit_server::storage::postgres::ScratchSchema;

const SERVER: &str = env!("CARGO_BIN_EXE_fieldvisit-server");
const URL_VAR: &str = "FIELDVISIT_TEST_POSTGRES_URL";

fn url() -> Option<String> {
    let url = std::env::var(URL_VAR).ok().filter(|u| !u.is_empty());
    if url.is_none() {
        println!("skipped: {URL_VAR} is unset");
    }
    url
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn the_demo_runs_its_fleet_on_postgres_and_the_admin_tools_read_it() {
    let Some(url) = url() else { return };
    let schema = ScratchSchema::new(&url, "cli").unwrap();
    let db = schema.url().unwrap();
    let out = Command::new(SERVER)
        .args(["demo", "--small", "--exit", "--json", "--devices", "6"])
        .args(["--listen", "127.0.0.1:0", "--db", &db])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["errors"], 0, "{summary}");
    assert!(summary["recorded"].as_u64().unwrap() > 0, "{summary}");
    assert_eq!(summary["recorded"], summary["synced"], "{summary}");

    // The same schema through the admin tools: six phones, every chain verifies, and the
    // database holds exactly the visits the demo synced.
    let audit = Command::new(SERVER)
        .args(["audit", "--db", &db])
        .output()
        .unwrap();
    assert!(audit.status.success(), "{}", text(&audit.stderr));
    let devices = Command::new(SERVER)
        .args(["devices", "--db", &db])
        .output()
        .unwrap();
    assert!(devices.status.success(), "{}", text(&devices.stderr));
    let storage = schema.storage().unwrap();
    let mut tx = fieldvisit_server::storage::Storage::read(&storage).unwrap();
    assert_eq!(tx.devices().unwrap().len(), 6);
    assert_eq!(
        Some(tx.visit_count().unwrap()),
        summary["synced"].as_u64(),
        "{summary}"
    );
}

/// A `fieldvisit-server serve` child, its address and its log (kept open so that the child's
/// writes never fail); killed when dropped.
struct Serve {
    child: Child,
    address: String,
    _log: BufReader<std::process::ChildStderr>,
}

impl Serve {
    fn start(db: &str) -> Serve {
        let mut child = Command::new(SERVER)
            .args(["serve", "--listen", "127.0.0.1:0", "--db", db])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Its first line: "fieldvisit-server on http://ADDRESS (STORAGE)".
        let mut line = String::new();
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        stderr.read_line(&mut line).unwrap();
        let address = line
            .split("http://")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .to_string();
        Serve {
            child,
            address,
            _log: stderr,
        }
    }

    fn health(&self) -> serde_json::Value {
        let mut stream = std::net::TcpStream::connect(&self.address).unwrap();
        write!(
            stream,
            "GET /v1/health HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.address
        )
        .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        let body = answer.split("\r\n\r\n").nth(1).unwrap();
        serde_json::from_str(body).unwrap()
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn two_serve_processes_start_together_on_one_new_schema() {
    let Some(url) = url() else { return };
    let schema = ScratchSchema::new(&url, "cli").unwrap();
    let db = schema.url().unwrap();
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| Serve::start(&db));
        let b = s.spawn(|| Serve::start(&db));
        (a.join().unwrap(), b.join().unwrap())
    });
    let (ha, hb) = (a.health(), b.health());
    assert_eq!(ha["storage"], hb["storage"]);
    assert!(
        ha["storage"].as_str().unwrap().ends_with(schema.name()),
        "{ha}"
    );
    drop((a, b));
}
