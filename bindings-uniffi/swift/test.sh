#!/bin/sh
# Runs the Swift package's tests on Linux. This Debian has no Swift, so the
# tests run in a Debian trixie chroot with Debian's swiftlang (Swift 6): see
# tests/trixie.sh.
#
# Usage: bindings-uniffi/swift/test.sh [swift test arguments...]
# Needs root (debootstrap, chroot, mounts). First it builds the package here,
# with the sources generated from the release library and linking that
# library (make uniffi-release), as a user of the package would. Then it runs
# the tests in a copy of the package under bindings-uniffi/target/swift-test
# with the sources generated from the debug library, which has the test
# seams the conformance vectors use (make uniffi-build).
# KEYHOUSE_INTEROP_DIR, when set to a folder inside the repository, is passed
# on (as its path inside the chroot) to the cross-language tests.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
jail=$("$root/tests/trixie.sh" swiftlang libc6-dev)

interop=""
if [ -n "${KEYHOUSE_INTEROP_DIR:-}" ]; then
    interop="/src/${KEYHOUSE_INTEROP_DIR#"$root"/}"
fi

# The package's own sources come from the release library: no test seams
# (cat first, so that a missing file fails rather than passes).
mkdir -p "$root/bindings-uniffi/target"
cat "$root/bindings-uniffi/swift/Sources/Keyhouse/Keyhouse.swift" \
    "$root/bindings-uniffi/swift/Sources/KeyhouseFFI/include/KeyhouseFFI.h" > "$root/bindings-uniffi/target/swift-shipped.txt"
if grep -i -E 'testclock|test_?open_?with_?clock|test_?generate_?from_?bytes' "$root/bindings-uniffi/target/swift-shipped.txt"; then
    echo "swift: the package's generated sources have the test seams" >&2; exit 1
fi

# The test copy: the manifest, module map and tests from here, the sources
# generated from the debug library.
here="$root/bindings-uniffi/swift"
generated="$root/bindings-uniffi/target/generated/debug/swift"
staged="$root/bindings-uniffi/target/swift-test"
mkdir -p "$staged/Sources/Keyhouse" "$staged/Sources/KeyhouseFFI/include"
cp "$here/Package.swift" "$staged/"
cp "$here/Sources/KeyhouseFFI/module.modulemap" "$staged/Sources/KeyhouseFFI/"
rm -rf "$staged/Tests" && cp -r "$here/Tests" "$staged/"
cp "$generated/Keyhouse.swift" "$staged/Sources/Keyhouse/"
cp "$generated/KeyhouseFFI.h" "$staged/Sources/KeyhouseFFI/include/"

mkdir -p "$jail/src"
unshare -m sh -ec "
    mount -t proc proc '$jail/proc'
    mount --bind '$root' '$jail/src'
    chroot '$jail' env HOME=/tmp KEYHOUSE_INTEROP_DIR='$interop' KEYHOUSE_TEST_PG='${KEYHOUSE_TEST_PG:-}' sh -ec '
        cd /src/bindings-uniffi/swift
        swift build -Xlinker -L/src/target/x86_64-unknown-linux-gnu/release -Xlinker -rpath -Xlinker /src/target/x86_64-unknown-linux-gnu/release
        cd /src/bindings-uniffi/target/swift-test
        swift test --disable-swift-testing \
            -Xlinker -L/src/target/debug -Xlinker -rpath -Xlinker /src/target/debug $*
    '
"
