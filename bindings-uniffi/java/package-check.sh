#!/bin/sh
# Runs a plain Java program against the jar `make dist-java` built, with
# nothing but the jar on the class path (no library path, no debug library
# anywhere), as a JVM server that depends on it would, with the JDK in
# JAVA_HOME, after ../jar-check.sh has checked that the jar holds the
# stripped release library and no test seams.
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
../jar-check.sh "$jar" dev/keyhouse/java/Keyhouse.class
"$JAVA_HOME/bin/javac" -cp "$jar" -d "$scratch" "$scratch/Check.java"
env -u LD_LIBRARY_PATH "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -cp "$jar:$scratch" Check
