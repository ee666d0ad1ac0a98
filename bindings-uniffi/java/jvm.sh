#!/bin/sh
# Runs a command in DIR with JAVA_HOME at a JDK 22 or later, which the Java
# binding needs (the FFM API is final since 22): on this machine when jdk.sh
# finds one; else in the Debian trixie chroot of tests/trixie.sh, with
# Debian's openjdk-25, Maven and binutils, and the repository mounted at the
# same path, so that every path means the same inside. (Debian 12 has no JDK
# newer than 17.) KEYHOUSE_JAVA_CHROOT=1 takes the chroot even when this
# machine has a JDK. The chroot needs root.
#
#   bindings-uniffi/java/jvm.sh DIR COMMAND [ARG...]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
dir=$(cd "$1" && pwd)
shift
if [ -z "${KEYHOUSE_JAVA_CHROOT:-}" ]; then
    status=0
    home=$("$here/jdk.sh") || status=$?
    if [ "$status" = 0 ]; then
        cd "$dir"
        JAVA_HOME=$home exec "$@"
    fi
    # 2: JAVA22_HOME names something that is not a JDK 22+; say so, don't guess.
    [ "$status" = 1 ] || exit "$status"
fi

echo "jvm.sh: running in the trixie chroot, with Debian's openjdk-25" >&2
jail=$("$root/tests/trixie.sh" openjdk-25-jdk-headless maven binutils)
quote() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"; }
script=$(mktemp "$jail/tmp/jvm-XXXXXX")
trap 'rm -f "$script"' EXIT
{
    echo "set -e"
    # What the commands need from make, and how this machine reaches the
    # network (proxies, Maven's options); nothing else of the host's.
    for var in KEYHOUSE_TEST_PG KEYHOUSE_CLI KEYHOUSE_INTEROP_DIR http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY MAVEN_OPTS; do
        eval "value=\${$var:-}"
        [ -z "$value" ] || echo "export $var=$(quote "$value")"
    done
    echo "cd $(quote "$dir")"
    printf 'exec'
    for arg in "$@"; do printf ' %s' "$(quote "$arg")"; done
    echo
} > "$script"
mkdir -p "$jail$root"
unshare -m sh -ec "
    mount -t proc proc '$jail/proc'
    mount --bind '$root' '$jail$root'
    chroot '$jail' env -i HOME=/root PATH=/usr/sbin:/usr/bin:/sbin:/bin JAVA_HOME=/usr/lib/jvm/java-25-openjdk-amd64 sh '${script#"$jail"}'
"
