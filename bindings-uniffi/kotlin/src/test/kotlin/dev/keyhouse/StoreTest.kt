package dev.keyhouse

import java.time.Duration
import java.time.Instant
import java.util.concurrent.Executors
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicInteger
import org.json.JSONObject
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows

/** The whole Keyhouse object. */
class StoreTest {
    private fun open() = Keyhouse.open(":memory:")

    @Test
    fun createReturnsTheKeyOnceWithEveryOption() = open().use { store ->
        val c = store.create(
            CreateOptions(
                ownerId = "team-1", name = "deploy", prefix = "acme_live", expiresIn = Duration.ofDays(1),
                permissions = listOf("files:*"), metadata = """{"plan":"pro","seats":5,"tags":["a"],"nested":{"x":null}}""",
                remaining = 10, refill = Refill(10, Duration.ofHours(1)), rateLimit = RateLimit(100, Duration.ofMinutes(1)),
            ),
        )
        assertTrue(c.key().startsWith("acme_live_"))
        assertFalse(c.toString().contains(c.key()), c.toString())
        val info = c.info()
        assertEquals("team-1", info.ownerId)
        assertTrue(JSONObject("""{"plan":"pro","seats":5,"tags":["a"],"nested":{"x":null}}""").similar(JSONObject(info.metadata)))
        assertEquals(Duration.ofDays(1), Duration.between(info.createdAt, info.expiresAt))
        assertEquals(Refill(10, Duration.ofHours(1)), info.refill)
        assertEquals(RateLimit(100, Duration.ofMinutes(1)), info.rateLimit)
        assertEquals(info, store.get(info.id))
        assertFalse(info.toString().contains(c.key()))
    }

    @Test
    fun verifyGivesEveryOutcome() = open().use { store ->
        val c = store.create(CreateOptions(permissions = listOf("files:read"), remaining = 2))
        val r = store.verify(c.key(), listOf("files:read"))
        assertEquals(Outcome.VALID, r.outcome)
        assertTrue(r.isValid())
        assertEquals(1L, r.key?.remaining)
        assertEquals(0L, store.verify(c.key(), listOf("files:read"), 1).key?.remaining)
        assertEquals(Outcome.USAGE_EXCEEDED, store.verify(c.key()).outcome)
        assertEquals(Outcome.INSUFFICIENT_PERMISSIONS, store.verify(c.key(), listOf("files:write")).outcome)
        val typo = c.key().dropLast(1) + (if (c.key().endsWith("A")) "B" else "A")
        val malformed = store.verify(typo)
        assertEquals(Outcome.MALFORMED, malformed.outcome)
        assertEquals(MalformedReason.CHECKSUM_MISMATCH, malformed.malformedReason)
        assertNull(malformed.key)
        assertEquals(Outcome.NOT_FOUND, store.verify(generate().key()).outcome)
        store.update(c.info().id, UpdateOptions(enabled = false, clearRemaining = true))
        assertEquals(Outcome.DISABLED, store.verify(c.key()).outcome)
        store.revoke(c.info().id)
        val revoked = store.verify(c.key())
        assertEquals(Outcome.REVOKED, revoked.outcome)
        assertNotNull(revoked.key?.revokedAt)
    }

    @Test
    fun rateLimitsAndExpiryUseJavaTime() {
        val clock = TestClock(Instant.parse("2027-01-01T00:00:00Z"))
        testOpenWithClock(":memory:", clock).use { store ->
            val c = store.create(CreateOptions(rateLimit = RateLimit(1, Duration.ofSeconds(30)), expiresIn = Duration.ofHours(1)))
            assertEquals(0L, store.verify(c.key()).rateLimit?.remaining)
            val r = store.verify(c.key())
            assertEquals(Outcome.RATE_LIMITED, r.outcome)
            assertEquals(Duration.ofSeconds(30), r.retryAfter)
            assertEquals(Instant.parse("2027-01-01T00:00:30Z"), r.rateLimit?.resetAt)
            clock.advance(Duration.ofHours(1))
            assertEquals(Outcome.EXPIRED, store.verify(c.key()).outcome)
            assertEquals(1L, store.purgeExpired())
            assertThrows<KeyhouseException.NotFound> { store.get(c.info().id) }
        }
    }

    @Test
    fun listPaginatesAndFilters() = open().use { store ->
        val ids = (0 until 7).map { store.create(CreateOptions(ownerId = if (it % 2 == 1) "a" else "b")).info().id }
        val seen = mutableListOf<String>()
        var cursor: String? = null
        do {
            val page = store.list(ListOptions(limit = 3, cursor = cursor))
            assertTrue(page.keys.size <= 3)
            seen += page.keys.map { it.id }
            cursor = page.nextCursor
        } while (cursor != null)
        assertEquals(ids.sorted(), seen.sorted())
        assertTrue(store.list(ListOptions(ownerId = "a")).keys.all { it.ownerId == "a" })
        store.revoke(ids[0])
        assertFalse(store.list().keys.any { it.id == ids[0] })
        assertTrue(store.list(ListOptions(includeRevoked = true)).keys.any { it.id == ids[0] })
    }

    @Test
    fun updateSetsAndClears() = open().use { store ->
        val id = store.create(CreateOptions(name = "a", remaining = 5, expiresIn = Duration.ofDays(1))).info().id
        val changed = store.update(id, UpdateOptions(name = "b", permissions = listOf("x:y"), metadata = """{"k":1}""", rateLimit = RateLimit(5, Duration.ofSeconds(1))))
        assertEquals("b", changed.name)
        assertEquals(listOf("x:y"), changed.permissions)
        assertEquals("""{"k":1}""", changed.metadata)
        assertEquals(5L, changed.rateLimit?.limit)
        val cleared = store.update(id, UpdateOptions(clearName = true, clearExpiresAt = true, clearRemaining = true, clearRateLimit = true))
        assertNull(cleared.name)
        assertNull(cleared.expiresAt)
        assertNull(cleared.remaining)
        assertNull(cleared.rateLimit)
        val e = assertThrows<KeyhouseException.InvalidArgument> { store.update(id, UpdateOptions(name = "c", clearName = true)) }
        assertEquals("INVALID_ARGUMENT", e.code())
    }

    @Test
    fun rollKeepsTheOldKeyForTheGracePeriod() = open().use { store ->
        val old = store.create(CreateOptions(permissions = listOf("a:b")))
        val new = store.roll(old.info().id, Duration.ofMinutes(5))
        assertEquals(listOf("a:b"), new.info().permissions)
        assertTrue(store.verify(new.key()).isValid())
        assertTrue(store.verify(old.key()).isValid())
        assertNotNull(store.get(old.info().id).expiresAt)
        val immediate = store.roll(new.info().id)
        assertEquals(Outcome.EXPIRED, store.verify(new.key()).outcome)
        assertTrue(store.verify(immediate.key()).isValid())
    }

    @Test
    fun createManyIsAllOrNothing() {
        Keyhouse.open(":memory:", Config(maxKeysPerOwner = 2)).use { store ->
            assertEquals(2, store.createMany(listOf(CreateOptions(ownerId = "o"), CreateOptions(ownerId = "p"))).size)
            val e = assertThrows<KeyhouseException.KeyLimitExceeded> {
                store.createMany(listOf(CreateOptions(ownerId = "q"), CreateOptions(ownerId = "o"), CreateOptions(ownerId = "o")))
            }
            assertEquals("KEY_LIMIT_EXCEEDED", e.code())
            assertEquals(2, store.list().keys.size)
        }
    }

    @Test
    fun deleteAndCloseStore() {
        val path = Support.tempDb()
        val store = Keyhouse.open(path)
        val c = store.create()
        assertTrue(store.verify(c.key()).isValid())
        store.flush()
        assertEquals(1L, store.get(c.info().id).usageCount)
        store.delete(c.info().id)
        assertEquals(Outcome.NOT_FOUND, store.verify(c.key()).outcome)
        assertThrows<KeyhouseException.NotFound> { store.delete(c.info().id) }
        store.closeStore()
        assertEquals("CLOSED", assertThrows<KeyhouseException.Closed> { store.create() }.code())
        store.close()
        // AutoCloseable.close() frees the object; later calls fail in Kotlin, not in Rust.
        assertThrows<IllegalStateException> { store.create() }
    }

    @Test
    fun peppersRotate() {
        val path = Support.tempDb()
        val old = Pepper("old", ByteArray(32) { 1 })
        val new = Pepper("new", ByteArray(32) { 2 })
        val key = Keyhouse.open(path, Config(pepper = old)).use { it.create().key() }
        Keyhouse.open(path, Config(pepper = new, previousPeppers = listOf(old))).use {
            assertTrue(it.verify(key).isValid())
        }
        Keyhouse.open(path, Config(pepper = new)).use { assertTrue(it.verify(key).isValid()) }
    }

    @Test
    fun rehashOnVerifyCanBeTurnedOff() {
        val path = Support.tempDb()
        val old = Pepper("old", ByteArray(32) { 1 })
        val new = Pepper("new", ByteArray(32) { 2 })
        val key = Keyhouse.open(path, Config(pepper = old)).use { it.create().key() }
        val rotating = { rehash: Boolean -> Config(pepper = new, previousPeppers = listOf(old), rehashOnVerify = rehash) }
        Keyhouse.open(path, rotating(false)).use { assertTrue(it.verify(key).isValid()) }
        // Still hashed with the old pepper: a store that knows only it accepts the key.
        Keyhouse.open(path, Config(pepper = old)).use { assertTrue(it.verify(key).isValid()) }
        Keyhouse.open(path, rotating(true)).use { assertTrue(it.verify(key).isValid()) }
        Keyhouse.open(path, Config(pepper = old)).use { assertEquals(Outcome.NOT_FOUND, it.verify(key).outcome) }
    }

    @Test
    fun leaseSizeLeasesCreditsAndGivesThemBackOnClose() {
        val path = Support.tempDb()
        Keyhouse.open(path).use { admin ->
            val c = admin.create(CreateOptions(remaining = 100))
            val leased = Keyhouse.open(path, Config(leaseSize = 10, leaseIdle = Duration.ofSeconds(30)))
            assertEquals(99L, leased.verify(c.key()).key?.remaining)
            // Nine more are leased out of the store, and spent from memory.
            assertEquals(90L, admin.get(c.info().id).remaining)
            for (n in 98L downTo 90L) assertEquals(n, leased.verify(c.key()).key?.remaining)
            assertEquals(89L, leased.verify(c.key()).key?.remaining)
            leased.closeStore()
            leased.close()
            assertEquals(89L, admin.get(c.info().id).remaining)
        }
        assertThrows<KeyhouseException.InvalidArgument> { Keyhouse.open(":memory:", Config(leaseSize = 0)) }
    }

    @Test
    fun oneStoreServesManyThreads() {
        val path = Support.tempDb()
        Keyhouse.open(path).use { store ->
            val key = store.create(CreateOptions(remaining = 400)).key()
            val valid = AtomicInteger()
            val pool = Executors.newFixedThreadPool(8)
            repeat(8) {
                pool.submit {
                    repeat(60) { if (store.verify(key).isValid()) valid.incrementAndGet() }
                    repeat(5) { store.create() }
                }
            }
            pool.shutdown()
            assertTrue(pool.awaitTermination(60, TimeUnit.SECONDS))
            assertEquals(400, valid.get())
            assertEquals(Outcome.USAGE_EXCEEDED, store.verify(key).outcome)
            assertEquals(41, store.list().keys.size)
        }
    }
}
