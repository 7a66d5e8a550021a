//! What the foreign-language suites (Python, Kotlin) and the command-line test share: a real
//! sync server on an ephemeral port over a small synthetic region, the freshly built library
//! and binaries of this package, bindings generated from that library, and a scenario —
//! enrollment codes, households in and out of scope, a real door plate — handed to the
//! foreign test as environment variables.
//!
//! Nothing here skips: a missing library, binary or interpreter is a failure.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use fieldvisit_core::domain::Household;
use fieldvisit_core::ids::CadreId;
use fieldvisit_ffi::FieldvisitStore;
use fieldvisit_tests::harness::{TestServer, admin, now, today};

/// The directory cargo put this package's library and binaries in (target/debug).
pub fn artifact_dir() -> PathBuf {
    let bindgen = PathBuf::from(env!("CARGO_BIN_EXE_uniffi-bindgen"));
    bindgen
        .parent()
        .expect("the binaries live in a directory")
        .to_path_buf()
}

/// The cdylib the bindings load: the newest of the copy cargo builds beside this test's own
/// dependencies (`deps/`, where a test build leaves it) and the one `cargo build` puts in
/// the target directory. It must be newer than every source file of this crate and of the
/// core, or the bindings would test old code: then the test fails.
pub fn cdylib() -> PathBuf {
    let dir = artifact_dir();
    let name = format!(
        "{}fieldvisit_ffi{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    );
    let lib = [dir.join("deps").join(&name), dir.join(&name)]
        .into_iter()
        .filter_map(|p| Some((p.metadata().ok()?.modified().ok()?, p)))
        .max()
        .map(|(_, p)| p)
        .unwrap_or_else(|| {
            panic!(
                "{name} is missing from {}: the cdylib was not built",
                dir.display()
            )
        });
    let built = lib.metadata().unwrap().modified().unwrap();
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    for src in [manifest.join("src"), manifest.join("../core/src")] {
        if let Some((changed, file)) = newest_file(&src) {
            assert!(
                changed <= built,
                "{} is stale: {} changed after it was built",
                lib.display(),
                file.display()
            );
        }
    }
    lib
}

fn newest_file(dir: &Path) -> Option<(std::time::SystemTime, PathBuf)> {
    let mut newest = None;
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        let found = if path.is_dir() {
            newest_file(&path)
        } else {
            Some((entry.metadata().ok()?.modified().ok()?, path))
        };
        newest = newest.max(found);
    }
    newest
}

/// Generates bindings for `language` from the built library into `out`, with this
/// package's own `uniffi-bindgen` in library mode.
pub fn generate_bindings(language: &str, out: &Path) {
    let output = Command::new(env!("CARGO_BIN_EXE_uniffi-bindgen"))
        .args(["generate", "--library"])
        .arg(cdylib())
        .args(["--language", language, "--out-dir"])
        .arg(out)
        .output()
        .expect("uniffi-bindgen runs");
    assert_success("uniffi-bindgen", &output);
}

/// Fails the test with everything the command printed.
pub fn assert_success(what: &str, output: &Output) {
    assert!(
        output.status.success(),
        "{what} failed ({})\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Runs an async export of the API from Rust.
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

/// A running server and the scenario the foreign suites play through.
pub struct Scenario {
    pub server: TestServer,
    pub cadre: CadreId,
    /// A household in the cadre's scope for the whole test.
    pub household: Household,
    /// Part of that household's village name (Chinese), for searches.
    pub village_search: String,
    /// A household that was in the cadre's scope when `offline_store` last synced, and has
    /// since been moved to another cadre on the server.
    pub moved: Household,
    /// A store enrolled for `cadre` and synced before `moved` was reassigned: a phone that
    /// has not heard of the reassignment yet.
    pub offline_store: PathBuf,
    pub work: tempfile::TempDir,
}

impl Scenario {
    pub fn start() -> Scenario {
        let server = TestServer::start(1);
        let (cadre, household, moved) = pick_cadre(&server);
        let village_search = server
            .region
            .areas
            .iter()
            .find(|a| a.code == household.village)
            .map(|a| a.name.chars().take(2).collect::<String>())
            .expect("the household's village is in the region");
        let work = tempfile::tempdir().expect("temp dir");

        // A phone of this cadre that synced before the reassignment.
        let offline_store = work.path().join("offline-phone.db");
        let phone = FieldvisitStore::open(offline_store.display().to_string(), None).unwrap();
        phone
            .enroll(server.url.clone(), server_code(&server, &cadre))
            .unwrap();
        block_on(phone.sync()).unwrap();
        assert!(
            phone
                .households(Some(moved.code.as_str().to_string()), 5)
                .unwrap()
                .iter()
                .any(|h| h.id == moved.id.as_str()),
            "the phone holds the household before it is moved"
        );
        phone.close_store();

        let other = server
            .region
            .cadres
            .iter()
            .find(|c| c.id != cadre)
            .expect("another cadre")
            .id
            .clone();
        fieldvisit_server::admin::reassign(
            server.storage.as_ref(),
            &moved.id,
            &other,
            today(),
            &admin(),
            now(),
        )
        .unwrap();
        assert!(!server.cadres_of(&moved).contains(&cadre));

        Scenario {
            server,
            cadre,
            household,
            village_search,
            moved,
            offline_store,
            work,
        }
    }

    /// A fresh one-time enrollment code for the scenario's cadre.
    pub fn code(&self) -> String {
        server_code(&self.server, &self.cadre)
    }

    /// The environment the foreign suites read.
    pub fn env(&self) -> Vec<(String, String)> {
        let s = |k: &str, v: &str| (k.to_string(), v.to_string());
        vec![
            s("FV_SERVER_URL", &self.server.url),
            s("FV_CODE", &self.code()),
            s("FV_CODE_2", &self.code()),
            s("FV_CODE_3", &self.code()),
            s("FV_CADRE", self.cadre.as_str()),
            s("FV_HOUSEHOLD_ID", self.household.id.as_str()),
            s("FV_HOUSEHOLD_CODE", self.household.code.as_str()),
            s("FV_PLATE", &self.server.region.plate(&self.household)),
            s("FV_VILLAGE_SEARCH", &self.village_search),
            s("FV_MOVED_HOUSEHOLD_CODE", self.moved.code.as_str()),
            s(
                "FV_OFFLINE_STORE",
                &self.offline_store.display().to_string(),
            ),
            s("FV_WORK_DIR", &self.work.path().display().to_string()),
        ]
    }
}

fn server_code(server: &TestServer, cadre: &CadreId) -> String {
    fieldvisit_server::enroll::create_code(
        server.storage.as_ref(),
        cadre,
        now(),
        3_600_000,
        &admin(),
    )
    .unwrap()
    .code
}

/// A cadre with at least two assigned households who holds no village post (so moving one
/// household away really takes it out of the cadre's scope).
fn pick_cadre(server: &TestServer) -> (CadreId, Household, Household) {
    let region = &server.region;
    for cadre in &region.cadres {
        if region.posts.iter().any(|p| p.cadre == cadre.id) {
            continue;
        }
        let mine: Vec<&Household> = region
            .assignments
            .iter()
            .filter(|a| a.cadre == cadre.id && a.to.is_none())
            .filter_map(|a| region.households.iter().find(|h| h.id == a.household))
            .filter(|h| server.cadres_of(h).contains(&cadre.id))
            .collect();
        if mine.len() >= 2 {
            return (cadre.id.clone(), mine[0].clone(), mine[1].clone());
        }
    }
    panic!("the small region has no cadre with two assigned households");
}
