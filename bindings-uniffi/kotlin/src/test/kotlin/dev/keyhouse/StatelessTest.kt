package dev.keyhouse

import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows

/** generate, parse, hashKey and verifyHash: keys without a store. */
class StatelessTest {
    private val pepper = Pepper("p2026", ByteArray(32) { it.toByte() })

    @Test
    fun generateMakesParseableKeysWithMatchingHashes() {
        val g = generate()
        assertTrue(g.key().startsWith("kh_"))
        assertEquals(ParsedKey("kh", g.id()), parse(g.key()))
        assertTrue(g.hash().startsWith("sha256$"))
        assertTrue(verifyHash(g.key(), g.hash()))
        assertNotEquals(g.key(), generate().key())

        val peppered = generate("acme_live", 16, pepper)
        assertEquals("acme_live", peppered.prefix())
        assertTrue(peppered.hash().startsWith("hmac-sha256\$p2026$"))
        assertTrue(verifyHash(peppered.key(), peppered.hash(), listOf(pepper)))
        assertEquals(peppered.hash(), hashKey(peppered.key(), pepper))
        assertFalse(verifyHash(g.key(), peppered.hash(), listOf(pepper)))
    }

    @Test
    fun aHashWithAnUnknownPepperIsAnError() {
        val g = generate(pepper = pepper)
        val e = assertThrows<KeyhouseException.UnknownPepper> { verifyHash(g.key(), g.hash()) }
        assertEquals("UNKNOWN_PEPPER", e.code())
    }

    @Test
    fun secretsNeverShowInToString() {
        val g = generate()
        assertFalse(g.toString().contains(g.key()), g.toString())
        assertTrue(g.toString().contains(g.id()))
        assertTrue(pepper.toString().contains("<redacted>"), pepper.toString())
        assertFalse(pepper.toString().contains("[0, 1, 2"), pepper.toString())
        assertEquals("p2026", pepper.id())
    }

    @Test
    fun stableCodesMatchTheOtherLanguages() {
        assertEquals("INSUFFICIENT_PERMISSIONS", Outcome.INSUFFICIENT_PERMISSIONS.code())
        assertEquals(Outcome.entries.map { it.name }, Outcome.entries.map { it.code() })
        assertEquals("CHECKSUM_MISMATCH", MalformedReason.CHECKSUM_MISMATCH.code())
        assertEquals(MalformedReason.entries.map { it.name }, MalformedReason.entries.map { it.code() })
    }

    @Test
    fun errorsAreTypedAndCarryAMessage() {
        val e = assertThrows<KeyhouseException.Malformed> { parse("kh_short") }
        assertTrue(e is KeyhouseException)
        assertEquals("MALFORMED", e.code())
        assertTrue(e.detail.startsWith("malformed key"), e.detail)
        assertTrue(e.message!!.contains(e.detail))
    }
}
