//! Runs the Kotlin flow (`ffi/tests/kotlin/FlowTest.kt`) against Kotlin bindings generated
//! from the library this build produced, on the JVM with JNA — as the Android app loads it —
//! and a real sync server.
//!
//! It needs a Kotlin compiler and JNA, which the README's `cargo test --workspace` cannot
//! assume, so it is ignored there and run by `.ci/kotlin.sh`, which installs both and calls
//! `cargo test --workspace --test kotlin_bindings -- --ignored` (`--workspace` keeps the
//! feature set of the main test build, so nothing is rebuilt). Once asked to run, it never
//! skips: a missing tool is a failure.

mod support;

use std::path::PathBuf;
use std::process::Command;

fn required(var: &str) -> PathBuf {
    let value = std::env::var_os(var)
        .unwrap_or_else(|| panic!("{var} is not set: run this test through .ci/kotlin.sh"));
    let path = PathBuf::from(value);
    assert!(path.exists(), "{var}={} does not exist", path.display());
    path
}

#[test]
#[ignore = "needs kotlinc and JNA: run by .ci/kotlin.sh"]
fn the_kotlin_flow_passes_against_freshly_generated_bindings_and_a_real_server() {
    // The npm package kotlin-compiler: bin/kotlinc, lib/kotlin-stdlib.jar and
    // lib/kotlinx-coroutines-core-jvm.jar (which the generated code needs for `suspend`).
    let kotlin_home = required("FIELDVISIT_KOTLIN_HOME");
    let jna = required("FIELDVISIT_JNA_JAR");
    let coroutines = kotlin_home.join("lib/kotlinx-coroutines-core-jvm.jar");
    let stdlib = kotlin_home.join("lib/kotlin-stdlib.jar");
    for jar in [&coroutines, &stdlib] {
        assert!(jar.is_file(), "{} is missing", jar.display());
    }

    let scenario = support::Scenario::start();
    let build = tempfile::tempdir().expect("temp dir");
    support::generate_bindings("kotlin", build.path());
    let bindings = build.path().join("uniffi/fieldvisit_ffi/fieldvisit_ffi.kt");
    assert!(
        bindings.is_file(),
        "no Kotlin bindings at {}",
        bindings.display()
    );

    let sep = if cfg!(windows) { ";" } else { ":" };
    let compile_cp = format!("{}{sep}{}", jna.display(), coroutines.display());
    let jar = build.path().join("flow.jar");
    let output = Command::new(kotlin_home.join("bin/kotlinc"))
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/kotlin/FlowTest.kt"
        ))
        .arg(&bindings)
        .args(["-nowarn", "-cp", &compile_cp, "-d"])
        .arg(&jar)
        .output()
        .expect("kotlinc runs");
    support::assert_success("kotlinc", &output);

    let lib_dir = support::cdylib()
        .parent()
        .expect("library directory")
        .to_path_buf();
    let run_cp = format!(
        "{}{sep}{}{sep}{}{sep}{}",
        jar.display(),
        stdlib.display(),
        coroutines.display(),
        jna.display()
    );
    let output = Command::new("java")
        .arg(format!("-Djna.library.path={}", lib_dir.display()))
        .args(["-cp", &run_cp, "FlowTestKt"])
        .envs(scenario.env())
        .output()
        .expect("java runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    eprintln!("{stdout}");
    support::assert_success("the Kotlin flow", &output);
    assert!(
        stdout.lines().any(|l| l.ends_with(" passed, 0 failed")),
        "the Kotlin flow printed no summary"
    );
}
