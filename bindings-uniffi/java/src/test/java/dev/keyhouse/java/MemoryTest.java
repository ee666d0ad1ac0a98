package dev.keyhouse.java;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.management.ManagementFactory;
import javax.management.ObjectName;
import org.junit.jupiter.api.Test;

/**
 * Objects are freed: 100,000 create/verify calls leave the resident set
 * where it was, and threads that come and go leave no native memory behind.
 * The surefire fork runs with -Xmx128m, so the JVM heap cannot grow to hide
 * native memory (and is touched in full at start); every CreatedKey is left
 * to the cleaner, as most callers would leave it. Each key is deleted again,
 * so the database and SQLite's page cache stay the same size.
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

    /**
     * The native memory in the "Other" category of the JVM's Native Memory
     * Tracking, in KiB (the surefire fork runs with
     * -XX:NativeMemoryTracking=summary): where FFM arenas allocate, beside
     * direct buffers and other Unsafe allocations. Unlike RSS, it moves only
     * when those do. NMT leaves the line out while the category is empty.
     */
    private static long otherNativeKib() throws Exception {
        String summary = (String) ManagementFactory.getPlatformMBeanServer().invoke(
                new ObjectName("com.sun.management:type=DiagnosticCommand"), "vmNativeMemory",
                new Object[] {new String[] {"summary"}}, new String[] {String[].class.getName()});
        if (!summary.contains("Native Memory Tracking")) {
            throw new AssertionError("Native Memory Tracking is off:\n" + summary);
        }
        for (String line : summary.split("\n")) {
            if (line.contains("Other (reserved=")) {
                return Long.parseLong(line.replaceAll(".*committed=(\\d+)KB.*", "$1"));
            }
        }
        return 0;
    }

    /**
     * {@link #otherNativeKib} a little after a collection: the arenas of dead
     * threads are freed by the GC's cleaner, some time after it.
     */
    private static long otherNativeKibAfterGc() throws Exception {
        System.gc();
        Thread.sleep(50);
        return otherNativeKib();
    }

    /** {@link #otherNativeKibAfterGc} once it is within {@code bound} KiB of {@code start}, or after 10 s. */
    private static long settledNativeKib(long start, long bound) throws Exception {
        long now = otherNativeKib();
        for (long deadline = System.nanoTime() + 10_000_000_000L; now - start >= bound && System.nanoTime() < deadline; ) {
            now = otherNativeKibAfterGc();
        }
        return now;
    }

    private static void callOnNewThreads(int n) throws Exception {
        for (int i = 0; i < n; i++) {
            Thread t = Thread.ofVirtual().start(() -> {
                if (KeyhouseLib.keyRegex().isEmpty()) {
                    throw new AssertionError("no regex");
                }
            });
            t.join();
        }
    }

    @Test
    void threadsThatComeAndGoLeaveNoNativeMemoryBehind() throws Exception {
        // A server that runs each request on a virtual thread of its own. Each
        // thread's call status was allocated from Arena.global() and never
        // freed: 32 bytes per thread, 625 KiB for these 20,000.
        callOnNewThreads(1_000);
        // The baseline: the least of a few readings after collections.
        long start = otherNativeKib();
        for (int i = 0; i < 5; i++) {
            start = Math.min(start, otherNativeKibAfterGc());
        }
        callOnNewThreads(20_000);
        long end = settledNativeKib(start, 128);
        System.out.println("MemoryTest (Java): FFM native memory " + start + " KiB, after 20000 threads " + end + " KiB");
        assertTrue(end - start < 128, "native memory grew from " + start + " KiB to " + end + " KiB");
    }
}
