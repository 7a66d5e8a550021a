//! Runs the Python suite (`ffi/tests/python/test_flow.py`) against Python bindings generated
//! from the library this build produced, and a real sync server. Part of
//! `cargo test --workspace`: a missing library, a failing generator, a missing `python3` or a
//! failing Python test fails this test; nothing is skipped.

mod support;

use std::process::Command;

#[test]
fn the_python_suite_passes_against_freshly_generated_bindings_and_a_real_server() {
    let scenario = support::Scenario::start();
    let bindings = tempfile::tempdir().expect("temp dir");
    support::generate_bindings("python", bindings.path());
    let lib = support::cdylib();
    let file_name = lib.file_name().expect("library file name");
    std::fs::copy(&lib, bindings.path().join(file_name))
        .expect("library copied beside the bindings");

    let suite = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python");
    let output = Command::new("python3")
        .args(["-m", "unittest", "-v", "test_flow"])
        .current_dir(suite)
        .env("PYTHONPATH", bindings.path())
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .envs(scenario.env())
        .output()
        .expect("python3 runs (it is on every machine this project builds on)");
    let stderr = String::from_utf8_lossy(&output.stderr);
    // Echo the suite's own report so that `cargo test -- --nocapture` shows each test.
    eprintln!("{stderr}");
    support::assert_success("the Python suite", &output);
    let ran = stderr
        .lines()
        .find_map(|l| {
            l.strip_prefix("Ran ")?
                .split_whitespace()
                .next()?
                .parse::<u32>()
                .ok()
        })
        .unwrap_or(0);
    assert!(ran >= 10, "the Python suite ran {ran} tests");
}
