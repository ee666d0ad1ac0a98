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

java="$out/java/dev/keyhouse/java"

# Inserts the lines of standard input into <file>, before (or after) its one
# line equal to <anchor>. Generation fails when the anchor is missing or not
# unique: a generator update that moves it must be looked at, not patched
# blindly.
insert() {
    where=$1 file=$2 anchor=$3
    if [ "$(grep -c -x -F "$anchor" "$file")" != 1 ]; then
        echo "generate.sh: $file has no single '$anchor' to insert $where" >&2; exit 1
    fi
    cat > "$scratch/lines"
    awk -v anchor="$anchor" -v where="$where" -v lines="$scratch/lines" '
        function put() { while ((getline l < lines) > 0) print l; close(lines) }
        $0 == anchor && where == "before" { put() }
        { print }
        $0 == anchor && where == "after" { put() }
    ' "$file" > "$scratch/patched" && cat "$scratch/patched" > "$file"
}

# uniffi-bindgen-java 0.5.2 drops the methods exported on an error type, so
# the Rust error's code() reaches Kotlin and Swift but not Java. The Java
# base exception gets it here, from the binding's own mapping (ErrorCodes,
# which a test checks against every subclass).
insert before "$java/KeyhouseException.java" '    private KeyhouseException(java.lang.String message) {' <<'JAVA'
    /** The stable error code, e.g. {@code NOT_FOUND}: the same in every language. */
    public java.lang.String code() {
        return ErrorCodes.code(this);
    }

JAVA

# Every string passed to Rust (the key, on every verify) is encoded through a
# fresh CharsetEncoder over a CharBuffer, so that a lone surrogate is an error
# rather than a '?'. That path was the largest single cost of a Java verify in
# a profile (a fifth of parse()). A string without surrogates has only one
# UTF-8 encoding, which String.getBytes gives directly; strings with any
# surrogate still take the generated, checking path.
insert after "$java/FfiConverterString.java" '    private java.nio.ByteBuffer toUtf8(java.lang.String value) {' <<'JAVA'
        if (!keyhouseHasSurrogate(value)) {
            return java.nio.ByteBuffer.wrap(value.getBytes(java.nio.charset.StandardCharsets.UTF_8));
        }
JAVA
insert before "$java/FfiConverterString.java" '    private java.nio.ByteBuffer toUtf8(java.lang.String value) {' <<'JAVA'
    private static boolean keyhouseHasSurrogate(java.lang.String value) {
        for (int i = 0; i < value.length(); i++) {
            if (java.lang.Character.isSurrogate(value.charAt(i))) {
                return true;
            }
        }
        return false;
    }

JAVA

# Rewrites every <file> with the sed <script>, and fails unless each one
# changed: a generator update that no longer emits what the script expects
# must be looked at.
rewrite() {
    script=$1; shift
    for file in "$@"; do
        sed -e "$script" "$file" > "$scratch/rewritten"
        if cmp -s "$file" "$scratch/rewritten"; then
            echo "generate.sh: '$script' changed nothing in $file" >&2; exit 1
        fi
        cat "$scratch/rewritten" > "$file"
    done
}

# The generated sequence converters build each list through a stream (a
# pipeline allocated per call, on every verify); Sequences (hand-written,
# same package) reads and sizes them with plain loops instead.
rewrite 's/java\.util\.stream\.IntStream\.range(0, len)\.mapToObj(_i -> \([A-Za-z0-9_]*\)\.INSTANCE\.read(buf))\.toList()/Sequences.read(buf, len, b -> \1.INSTANCE.read(b))/
s/value\.stream()\.mapToLong(inner -> \([A-Za-z0-9_]*\)\.INSTANCE\.allocationSize(inner))\.sum()/Sequences.size(value, inner -> \1.INSTANCE.allocationSize(inner))/' \
    "$java"/FfiConverterSequence*.java
if grep -l 'stream' "$java"/FfiConverterSequence*.java; then
    echo "generate.sh: a sequence converter above still uses a stream" >&2; exit 1
fi

# Each enum read calls values(), which copies the constants into a new array
# every time (an Outcome on every verify); read from one copy instead.
for file in $(grep -l '\.values()\[buf\.getInt() - 1\]' "$java"/FfiConverterType*.java); do
    type=$(sed -n 's/.*return \([A-Za-z0-9_]*\)\.values()\[buf\.getInt() - 1\];.*/\1/p' "$file")
    rewrite "s/return $type\.values()\[buf/return VALUES[buf/" "$file"
    echo "    private static final $type[] VALUES = $type.values();" | insert after "$file" '    INSTANCE;'
done
if grep -l 'values()\[buf' "$java"/FfiConverterType*.java; then
    echo "generate.sh: an enum converter above still copies values() per read" >&2; exit 1
fi

# Each thread's reusable call status comes from Arena.global(), which is
# never freed: 32 bytes of native memory lost for every thread that ever
# calls in, without bound on a server that runs each request on a virtual
# thread of its own (MemoryTest measures it). An automatic arena frees it
# once the thread, and so its ThreadLocal, is gone.
rewrite 's/java\.lang\.foreign\.Arena\.global()\.allocate(UniffiRustCallStatus\.LAYOUT)/java.lang.foreign.Arena.ofAuto().allocate(UniffiRustCallStatus.LAYOUT)/' \
    "$java/UniffiHelpers.java"
if grep -rl 'java\.lang\.foreign\.Arena\.global()' "$java"; then
    echo "generate.sh: generated code above still allocates from Arena.global()" >&2; exit 1
fi

# Times cross as milliseconds: uniffi-bindgen-java 0.5.2 cannot map a custom
# type to java.time (see uniffi.toml). The two records get conversions to and
# from java.time here. A value beyond what milliseconds since 1970 can hold
# becomes the nearest end of that range, instead of the ArithmeticException
# java.time would throw; the core then treats it as any value out of range:
# INVALID_ARGUMENT for every time (beyond year 9999) and for every bounded
# span (expiries, grace, refills, windows, timeouts), while a usage flush
# interval that long means no flush but by flush() and close().
insert after "$java/Timestamp.java" ') {' <<'JAVA'
    /** This time as an {@link java.time.Instant}. */
    public java.time.Instant toInstant() {
        return java.time.Instant.ofEpochMilli(value);
    }

    /** {@code instant}, rounded down to the millisecond. */
    public static Timestamp of(java.time.Instant instant) {
        try {
            return new Timestamp(instant.toEpochMilli());
        } catch (java.lang.ArithmeticException e) {
            return new Timestamp(instant.isBefore(java.time.Instant.EPOCH) ? java.lang.Long.MIN_VALUE : java.lang.Long.MAX_VALUE);
        }
    }
JAVA
insert after "$java/TimeSpan.java" ') {' <<'JAVA'
    /** This span as a {@link java.time.Duration}. */
    public java.time.Duration toDuration() {
        return java.time.Duration.ofMillis(value);
    }

    /** {@code duration}, in whole milliseconds (a fraction is dropped). */
    public static TimeSpan of(java.time.Duration duration) {
        try {
            return new TimeSpan(duration.toMillis());
        } catch (java.lang.ArithmeticException e) {
            return new TimeSpan(duration.isNegative() ? java.lang.Long.MIN_VALUE : java.lang.Long.MAX_VALUE);
        }
    }
JAVA
