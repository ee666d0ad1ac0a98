package dev.keyhouse.java;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.json.JSONArray;
import org.json.JSONObject;

/** Paths and helpers shared by the test files. */
final class Support {
    private Support() {}

    /** The repository root: this project is {@code bindings-uniffi/java}. */
    static final Path ROOT = Paths.get("").toAbsolutePath().getParent().getParent();

    /** The keyhouse CLI built by Cargo (or {@code KEYHOUSE_CLI}). */
    static final String CLI = System.getenv().getOrDefault("KEYHOUSE_CLI", ROOT.resolve("target/debug/keyhouse").toString());

    /** One file of the cross-language conformance vectors. */
    static JSONObject vectors(String name) throws IOException {
        return new JSONObject(Files.readString(ROOT.resolve("tests/vectors/" + name)));
    }

    /** A fresh database path in a new temporary directory. */
    static String tempDb() throws IOException {
        return Files.createTempDirectory("keyhouse-java").resolve("keys.db").toString();
    }

    /** The PostgreSQL server the tests run against; unset fails loudly (make test sets it). */
    static String pgUrl() {
        String url = System.getenv("KEYHOUSE_TEST_PG");
        if (url == null || url.isEmpty()) {
            throw new IllegalStateException("KEYHOUSE_TEST_PG is not set: the PostgreSQL tests need a server "
                    + "(make test starts one; or export KEYHOUSE_TEST_PG=postgres://USER:PASSWORD@HOST/DB)");
        }
        return url;
    }

    /** A fresh PostgreSQL schema name; tests/postgres/start.sh drops old ones. */
    static String pgSchema() {
        return "java_" + ProcessHandle.current().pid() + "_" + UUID.randomUUID().toString().substring(0, 8);
    }

    /** Output and exit code of one CLI run. */
    record Run(int code, String stdout, String stderr) {}

    /** Runs the CLI on {@code db} with {@code args}, and {@code env} added to its environment. */
    static Run runCli(String db, Map<String, String> env, String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of(CLI, "--db", db));
        command.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(command);
        pb.environment().putAll(env);
        Process p = pb.start();
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            throw new IllegalStateException("the CLI did not finish");
        }
        return new Run(p.exitValue(), out, err);
    }

    /** This process's resident set size in KiB, from /proc (Linux). */
    static long rssKib() throws IOException {
        for (String line : Files.readAllLines(Paths.get("/proc/self/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.split("\\s+")[1]);
            }
        }
        throw new IllegalStateException("no VmRSS in /proc/self/status");
    }

    /** Whether {@code got} equals the JSON value {@code want} (numbers compared as integers). */
    static boolean sameJson(Object want, Object got) {
        if (want == null || want == JSONObject.NULL) {
            return got == null;
        }
        if (want instanceof JSONObject o) {
            return got instanceof JSONObject g && o.similar(g);
        }
        if (want instanceof JSONArray a) {
            return got instanceof List<?> l && a.similar(new JSONArray(l));
        }
        if (want instanceof Number n) {
            return got instanceof Number g && n.longValue() == g.longValue();
        }
        return want.equals(got);
    }

    /** Bytes from hex. */
    static byte[] hex(String s) {
        byte[] out = new byte[s.length() / 2];
        for (int i = 0; i < out.length; i++) {
            out[i] = (byte) Integer.parseInt(s.substring(2 * i, 2 * i + 2), 16);
        }
        return out;
    }
}
