#!/bin/sh
# Checks what a JVM jar (Kotlin's or Java's) carries: its native library is
# the release build, stripped and needing no glibc newer than 2.17, and
# neither the library's exported symbols nor the jar's classes hold the
# test seams. Tool output goes to files first, so that a missing or failing
# tool fails the check; the positive controls (a symbol and a class that
# must be there) keep the greps honest.
# Uses $JAVA_HOME/bin/jar when JAVA_HOME is set, else jar from PATH.
#
#   bindings-uniffi/jar-check.sh JAR CLASS    e.g. CLASS=dev/keyhouse/Keyhouse.class
set -eu
jar=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
class=$2
here=$(cd "$(dirname "$0")" && pwd)
jartool=${JAVA_HOME:+$JAVA_HOME/bin/}jar
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
(cd "$scratch" && "$jartool" xf "$jar" linux-x86-64/libkeyhouse_uniffi.so && mv linux-x86-64/libkeyhouse_uniffi.so lib.so)
readelf -S "$scratch/lib.so" > "$scratch/sections"
if grep -q -e '\.symtab' -e '\.debug_' "$scratch/sections"; then echo "package check: the jar's library is not stripped" >&2; exit 1; fi
"$here/../tests/glibc-floor.sh" "$scratch/lib.so"
if cmp -s "$scratch/lib.so" "$here/../target/debug/libkeyhouse_uniffi.so"; then echo "package check: the jar holds the debug library" >&2; exit 1; fi
seams='test_open_with_clock|test_generate_from_bytes|testclock|TestClock|testOpenWithClock|testGenerateFromBytes'
readelf --dyn-syms -W "$scratch/lib.so" > "$scratch/symbols"
grep -q uniffi_keyhouse_uniffi_fn_func_parse "$scratch/symbols"
if grep -E "$seams" "$scratch/symbols"; then echo "package check: the jar's library exports the test seams" >&2; exit 1; fi
mkdir "$scratch/classes"
(cd "$scratch/classes" && "$jartool" xf "$jar" dev)
test -f "$scratch/classes/$class"
if grep -r -a -l -E "$seams" "$scratch/classes"; then
    echo "package check: the jar's classes hold the test seams" >&2; exit 1
fi
