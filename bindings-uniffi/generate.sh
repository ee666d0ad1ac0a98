#!/bin/sh
# Generates the Kotlin and Swift sources from a built library (UniFFI library
# mode) into <out>/kotlin and <out>/swift. make generates them twice: from
# the debug library, which has the test seams the suites use, and from the
# release library, which ships without them (the jar compiles those).
# Usage: bindings-uniffi/generate.sh <path to libkeyhouse_uniffi.so> <uniffi-bindgen> <out>
set -eu
lib=$1
bindgen=$2
out=$3
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

"$bindgen" generate --library "$lib" --language kotlin --language swift --no-format --out-dir "$scratch" >/dev/null

rm -rf "$out" && mkdir -p "$out/kotlin" "$out/swift"
cp -r "$scratch/dev" "$out/kotlin/"
cp "$scratch/Keyhouse.swift" "$scratch/KeyhouseFFI.h" "$out/swift/"
