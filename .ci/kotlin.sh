#!/usr/bin/env bash
# The Kotlin bindings, for real: installs what the JVM side needs (Debian's libjna-java, the npm
# package kotlin-compiler@2.4.20, which also ships kotlinx-coroutines for the generated `suspend`
# functions), then runs ffi/tests/kotlin_bindings.rs, which generates the Kotlin bindings from
# the freshly built library, compiles ffi/tests/kotlin/FlowTest.kt with them and runs the flow
# against a real sync server. Any failure fails this script.
set -euo pipefail
cd "$(dirname "$0")/.."

KOTLIN_VERSION=2.4.20
CACHE="${FIELDVISIT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/fieldvisit}"
KOTLIN_HOME="$CACHE/kotlin-$KOTLIN_VERSION/node_modules/kotlin-compiler"
JNA_JAR=/usr/share/java/jna.jar

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_packages=()
[ -f "$JNA_JAR" ] || apt_packages+=(libjna-java)
command -v java >/dev/null || apt_packages+=(default-jre-headless)
command -v npm >/dev/null || apt_packages+=(npm)
if [ ${#apt_packages[@]} -gt 0 ]; then
    echo "== installing ${apt_packages[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${apt_packages[@]}"
fi

if [ ! -x "$KOTLIN_HOME/bin/kotlinc" ]; then
    echo "== installing kotlin-compiler@$KOTLIN_VERSION into $CACHE"
    mkdir -p "$CACHE/kotlin-$KOTLIN_VERSION"
    npm install --prefix "$CACHE/kotlin-$KOTLIN_VERSION" --no-audit --no-fund --loglevel=error \
        "kotlin-compiler@$KOTLIN_VERSION"
fi

echo "== Kotlin flow (kotlinc $KOTLIN_VERSION, $(java -version 2>&1 | head -n 1))"
FIELDVISIT_KOTLIN_HOME="$KOTLIN_HOME" FIELDVISIT_JNA_JAR="$JNA_JAR" \
    cargo test --workspace --locked --test kotlin_bindings -- --ignored
