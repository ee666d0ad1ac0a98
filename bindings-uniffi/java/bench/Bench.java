import dev.keyhouse.java.CreateOptions;
import dev.keyhouse.java.CreatedKey;
import dev.keyhouse.java.Keyhouse;
import dev.keyhouse.java.KeyhouseLib;
import dev.keyhouse.java.KeyhouseLibrary;
import dev.keyhouse.java.Outcome;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Per-call costs on the JVM, side by side in one process, against the release
 * library: Java over FFM, Kotlin over JNA, and a JDBC floor (sqlite-jdbc: a
 * prepared SELECT by id, SHA-256 and MessageDigest.isEqual), each on its own
 * 10k-key WAL file (the two bindings load two copies of the library, each
 * with its own SQLite, which must not share a file). Verifies go round all
 * 10k keys. Keyhouse answers them from its verify cache, which every verify
 * checks for freshness against the file; the floor reads SQLite each time,
 * as a hand-written check does. Each figure is the median of ROUNDS rounds
 * of about a second each, the three alternating, after a warm-up. Run by
 * bindings-uniffi/java/bench.sh.
 */
public final class Bench {
    static final int KEYS = 10_000;
    static final int ROUNDS = 5;
    /** One call to measure. */
    interface Op {
        long run() throws Exception;
    }

    static long call(Op op) {
        try {
            return op.run();
        } catch (Exception e) {
            throw new RuntimeException(e);
        }
    }

    /** Nanoseconds per call of {@code op}, median over rounds of ~{@code millis} ms. */
    static double[] measure(long millis, Op... ops) {
        double[][] perRound = new double[ops.length][ROUNDS];
        for (Op op : ops) {
            long end = System.nanoTime() + 2 * millis * 1_000_000L;
            while (System.nanoTime() < end) {
                call(op);
            }
        }
        for (int r = 0; r < ROUNDS; r++) {
            for (int i = 0; i < ops.length; i++) {
                long n = 0;
                long start = System.nanoTime();
                long end = start + millis * 1_000_000L;
                long now;
                do {
                    for (int k = 0; k < 16; k++) {
                        call(ops[i]);
                    }
                    n += 16;
                    now = System.nanoTime();
                } while (now < end);
                perRound[i][r] = (double) (now - start) / n;
            }
        }
        double[] medians = new double[ops.length];
        for (int i = 0; i < ops.length; i++) {
            Arrays.sort(perRound[i]);
            medians[i] = perRound[i][ROUNDS / 2];
        }
        return medians;
    }

    /** The sorted latencies, in nanoseconds, of {@code n} single calls (after as many to warm up). */
    static long[] latencies(Op op, int n) {
        for (int i = 0; i < n; i++) {
            call(op);
        }
        long[] out = new long[n];
        for (int i = 0; i < n; i++) {
            long start = System.nanoTime();
            call(op);
            out[i] = System.nanoTime() - start;
        }
        Arrays.sort(out);
        return out;
    }

    static String us(double ns) {
        return String.format("%.2f µs", ns / 1000);
    }

    public static void main(String[] args) throws Exception {
        KeyhouseLibrary.load();
        Path dir = Files.createTempDirectory("keyhouse-bench");
        String db = dir.resolve("java.db").toString();
        String kotlinDb = dir.resolve("kotlin.db").toString();
        String floorDb = dir.resolve("floor.db").toString();
        List<String> keys = new ArrayList<>();
        List<CreateOptions> batch = new ArrayList<>();
        List<dev.keyhouse.CreateOptions> kotlinBatch = new ArrayList<>();
        for (int i = 0; i < KEYS; i++) {
            batch.add(new CreateOptions("bench", null, null, null, null, null, null, null, null, null));
            kotlinBatch.add(new dev.keyhouse.CreateOptions("bench", null, null, null, null, null, null, null, null, null));
        }
        try (Keyhouse kh = Keyhouse.open(db, null)) {
            for (CreatedKey c : kh.createMany(batch)) {
                keys.add(c.key());
                c.close();
            }
        }
        List<String> kotlinKeys = new ArrayList<>();
        try (dev.keyhouse.Keyhouse kh = dev.keyhouse.Keyhouse.Companion.open(kotlinDb, null)) {
            for (dev.keyhouse.CreatedKey c : kh.createMany(kotlinBatch)) {
                kotlinKeys.add(c.key());
                c.close();
            }
        }
        // The floor's own table: the same keys, id and SHA-256 digest.
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + floorDb); Statement s = c.createStatement()) {
            s.execute("PRAGMA journal_mode=WAL");
            s.execute("CREATE TABLE keys (id TEXT PRIMARY KEY, digest BLOB NOT NULL)");
            c.setAutoCommit(false);
            try (PreparedStatement insert = c.prepareStatement("INSERT INTO keys VALUES (?, ?)")) {
                for (String key : keys) {
                    insert.setString(1, KeyhouseLib.parse(key).id());
                    insert.setBytes(2, MessageDigest.getInstance("SHA-256").digest(key.getBytes(StandardCharsets.UTF_8)));
                    insert.addBatch();
                }
                insert.executeBatch();
            }
            c.commit();
        }
        String key = keys.get(KEYS / 2);
        String id = KeyhouseLib.parse(key).id();
        List<String> none = List.of();

        try (Keyhouse java = Keyhouse.open(db, null);
                dev.keyhouse.Keyhouse kotlin = dev.keyhouse.Keyhouse.Companion.open(kotlinDb, null);
                Connection jdbc = DriverManager.getConnection("jdbc:sqlite:" + floorDb);
                PreparedStatement select = jdbc.prepareStatement("SELECT digest FROM keys WHERE id = ?")) {
            if (java.verify(key, none, 1).outcome() != Outcome.VALID
                    || kotlin.verify(kotlinKeys.get(0), none, 1).getOutcome() != dev.keyhouse.Outcome.VALID) {
                throw new AssertionError("the key does not verify");
            }
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            // What a hand-written check does: split the id off the key, look
            // it up, hash and compare in constant time.
            int[] next = new int[3];
            Op floor = () -> {
                String k = keys.get(next[2]++ % KEYS);
                String keyId = k.substring(k.indexOf('_') + 1, k.indexOf('_') + 15);
                select.setString(1, keyId);
                try (ResultSet rs = select.executeQuery()) {
                    if (!rs.next()) {
                        throw new AssertionError("no row");
                    }
                    return MessageDigest.isEqual(rs.getBytes(1), sha.digest(k.getBytes(StandardCharsets.UTF_8))) ? 1 : 0;
                }
            };
            Op javaVerify = () -> java.verify(keys.get(next[0]++ % KEYS), none, 1).outcome() == Outcome.VALID ? 1 : 0;
            Op kotlinVerify = () ->
                    kotlin.verify(kotlinKeys.get(next[1]++ % KEYS), none, 1).getOutcome() == dev.keyhouse.Outcome.VALID ? 1 : 0;
            double[] v = measure(1000, javaVerify, kotlinVerify, floor);
            System.out.printf("verify, valid keys in turn, %d-key WAL files (median of %d rounds):%n", KEYS, ROUNDS);
            System.out.printf("  Java/FFM %s, Kotlin/JNA %s, JDBC floor %s%n", us(v[0]), us(v[1]), us(v[2]));
            System.out.printf("  Java/FFM throughput / floor's: %.2fx; Kotlin/JNA time / Java/FFM's: %.1fx%n", v[2] / v[0], v[1] / v[0]);
            long[] javaCalls = latencies(javaVerify, 200_000);
            long[] floorCalls = latencies(floor, 200_000);
            System.out.printf("  per call, p50 / p99: Java/FFM %s / %s, JDBC floor %s / %s%n",
                    us(javaCalls[javaCalls.length / 2]), us(javaCalls[javaCalls.length * 99 / 100]),
                    us(floorCalls[floorCalls.length / 2]), us(floorCalls[floorCalls.length * 99 / 100]));

            double[] regex = measure(300, () -> KeyhouseLib.keyRegex().length(), () -> dev.keyhouse.KeyhouseKt.keyRegex().length());
            double[] parse = measure(300, () -> KeyhouseLib.parse(key).id().length(), () -> dev.keyhouse.KeyhouseKt.parse(key).getId().length());
            double[] generate = measure(300, () -> {
                try (var g = KeyhouseLib.generate("kh", 32, null)) {
                    return g.key().length();
                }
            }, () -> {
                try (var g = dev.keyhouse.KeyhouseKt.generate("kh", 32, null)) {
                    return g.key().length();
                }
            });
            String kotlinId = dev.keyhouse.KeyhouseKt.parse(kotlinKeys.get(0)).getId();
            double[] get = measure(300, () -> java.get(id).usageCount(), () -> kotlin.get(kotlinId).getUsageCount());
            System.out.println("per call, Java/FFM vs Kotlin/JNA:");
            System.out.printf("  keyRegex() %s vs %s%n", us(regex[0]), us(regex[1]));
            System.out.printf("  parse      %s vs %s%n", us(parse[0]), us(parse[1]));
            System.out.printf("  generate   %s vs %s%n", us(generate[0]), us(generate[1]));
            System.out.printf("  get        %s vs %s%n", us(get[0]), us(get[1]));
            java.closeStore();
            kotlin.closeStore();
        }
    }
}
