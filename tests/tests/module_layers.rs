//! The workspace's shape, checked on every test run (docs/architecture.md, "Layers"): no cycle
//! between modules of core or the server at any level, and the server's domain modules name
//! neither axum nor HTTP nor utoipa — HTTP maps their typed errors in one place and describes
//! the API.

use std::path::Path;

use fieldvisit_tests::layers::{self, Crate, ModPath};

fn read(krate: &str) -> Crate {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(krate)
        .join("src");
    layers::read_crate(&src).unwrap_or_else(|e| panic!("reading {krate}: {e}"))
}

fn assert_acyclic(name: &str, krate: &Crate, at_least: usize) {
    assert!(
        krate.modules.len() >= at_least,
        "{name}: only {} modules read",
        krate.modules.len()
    );
    let cycles = layers::cycles(krate);
    let text: String = cycles.iter().map(ToString::to_string).collect();
    assert!(cycles.is_empty(), "{name} has module cycles:\n{text}");
}

#[test]
fn core_modules_form_no_cycle() {
    assert_acyclic("core", &read("core"), 40);
}

#[test]
fn server_modules_form_no_cycle() {
    assert_acyclic("server", &read("server"), 60);
}

#[test]
fn ffi_modules_form_no_cycle() {
    assert_acyclic("ffi", &read("ffi"), 5);
}

fn path(p: &str) -> ModPath {
    p.split("::").map(str::to_string).collect()
}

/// Only the HTTP face (`http`, `web`), the router that joins them (`app`) and the command
/// line that starts them (`cli`) may speak HTTP or describe it (utoipa: the OpenAPI document
/// is assembled in the HTTP layer); everything else is domain or storage.
#[test]
fn server_domain_modules_never_name_http() {
    let krate = read("server");
    let exempt = [path("http"), path("web"), path("app"), path("cli")];
    let found = layers::forbidden_paths(
        &krate,
        &[],
        &exempt,
        &[
            "axum",
            "http",
            "tower",
            "tower_http",
            "hyper",
            "http_body_util",
            "utoipa",
            "utoipa_axum",
        ],
        &["ApiError", "StatusCode", "IntoResponse"],
    );
    let text: Vec<String> = found
        .iter()
        .map(|r| {
            format!(
                "{} ({}:{}): {}",
                layers::show(&r.from),
                r.file.display(),
                r.line,
                r.text
            )
        })
        .collect();
    assert!(
        found.is_empty(),
        "domain modules naming HTTP:\n{}",
        text.join("\n")
    );
}

/// The checker itself sees a cycle when there is one: two sibling modules that name each
/// other, written to a scratch crate.
#[test]
fn the_checker_reports_a_planted_cycle() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path().join("src");
    std::fs::create_dir_all(src.join("a")).expect("mkdir");
    std::fs::write(src.join("lib.rs"), "mod a;\nmod b;\n").expect("lib");
    std::fs::write(src.join("a/mod.rs"), "mod x;\nmod y;\npub use x::X;\n").expect("a");
    std::fs::write(src.join("a/x.rs"), "pub struct X(super::y::Y);\n").expect("x");
    std::fs::write(
        src.join("a/y.rs"),
        "pub struct Y;\nfn f() { let _ = crate::a::x::X; }\n",
    )
    .expect("y");
    std::fs::write(
        src.join("b.rs"),
        "use crate::a::X;\n#[cfg(test)]\nmod tests { use crate::b; }\n",
    )
    .expect("b");
    let krate = layers::read_crate(&src).expect("read");
    let cycles = layers::cycles(&krate);
    assert_eq!(cycles.len(), 1, "{cycles:?}");
    assert_eq!(cycles[0].parent, path("a"));
    assert_eq!(cycles[0].members, vec!["x".to_string(), "y".to_string()]);
    // A parent re-exporting its child, and b using a, make no cycle.
    std::fs::write(src.join("a/y.rs"), "pub struct Y;\n").expect("y");
    let krate = layers::read_crate(&src).expect("read");
    assert!(layers::cycles(&krate).is_empty());
    let found = layers::forbidden_paths(&krate, &[], &[], &["a"], &[]);
    assert!(found.iter().any(|r| r.from == path("b")), "{found:?}");
}
