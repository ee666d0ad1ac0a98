#!/bin/sh
# Fails unless a shared library needs no glibc newer than 2.17, the
# manylinux2014 baseline that the wheel, the npm addon and the JVM jar's
# library are linked against (by zig), so that they load on distributions
# older than the build machine. readelf's output goes to a file first, so a
# missing readelf fails the check, and a library that names no glibc version
# at all (not linked against glibc) fails it too.
#
#   tests/glibc-floor.sh LIBRARY
set -eu
lib=$1
versions=$(mktemp)
trap 'rm -f "$versions"' EXIT
readelf -V -W "$lib" > "$versions"
# A named requirement instead of a number (GLIBC_ABI_DT_RELR means 2.36,
# GLIBC_PRIVATE any one build) ties the library to newer or exact glibcs.
if grep -q 'GLIBC_[A-Z]' "$versions"; then
    echo "glibc-floor: $lib needs $(grep -o 'GLIBC_[A-Z][A-Z_]*' "$versions" | sort -u | tr '\n' ' ')" >&2; exit 1
fi
needed=$(grep -o 'GLIBC_[0-9][0-9.]*' "$versions" | sed 's/GLIBC_//' | sort -u -V)
if [ -z "$needed" ]; then echo "glibc-floor: $lib names no glibc version" >&2; exit 1; fi
newest=$(printf '%s\n' "$needed" | tail -n 1)
if [ "$(printf '%s\n2.17\n' "$newest" | sort -V | tail -n 1)" != 2.17 ]; then
    echo "glibc-floor: $lib needs glibc $newest, newer than 2.17" >&2; exit 1
fi
