#!/bin/sh
# Runs a plain Java program against the jar `make dist-java` built, with
# nothing but the jar on the class path (no library path, no debug library
# anywhere), as a JVM server that depends on it would, with the JDK in
# JAVA_HOME. The jar must hold the stripped release library and no test
# seams. (Tool output goes to files first, so that a failing tool fails.)
set -eu
cd "$(dirname "$0")"
: "${JAVA_HOME:?set JAVA_HOME to a JDK 22 or later (see jdk.sh)}"
jar=target/keyhouse-java-$(sed -n 's|^  <version>\(.*\)</version>|\1|p' pom.xml).jar
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cat > "$scratch/Check.java" <<'JAVA'
import dev.keyhouse.java.*;
import java.util.List;

public class Check {
    public static void main(String[] args) throws Exception {
        KeyhouseLibrary.load();
        try (Keyhouse kh = Keyhouse.open(":memory:", null)) {
            CreateOptions options = new CreateOptions("team-42", null, "jar_check", null, null, List.of("files:*"), null, null, null, null);
            CreatedKey created = kh.create(options);
            VerifyResult result = kh.verify(created.key(), List.of("files:read"), 1L);
            if (result.outcome() != Outcome.VALID) throw new AssertionError(result);
            System.out.println("package check (Java): " + result.outcome().code() + " from the jar's native library");
        }
    }
}
JAVA
(cd "$scratch" && "$JAVA_HOME/bin/jar" xf "$OLDPWD/$jar" linux-x86-64/libkeyhouse_uniffi.so && mv linux-x86-64/libkeyhouse_uniffi.so lib.so)
readelf -S "$scratch/lib.so" > "$scratch/sections"
if grep -q -e '\.symtab' -e '\.debug_' "$scratch/sections"; then echo "package check: the jar's library is not stripped" >&2; exit 1; fi
if cmp -s "$scratch/lib.so" ../../target/debug/libkeyhouse_uniffi.so; then echo "package check: the jar holds the debug library" >&2; exit 1; fi
seams='test_open_with_clock|test_generate_from_bytes|testclock|TestClock|testOpenWithClock|testGenerateFromBytes'
readelf --dyn-syms -W "$scratch/lib.so" > "$scratch/symbols"
grep -q uniffi_keyhouse_uniffi_fn_func_parse "$scratch/symbols"
if grep -E "$seams" "$scratch/symbols"; then echo "package check: the jar's library exports the test seams" >&2; exit 1; fi
mkdir "$scratch/classes"
(cd "$scratch/classes" && "$JAVA_HOME/bin/jar" xf "$OLDPWD/$jar" dev)
test -f "$scratch/classes/dev/keyhouse/java/Keyhouse.class"
if grep -r -a -l -E "$seams" "$scratch/classes"; then
    echo "package check: the jar's classes hold the test seams" >&2; exit 1
fi
"$JAVA_HOME/bin/javac" -cp "$jar" -d "$scratch" "$scratch/Check.java"
env -u LD_LIBRARY_PATH "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -cp "$jar:$scratch" Check
