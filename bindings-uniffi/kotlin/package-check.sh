#!/bin/sh
# Runs a plain Java program against the jar `make dist-kotlin` built, with
# nothing but the jar and its runtime dependencies on the class path (no
# jna.library.path, no debug library anywhere): what a JVM project that
# depends on it gets, after ../jar-check.sh has checked that the jar holds
# the stripped release library and no test seams.
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
../jar-check.sh "$jar" dev/keyhouse/Keyhouse.class
cp="$jar:$(cat target/runtime-classpath.txt)"
javac -cp "$cp" -d "$scratch" "$scratch/Check.java"
env -u LD_LIBRARY_PATH java -cp "$cp:$scratch" Check
