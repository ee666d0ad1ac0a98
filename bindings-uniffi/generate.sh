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

# uniffi-bindgen-java 0.5.2 drops the methods exported on an error type, so
# the Rust error's code() reaches Kotlin and Swift but not Java. The Java
# base exception gets it here, from the binding's own mapping (ErrorCodes,
# which a test checks against every subclass). The generated constructor is
# the anchor; if a generator update changes it, generation fails here rather
# than shipping exceptions without code().
exc="$out/java/dev/keyhouse/java/KeyhouseException.java"
anchor='    private KeyhouseException(java.lang.String message) {'
if [ "$(grep -c -x -F "$anchor" "$exc")" != 1 ]; then
    echo "generate.sh: $exc has no single '$anchor' to add code() before" >&2; exit 1
fi
awk -v anchor="$anchor" '
    $0 == anchor {
        print "    /** The stable error code, e.g. {@code NOT_FOUND}: the same in every language. */"
        print "    public java.lang.String code() {"
        print "        return ErrorCodes.code(this);"
        print "    }"
        print ""
    }
    { print }
' "$exc" > "$scratch/exc" && cat "$scratch/exc" > "$exc"
