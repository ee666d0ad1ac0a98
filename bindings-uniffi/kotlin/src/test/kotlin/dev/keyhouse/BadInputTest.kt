package dev.keyhouse

import java.time.Duration
import java.time.Instant
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows

/** Bad input gets an outcome or a typed error with a stable code, never a crash. */
class BadInputTest {
    private val store = Keyhouse.open(":memory:")
    private val good = store.create(CreateOptions(prefix = "acme")).key()

    private fun reasonOf(key: String): MalformedReason? {
        val r = store.verify(key)
        assertEquals(Outcome.MALFORMED, r.outcome, key.take(40))
        return r.malformedReason
    }

    private inline fun <reified E : KeyhouseException> fails(code: String, noinline call: () -> Unit) {
        val e = assertThrows<E>(call)
        assertEquals(code, e.code(), e.message)
    }

    @Test
    fun badKeysAreOutcomesOfVerifyAndErrorsOfParse() {
        assertEquals(MalformedReason.EMPTY, reasonOf(""))
        assertEquals(MalformedReason.TOO_LONG, reasonOf("kh_" + "a".repeat(10 * 1024)))
        val typo = good.dropLast(1) + (if (good.endsWith("A")) "B" else "A")
        assertEquals(MalformedReason.CHECKSUM_MISMATCH, reasonOf(typo))
        assertEquals(MalformedReason.INVALID_CHARACTER, reasonOf(good + "\u0000"))
        assertEquals(MalformedReason.INVALID_CHARACTER, reasonOf("kh_\uD83D\uDE00"))
        fails<KeyhouseException.Malformed>("MALFORMED") { parse("") }
        fails<KeyhouseException.Malformed>("MALFORMED") { parse("x".repeat(10 * 1024)) }
        fails<KeyhouseException.Malformed>("MALFORMED") { hashKey(typo) }
    }

    @Test
    fun anUnreachableOrRefusingPostgresServerIsStoreErrorWithoutThePassword() {
        val quick = Config(connectTimeout = Duration.ofMillis(500))
        val started = System.nanoTime()
        val e = assertThrows<KeyhouseException.StoreException> {
            Keyhouse.open("postgres://app:hunter2secret@127.0.0.1:1/db?sslmode=disable", quick)
        }
        assertEquals("STORE_ERROR", e.code())
        assertTrue(Duration.ofNanos(System.nanoTime() - started) < Duration.ofSeconds(3))
        val wrong = Support.pgUrl().replace(Regex(":[^:@/]*@"), ":hunter2secret@")
        val refused = assertThrows<KeyhouseException.StoreException> { Keyhouse.open(wrong, quick) }
        for (err in listOf(e, refused)) {
            assertTrue(!err.toString().contains("hunter2secret"), err.toString())
        }
        assertTrue(refused.message!!.contains("password authentication failed"), refused.message)
        fails<KeyhouseException.InvalidArgument>("INVALID_ARGUMENT") { Keyhouse.open(Support.pgUrl(), Config(schema = "Bad-Name")) }
    }

    @Test
    fun aKeyOfAnotherPrefixIsNotFound() {
        val other = generate("other").key()
        assertEquals(Outcome.NOT_FOUND, store.verify(other).outcome)
        // The same id and secret under another prefix is another key.
        val moved = testGenerateFromBytes("acmf", ByteArray(42) { 7 }, 32)
        assertEquals(Outcome.NOT_FOUND, store.verify(moved.key()).outcome)
    }

    @Test
    fun negativeDurationsAreInvalidArguments() {
        val minus = Duration.ofSeconds(-1)
        fails<KeyhouseException.InvalidArgument>("INVALID_ARGUMENT") { store.create(CreateOptions(expiresIn = minus)) }
        fails<KeyhouseException.InvalidArgument>("INVALID_ARGUMENT") { store.create(CreateOptions(rateLimit = RateLimit(1, minus))) }
        fails<KeyhouseException.InvalidArgument>("INVALID_ARGUMENT") { store.create(CreateOptions(remaining = 1, refill = Refill(1, minus))) }
        fails<KeyhouseException.InvalidArgument>("INVALID_ARGUMENT") { store.roll(parse(good).id, minus) }
        fails<KeyhouseException.InvalidArgument>("INVALID_ARGUMENT") { Keyhouse.open(":memory:", Config(busyTimeout = minus)) }
        // Beyond what milliseconds hold: saturated, then refused as out of range by the core.
        fails<KeyhouseException.InvalidArgument>("INVALID_ARGUMENT") { store.create(CreateOptions(expiresIn = Duration.ofSeconds(Long.MIN_VALUE))) }
    }

    @Test
    fun outOfRangeValuesAreInvalidArguments() {
        fails<KeyhouseException.InvalidArgument>("INVALID_ARGUMENT") { store.verify(good, listOf(), -1) }
        fails<KeyhouseException.InvalidArgument>("INVALID_ARGUMENT") { store.verify(good, listOf(), 1L shl 40) }
        fails<KeyhouseException.InvalidArgument>("INVALID_ARGUMENT") { store.verify(good, listOf("")) }
        fails<KeyhouseException.InvalidArgument>("INVALID_ARGUMENT") { store.list(ListOptions(limit = -5)) }
        fails<KeyhouseException.InvalidArgument>("INVALID_ARGUMENT") { store.list(ListOptions(limit = 0)) }
        fails<KeyhouseException.InvalidArgument>("INVALID_ARGUMENT") { store.list(ListOptions(cursor = "not a cursor")) }
        fails<KeyhouseException.InvalidArgument>("INVALID_ARGUMENT") { store.create(CreateOptions(rateLimit = RateLimit(-1, Duration.ofSeconds(1)))) }
        fails<KeyhouseException.InvalidArgument>("INVALID_ARGUMENT") { store.create(CreateOptions(prefix = "Bad Prefix")) }
        fails<KeyhouseException.InvalidArgument>("INVALID_ARGUMENT") { store.create(CreateOptions(expiresAt = Instant.parse("2001-01-01T00:00:00Z"))) }
        fails<KeyhouseException.InvalidArgument>("INVALID_ARGUMENT") { store.create(CreateOptions(expiresAt = Instant.MIN)) }
        fails<KeyhouseException.InvalidArgument>("INVALID_ARGUMENT") { generate(secretBytes = -1) }
        fails<KeyhouseException.InvalidArgument>("INVALID_ARGUMENT") { generate(secretBytes = 1L shl 40) }
        fails<KeyhouseException.InvalidArgument>("INVALID_ARGUMENT") { generate("") }
        fails<KeyhouseException.InvalidArgument>("INVALID_ARGUMENT") { Pepper("p", ByteArray(3)) }
        fails<KeyhouseException.InvalidArgument>("INVALID_ARGUMENT") { Keyhouse.open(":memory:", Config(secretBytes = 8)) }
        fails<KeyhouseException.InvalidArgument>("INVALID_ARGUMENT") { Keyhouse.open(":memory:", Config(maxKeysPerOwner = -1)) }
        fails<KeyhouseException.InvalidArgument>("INVALID_ARGUMENT") { verifyHash(good, "md5\$abc") }
    }

    @Test
    fun metadataMustBeAJsonObject() {
        for (bad in listOf("", "[]", "1", "null", "{", "{\"a\":}", "\"text\"")) {
            fails<KeyhouseException.InvalidArgument>("INVALID_ARGUMENT") { store.create(CreateOptions(metadata = bad)) }
        }
        val id = parse(good).id
        fails<KeyhouseException.InvalidArgument>("INVALID_ARGUMENT") { store.update(id, UpdateOptions(metadata = "[1]")) }
        assertEquals("{}", store.get(id).metadata)
    }

    @Test
    fun badIdsAreInvalidUnknownIdsNotFoundAndNothingIsWritten() {
        for (id in listOf("", "nope", "a".repeat(10 * 1024))) {
            fails<KeyhouseException.InvalidArgument>("INVALID_ARGUMENT") { store.get(id) }
            fails<KeyhouseException.InvalidArgument>("INVALID_ARGUMENT") { store.revoke(id) }
            fails<KeyhouseException.InvalidArgument>("INVALID_ARGUMENT") { store.update(id, UpdateOptions(name = "x")) }
        }
        fails<KeyhouseException.NotFound>("NOT_FOUND") { store.get("00000000000000") }
        fails<KeyhouseException.NotFound>("NOT_FOUND") { store.revoke("00000000000000") }
        fails<KeyhouseException.NotFound>("NOT_FOUND") { store.update("00000000000000", UpdateOptions(name = "x")) }
        assertEquals(1, store.list(ListOptions(includeRevoked = true)).keys.size)
        assertTrue(store.verify(good).isValid())
    }
}
