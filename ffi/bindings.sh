#!/usr/bin/env bash
# Generates the Kotlin, Swift and Python bindings from the built library (uniffi library mode).
#
#   ffi/bindings.sh [debug|release] OUTDIR
#
# Builds libfieldvisit_ffi (cdylib and staticlib) and this crate's uniffi-bindgen, then writes
#   OUTDIR/kotlin/uniffi/fieldvisit_ffi/fieldvisit_ffi.kt          (Android; needs JNA, coroutines)
#   OUTDIR/swift/fieldvisit_ffi.swift, fieldvisit_ffiFFI.h, .modulemap  (iOS; see docs/mobile.md)
#   OUTDIR/python/fieldvisit_ffi.py plus the library beside it     (tests, scripts)
# The bindings belong to the library they were generated from: regenerate them whenever it
# changes (uniffi checks API checksums at load time and refuses a mismatch).
set -euo pipefail

profile="${1:-}"
out="${2:-}"
if [ "$profile" != debug ] && [ "$profile" != release ] || [ -z "$out" ]; then
    echo "usage: $0 [debug|release] OUTDIR" >&2
    exit 2
fi
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

flags=()
[ "$profile" = release ] && flags+=(--release)
cargo build "${flags[@]}" -p fieldvisit-ffi --lib --bin uniffi-bindgen

target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
case "$(uname -s)" in
    Darwin) lib_name=libfieldvisit_ffi.dylib ;;
    *) lib_name=libfieldvisit_ffi.so ;;
esac
lib="$target_dir/$profile/$lib_name"
bindgen="$target_dir/$profile/uniffi-bindgen"

mkdir -p "$out"
for language in kotlin swift python; do
    "$bindgen" generate --library "$lib" --language "$language" --out-dir "$out/$language"
done
cp "$lib" "$out/python/"
echo "bindings for $lib written to $out/{kotlin,swift,python}"
