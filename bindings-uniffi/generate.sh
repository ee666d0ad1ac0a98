#!/bin/sh
# Generates the Kotlin, Swift and Java sources from a built library (UniFFI
# library mode) into <out>/kotlin, <out>/swift and <out>/java, with the
# uniffi-bindgen and uniffi-bindgen-java that the workspace builds in
# <bindir>. make generates them twice: from the debug library, which has the
# test seams the suites use, and from the release library, which ships
# without them (the jars compile those).
# Usage: bindings-uniffi/generate.sh <path to libkeyhouse_uniffi.so> <bindir> <out>
set -eu
lib=$1
bindir=$2
out=$3
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

"$bindir/uniffi-bindgen" generate --library "$lib" --language kotlin --language swift --no-format --out-dir "$scratch/uniffi" >/dev/null
"$bindir/uniffi-bindgen-java" generate --out-dir "$scratch/java" "$lib" >/dev/null

rm -rf "$out" && mkdir -p "$out/kotlin" "$out/swift"
cp -r "$scratch/uniffi/dev" "$out/kotlin/"
cp "$scratch/uniffi/Keyhouse.swift" "$scratch/uniffi/KeyhouseFFI.h" "$out/swift/"
cp -r "$scratch/java" "$out/java"
