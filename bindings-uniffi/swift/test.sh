#!/bin/sh
# Runs the Swift package's tests on Linux. This Debian has no Swift, so the
# tests run in a Debian trixie chroot with Debian's swiftlang (Swift 6). The
# chroot is built once under .chroot/ (git-ignored) and reused while it exists.
#
# Usage: bindings-uniffi/swift/test.sh [swift test arguments...]
# Needs root (debootstrap, chroot, mounts). The release library must already
# be built in target/release (make uniffi-release), as a user of the package
# would link it, and the sources generated (make uniffi-build).
# KEYHOUSE_INTEROP_DIR, when set to a folder inside the repository, is passed
# on (as its path inside the chroot) to the cross-language tests.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
jail="$root/.chroot/trixie"

if [ ! -e "$jail/.ready" ]; then
    command -v debootstrap >/dev/null || { apt-get update -qq && apt-get install -y -qq debootstrap >/dev/null; }
    # The mirror this machine's own apt uses also serves trixie.
    mirror=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
    rm -rf "$jail" && mkdir -p "$jail"
    echo "swift: building a trixie chroot in $jail (once)"
    debootstrap --variant=minbase trixie "$jail" "${mirror:-http://deb.debian.org/debian}" >/dev/null
    cp /etc/resolv.conf "$jail/etc/resolv.conf"
    unshare -m sh -ec "
        mount -t proc proc '$jail/proc'
        chroot '$jail' apt-get update -qq
        chroot '$jail' env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends swiftlang libc6-dev >/dev/null
    "
    touch "$jail/.ready"
fi

interop=""
if [ -n "${KEYHOUSE_INTEROP_DIR:-}" ]; then
    interop="/src/${KEYHOUSE_INTEROP_DIR#"$root"/}"
fi

# A private mount namespace: /proc (swiftc needs it to load libswiftCore) and
# the repository bind mount disappear when the command ends.
mkdir -p "$jail/src"
unshare -m sh -ec "
    mount -t proc proc '$jail/proc'
    mount --bind '$root' '$jail/src'
    chroot '$jail' env HOME=/tmp KEYHOUSE_INTEROP_DIR='$interop' KEYHOUSE_TEST_PG='${KEYHOUSE_TEST_PG:-}' sh -ec '
        cd /src/bindings-uniffi/swift
        swift test --disable-swift-testing \
            -Xlinker -L/src/target/release -Xlinker -rpath -Xlinker /src/target/release $*
    '
"
