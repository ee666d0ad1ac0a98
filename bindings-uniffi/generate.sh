#!/bin/sh
# Generates the Kotlin and Swift sources from the built library (UniFFI
# library mode) into the places the Maven project and the Swift package read.
# Usage: bindings-uniffi/generate.sh <path to libkeyhouse_uniffi.so> <uniffi-bindgen>
set -eu
lib=$1
bindgen=$2
here=$(cd "$(dirname "$0")" && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

"$bindgen" generate --library "$lib" --language kotlin --language swift --no-format --out-dir "$out" >/dev/null

kt="$here/kotlin/target/generated-sources/uniffi"
rm -rf "$kt" && mkdir -p "$kt"
cp -r "$out/dev" "$kt/"

swift="$here/swift/Sources"
mkdir -p "$swift/Keyhouse" "$swift/KeyhouseFFI/include"
cp "$out/Keyhouse.swift" "$swift/Keyhouse/Keyhouse.swift"
cp "$out/KeyhouseFFI.h" "$swift/KeyhouseFFI/include/KeyhouseFFI.h"
