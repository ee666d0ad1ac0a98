#!/bin/sh
# Builds the jar, then runs a plain Java program against it with nothing but
# the jar and its runtime dependencies on the class path (no
# jna.library.path): what a JVM project that depends on it gets.
set -eu
cd "$(dirname "$0")"
mvn -B -q package -DskipTests
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
cp="target/keyhouse-0.1.0.jar:$(cat target/runtime-classpath.txt)"
javac -cp "$cp" -d "$scratch" "$scratch/Check.java"
env -u LD_LIBRARY_PATH java -cp "$cp:$scratch" Check
