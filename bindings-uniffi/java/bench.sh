#!/bin/sh
# The JVM benchmark (bench/Bench.java): Java/FFM, Kotlin/JNA and a JDBC floor
# side by side in one JVM, against the jars `make dist-java dist-kotlin`
# built (release library), with sqlite-jdbc from Maven Central for the floor.
# Needs JAVA_HOME at a JDK 22 or later (see jdk.sh). make bench-java runs it.
set -eu
cd "$(dirname "$0")"
: "${JAVA_HOME:?set JAVA_HOME to a JDK 22 or later (see jdk.sh)}"
version=$(sed -n 's|^  <version>\(.*\)</version>|\1|p' pom.xml)
out=target/bench
mkdir -p "$out"
mvn -B -q dependency:copy -Dartifact=org.xerial:sqlite-jdbc:3.54.1.0 -DoutputDirectory="$out"
(cd ../kotlin && mvn -B -q dependency:build-classpath -Dmdep.outputFile=target/runtime-classpath.txt -Dmdep.includeScope=runtime)
cp="../../dist/keyhouse-java-$version.jar:../../dist/keyhouse-$version.jar:$(cat ../kotlin/target/runtime-classpath.txt):$out/sqlite-jdbc-3.54.1.0.jar"
"$JAVA_HOME/bin/javac" -cp "$cp" -d "$out" bench/Bench.java
exec "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -cp "$cp:$out" Bench
