#!/bin/sh
# Runs a plain Java program against the jar `make dist-kotlin` built, with
# nothing but the jar and its runtime dependencies on the class path (no
# jna.library.path, no debug library anywhere): what a JVM project that
# depends on it gets. The jar must hold the stripped release library, and no
# test seams.
# (readelf writes to a file first, so that a missing readelf fails the check.)
set -eu
cd "$(dirname "$0")"
jar=target/keyhouse-$(sed -n 's|^  <version>\(.*\)</version>|\1|p' pom.xml).jar
mvn -B -q dependency:build-classpath -Dmdep.outputFile=target/runtime-classpath.txt -Dmdep.includeScope=runtime
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cat > "$scratch/Check.java" <<'JAVA'
import dev.keyhouse.*;
import java.util.List;

public class Check {
    public static void main(String[] args) throws Exception {
        try (Keyhouse kh = Keyhouse.Companion.open(":memory:", null)) {
            CreateOptions options = new CreateOptions("team-42", null, "jar_check", null, null, List.of("files:*"), null, null, null, null);
            CreatedKey created = kh.create(options);
            VerifyResult result = kh.verify(created.key(), List.of("files:read"), 1L);
            if (result.getOutcome() != Outcome.VALID) throw new AssertionError(result);
            System.out.println("package check: " + result.getOutcome().code() + " from the jar's native library");
        }
    }
}
JAVA
(cd "$scratch" && jar xf "$OLDPWD/$jar" linux-x86-64/libkeyhouse_uniffi.so && mv linux-x86-64/libkeyhouse_uniffi.so lib.so)
readelf -S "$scratch/lib.so" > "$scratch/sections"
if grep -q -e '\.symtab' -e '\.debug_' "$scratch/sections"; then echo "package check: the jar's library is not stripped" >&2; exit 1; fi
if cmp -s "$scratch/lib.so" ../../target/debug/libkeyhouse_uniffi.so; then echo "package check: the jar holds the debug library" >&2; exit 1; fi
# No test seams: neither among the library's exported symbols nor among the
# jar's classes (both written to files first, so that a failing tool fails).
seams='test_open_with_clock|test_generate_from_bytes|testclock|TestClock|testOpenWithClock|testGenerateFromBytes'
readelf --dyn-syms -W "$scratch/lib.so" > "$scratch/symbols"
grep -q uniffi_keyhouse_uniffi_fn_func_parse "$scratch/symbols"
if grep -E "$seams" "$scratch/symbols"; then echo "package check: the jar's library exports the test seams" >&2; exit 1; fi
mkdir "$scratch/classes"
(cd "$scratch/classes" && jar xf "$OLDPWD/$jar" dev)
test -f "$scratch/classes/dev/keyhouse/Keyhouse.class"
if grep -r -a -l -E "$seams" "$scratch/classes"; then
    echo "package check: the jar's classes hold the test seams" >&2; exit 1
fi
cp="$jar:$(cat target/runtime-classpath.txt)"
javac -cp "$cp" -d "$scratch" "$scratch/Check.java"
env -u LD_LIBRARY_PATH java -cp "$cp:$scratch" Check
