package dev.keyhouse.java;

import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * Objects are freed: 100,000 create/verify calls leave the resident set
 * where it was. The surefire fork runs with -Xmx128m, so the JVM heap cannot
 * grow to hide native memory (and is touched in full at start); every
 * CreatedKey is left to the cleaner, as most callers would leave it. Each key
 * is deleted again, so the database and SQLite's page cache stay the same size.
 */
class MemoryTest {
    private static final CreateOptions NONE = new CreateOptions(null, null, null, null, null, null, null, null, null, null);

    private static void loop(Keyhouse store, int n) throws KeyhouseException {
        for (int i = 0; i < n; i++) {
            CreatedKey c = store.create(NONE);
            if (!store.verify(c.key(), java.util.List.of(), 1).isValid()) {
                throw new AssertionError("not VALID");
            }
            store.delete(c.info().id());
        }
    }

    @Test
    void aLoopOfCreateAndVerifyKeepsMemoryFlat() throws Exception {
        Config config = new Config("kh", 32, null, java.util.List.of(), java.util.List.of(), null, null, null, null,
                new TimeSpan(1000L), null, null, null, null, null, null, null, null, null, null, null);
        try (Keyhouse store = Keyhouse.open(Support.tempDb(), config)) {
            // Warm up: the JIT and SQLite's page cache reach their working size.
            loop(store, 25_000);
            System.gc();
            long start = Support.rssKib();
            loop(store, 100_000);
            System.gc();
            long end = Support.rssKib();
            System.out.println("MemoryTest (Java): RSS at start " + start + " KiB, after 100000 create/verify " + end
                    + " KiB (" + (end - start) + " KiB)");
            // A leaked CreatedKey holds its key and KeyInfo, ~400 bytes:
            // 100,000 of them would add ~40 MB. The same bound as Kotlin's.
            assertTrue(end - start < 24 * 1024, "RSS grew from " + start + " KiB to " + end + " KiB");
        }
    }
}
