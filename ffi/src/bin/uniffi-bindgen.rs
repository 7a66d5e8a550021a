//! `uniffi-bindgen`: uniffi's binding generator, built from the same uniffi version as the
//! library so that generated bindings always match it. Library mode reads the interface from
//! the built library itself:
//!
//! `cargo run -p fieldvisit-ffi --bin uniffi-bindgen -- generate --library
//! target/debug/libfieldvisit_ffi.so --language kotlin --out-dir OUT` (or `ffi/bindings.sh`).

fn main() {
    uniffi::uniffi_bindgen_main()
}
