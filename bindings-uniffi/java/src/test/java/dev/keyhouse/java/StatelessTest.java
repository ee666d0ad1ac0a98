package dev.keyhouse.java;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** generate, parse, hashKey and verifyHash: keys without a store. */
class StatelessTest {
    private static Pepper pepper() throws KeyhouseException {
        byte[] secret = new byte[32];
        for (int i = 0; i < secret.length; i++) {
            secret[i] = (byte) i;
        }
        return new Pepper("p2026", secret);
    }

    @Test
    void generateMakesParseableKeysWithMatchingHashes() throws Exception {
        Pepper pepper = pepper();
        try (GeneratedKey g = KeyhouseLib.generate("kh", 32, null); GeneratedKey other = KeyhouseLib.generate("kh", 32, null);
                GeneratedKey peppered = KeyhouseLib.generate("acme_live", 16, pepper)) {
            assertTrue(g.key().startsWith("kh_"));
            assertEquals(new ParsedKey("kh", g.id()), KeyhouseLib.parse(g.key()));
            assertTrue(g.hash().startsWith("sha256$"));
            assertTrue(KeyhouseLib.verifyHash(g.key(), g.hash(), List.of()));
            assertNotEquals(g.key(), other.key());
            assertEquals("acme_live", peppered.prefix());
            assertTrue(peppered.hash().startsWith("hmac-sha256$p2026$"));
            assertTrue(KeyhouseLib.verifyHash(peppered.key(), peppered.hash(), List.of(pepper)));
            assertEquals(peppered.hash(), KeyhouseLib.hashKey(peppered.key(), pepper));
            assertFalse(KeyhouseLib.verifyHash(g.key(), peppered.hash(), List.of(pepper)));
        }
    }

    @Test
    void aHashWithAnUnknownPepperIsAnError() throws Exception {
        try (GeneratedKey g = KeyhouseLib.generate("kh", 32, pepper())) {
            var e = assertThrows(KeyhouseException.UnknownPepper.class, () -> KeyhouseLib.verifyHash(g.key(), g.hash(), List.of()));
            assertEquals("UNKNOWN_PEPPER", e.code());
        }
    }

    @Test
    void secretsNeverShowInToString() throws Exception {
        Pepper pepper = pepper();
        try (GeneratedKey g = KeyhouseLib.generate("kh", 32, null)) {
            assertFalse(g.toString().contains(g.key()), g.toString());
            assertTrue(g.toString().contains(g.id()));
        }
        assertTrue(pepper.toString().contains("<redacted>"), pepper.toString());
        assertFalse(pepper.toString().contains("[0, 1, 2"), pepper.toString());
        assertEquals("p2026", pepper.id());
        try (Keyhouse store = Keyhouse.open(":memory:", null)) {
            CreatedKey c = store.create(new CreateOptions(null, null, null, null, null, null, null, null, null, null));
            assertFalse(c.toString().contains(c.key()), c.toString());
            var e = assertThrows(KeyhouseException.InvalidArgument.class, () -> store.get(c.key()));
            assertFalse(e.toString().contains(c.key()), e.toString());
            assertFalse(e.toString().contains(c.key().substring(0, c.key().length() - 6)), e.toString());
        }
    }

    @Test
    void stableCodesMatchTheOtherLanguages() {
        assertEquals("INSUFFICIENT_PERMISSIONS", Outcome.INSUFFICIENT_PERMISSIONS.code());
        assertEquals(Arrays.stream(Outcome.values()).map(Enum::name).toList(),
                Arrays.stream(Outcome.values()).map(Outcome::code).toList());
        assertEquals("CHECKSUM_MISMATCH", MalformedReason.CHECKSUM_MISMATCH.code());
        assertEquals(Arrays.stream(MalformedReason.values()).map(Enum::name).toList(),
                Arrays.stream(MalformedReason.values()).map(MalformedReason::code).toList());
    }

    @Test
    void everyErrorClassHasItsCode() throws Exception {
        // Each exception class the generator made, built through its own
        // constructor: code() knows every one, with the core's code.
        List<String> codes = new java.util.ArrayList<>();
        for (Class<?> c : KeyhouseException.class.getDeclaredClasses()) {
            if (!KeyhouseException.class.isAssignableFrom(c)) {
                continue;
            }
            var constructor = c.getConstructors()[0];
            Object[] args = constructor.getParameterCount() == 2
                    ? new Object[] {MalformedReason.EMPTY, "detail"}
                    : new Object[] {"detail"};
            codes.add(((KeyhouseException) constructor.newInstance(args)).code());
        }
        assertEquals(List.of("CLOSED", "INVALID_ARGUMENT", "KEY_LIMIT_EXCEEDED", "MALFORMED", "NOT_FOUND", "SCHEMA_TOO_NEW",
                "STORE_BUSY", "STORE_ERROR", "UNKNOWN_PEPPER"), codes.stream().sorted().toList());
    }

    @Test
    void errorsAreTypedAndCarryAMessage() {
        var e = assertThrows(KeyhouseException.Malformed.class, () -> KeyhouseLib.parse("kh_short"));
        assertEquals("MALFORMED", e.code());
        assertTrue(e.detail().startsWith("malformed key"), e.detail());
        assertTrue(e.getMessage().contains(e.detail()));
    }
}
