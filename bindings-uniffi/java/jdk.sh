#!/bin/sh
# Prints the home of a JDK 22 or later, which the Java binding needs (the
# Foreign Function & Memory API is final since 22): $JAVA22_HOME if set (it
# must be one), else $JAVA_HOME if it is one, else the newest under
# /usr/lib/jvm (Debian's openjdk-*-jdk and Temurin both go there). Fails,
# saying so, when there is none: jvm.sh then uses the trixie chroot.
set -eu
version() { sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$1/release" 2>/dev/null || true; }
is_jdk22() { [ -x "$1/bin/javac" ] && [ "$(version "$1")" -ge 22 ] 2>/dev/null; }
if [ -n "${JAVA22_HOME:-}" ]; then
    if is_jdk22 "$JAVA22_HOME"; then echo "$JAVA22_HOME"; exit 0; fi
    echo "jdk.sh: JAVA22_HOME=$JAVA22_HOME is not a JDK 22 or later" >&2; exit 2
fi
if [ -n "${JAVA_HOME:-}" ] && is_jdk22 "$JAVA_HOME"; then echo "$JAVA_HOME"; exit 0; fi
best="" best_v=0
for home in /usr/lib/jvm/*/; do
    home=${home%/}
    is_jdk22 "$home" || continue
    v=$(version "$home")
    if [ "$v" -gt "$best_v" ]; then best=$home best_v=$v; fi
done
if [ -z "$best" ]; then echo "jdk.sh: no JDK 22 or later in JAVA_HOME or under /usr/lib/jvm" >&2; exit 1; fi
echo "$best"
