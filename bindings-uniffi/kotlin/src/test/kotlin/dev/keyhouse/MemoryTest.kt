package dev.keyhouse

import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test

/**
 * Objects are freed: 100,000 create/verify calls leave the resident set
 * where it was. The surefire fork runs with -Xmx128m, so the JVM heap cannot
 * grow to hide native memory (and is touched in full at start, so that its
 * own growth does not show either); every CreatedKey is left to the
 * cleaner, as most callers would leave it. Each key is deleted again, so the
 * database, and SQLite's page cache (up to 64 MiB for the writer), stays the
 * same size.
 */
class MemoryTest {
    @Test
    fun aLoopOfCreateAndVerifyKeepsMemoryFlat() {
        Keyhouse.open(Support.tempDb(), Config(usageFlushInterval = java.time.Duration.ofSeconds(1))).use { store ->
            fun loop(n: Int) = repeat(n) {
                val c = store.create()
                check(store.verify(c.key()).isValid())
                store.delete(c.info().id)
            }
            // Warm up: the JIT and SQLite's page cache reach their working
            // size (a deleted key leaves the verify cache at once).
            loop(25_000)
            System.gc()
            val start = Support.rssKib()
            loop(100_000)
            System.gc()
            val end = Support.rssKib()
            println("MemoryTest (Kotlin): RSS at start $start KiB, after 100000 create/verify $end KiB (${end - start} KiB)")
            // A leaked CreatedKey holds its key and KeyInfo, ~400 bytes:
            // 100,000 of them would add ~40 MB.
            assertTrue(end - start < 24 * 1024, "RSS grew from $start KiB to $end KiB")
        }
    }
}
