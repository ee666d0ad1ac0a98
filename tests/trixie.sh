#!/bin/sh
# A Debian trixie chroot under .chroot/trixie (git-ignored), built once with
# debootstrap and reused while it exists, with the given Debian packages
# installed in it. The Swift suite runs there (this Debian has no Swift), and
# so does the Java suite on a machine with no JDK 22 or later (trixie has
# openjdk-25). Needs root (debootstrap, chroot, mounts).
#
#   tests/trixie.sh PACKAGE...     prints the chroot's path
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
jail="$root/.chroot/trixie"

if [ ! -e "$jail/.ready" ]; then
    command -v debootstrap >/dev/null || { apt-get update -qq >&2 && apt-get install -y -qq debootstrap >&2; }
    # The mirror this machine's own apt uses also serves trixie.
    mirror=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
    rm -rf "$jail" && mkdir -p "$jail"
    echo "trixie: building a chroot in $jail (once)" >&2
    debootstrap --variant=minbase trixie "$jail" "${mirror:-http://deb.debian.org/debian}" >/dev/null
    cp /etc/resolv.conf "$jail/etc/resolv.conf"
    unshare -m sh -ec "
        mount -t proc proc '$jail/proc'
        chroot '$jail' apt-get update -qq >&2
    "
    touch "$jail/.ready"
fi

missing=""
for p in "$@"; do
    chroot "$jail" dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "trixie: installing$missing" >&2
    unshare -m sh -ec "
        mount -t proc proc '$jail/proc'
        chroot '$jail' apt-get update -qq >&2
        chroot '$jail' env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >&2
        # The downloaded .debs (600 MB for Swift) are not needed once unpacked.
        chroot '$jail' apt-get clean
    "
fi
# The chroot trusts the certificate authorities this machine adds to its own
# (/usr/local/share/ca-certificates): where the network goes through a
# proxy with its own CA, Maven in the chroot needs it as the host's does.
if [ -d /usr/local/share/ca-certificates ] && [ -x "$jail/usr/sbin/update-ca-certificates" ] &&
    { [ -n "$missing" ] || ! diff -r /usr/local/share/ca-certificates "$jail/usr/local/share/ca-certificates" >/dev/null 2>&1; }; then
    mkdir -p "$jail/usr/local/share/ca-certificates"
    cp -r /usr/local/share/ca-certificates/. "$jail/usr/local/share/ca-certificates/"
    unshare -m sh -ec "
        mount -t proc proc '$jail/proc'
        chroot '$jail' update-ca-certificates >&2
    "
fi
echo "$jail"
