package dev.keyhouse.java;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/** Bad input gets an outcome or a typed error with a stable code, never a crash. */
class BadInputTest {
    private Keyhouse store;
    private String good;

    private static CreateOptions options(String prefix, TimeSpan expiresIn, String metadata, RateLimit rateLimit) {
        return new CreateOptions(null, null, prefix, expiresIn, null, null, metadata, null, null, rateLimit);
    }

    @BeforeEach
    void open() throws KeyhouseException {
        store = Keyhouse.open(":memory:", null);
        try (CreatedKey c = store.create(options("acme", null, null, null))) {
            good = c.key();
        }
    }

    @AfterEach
    void close() {
        store.close();
    }

    private MalformedReason reasonOf(String key) throws KeyhouseException {
        VerifyResult r = store.verify(key, List.of(), 1);
        assertEquals(Outcome.MALFORMED, r.outcome(), key.substring(0, Math.min(40, key.length())));
        return r.malformedReason();
    }

    private static <E extends KeyhouseException> void fails(Class<E> type, String code, Executable call) {
        E e = assertThrows(type, call);
        assertEquals(code, e.code(), e.getMessage());
    }

    @Test
    void badKeysAreOutcomesOfVerifyAndErrorsOfParse() throws Exception {
        assertEquals(MalformedReason.EMPTY, reasonOf(""));
        assertEquals(MalformedReason.TOO_LONG, reasonOf("kh_" + "a".repeat(10 * 1024)));
        String typo = good.substring(0, good.length() - 1) + (good.endsWith("A") ? "B" : "A");
        assertEquals(MalformedReason.CHECKSUM_MISMATCH, reasonOf(typo));
        assertEquals(MalformedReason.INVALID_CHARACTER, reasonOf(good + "\u0000"));
        assertEquals(MalformedReason.INVALID_CHARACTER, reasonOf("kh_\uD83D\uDE00"));
        // A lone surrogate has no UTF-8 form: the generated code refuses the
        // string before the call (a RuntimeException around the charset's
        // MalformedInputException, not a KeyhouseException), and the store
        // goes on working.
        RuntimeException lone = assertThrows(RuntimeException.class, () -> store.verify("kh_\uD83D", List.of(), 1));
        assertTrue(lone.getCause() instanceof java.nio.charset.CharacterCodingException, String.valueOf(lone.getCause()));
        assertTrue(store.verify(good, List.of(), 1).isValid());
        fails(KeyhouseException.Malformed.class, "MALFORMED", () -> KeyhouseLib.parse(""));
        fails(KeyhouseException.Malformed.class, "MALFORMED", () -> KeyhouseLib.parse("x".repeat(10 * 1024)));
        fails(KeyhouseException.Malformed.class, "MALFORMED", () -> KeyhouseLib.hashKey(typo, null));
    }

    @Test
    void outOfRangeValuesAreInvalidArguments() {
        String invalid = "INVALID_ARGUMENT";
        Class<KeyhouseException.InvalidArgument> type = KeyhouseException.InvalidArgument.class;
        fails(type, invalid, () -> store.verify(good, List.of(), -1));
        fails(type, invalid, () -> store.verify(good, List.of(), 1L << 40));
        fails(type, invalid, () -> store.verify(good, List.of(""), 1));
        fails(type, invalid, () -> store.list(new ListOptions(null, -5, null, false)));
        fails(type, invalid, () -> store.list(new ListOptions(null, 0, null, false)));
        fails(type, invalid, () -> store.list(new ListOptions(null, 10, "not a cursor", false)));
        fails(type, invalid, () -> store.create(options(null, new TimeSpan(-1000L), null, null)));
        fails(type, invalid, () -> store.create(options(null, new TimeSpan(Long.MIN_VALUE), null, null)));
        fails(type, invalid, () -> store.create(options(null, null, null, new RateLimit(-1, new TimeSpan(1000L)))));
        fails(type, invalid, () -> store.create(options("Bad Prefix", null, null, null)));
        fails(type, invalid, () -> KeyhouseLib.generate("kh", -1, null));
        fails(type, invalid, () -> KeyhouseLib.generate("kh", 1L << 40, null));
        fails(type, invalid, () -> KeyhouseLib.generate("", 32, null));
        fails(type, invalid, () -> new Pepper("p", new byte[3]));
        fails(type, invalid, () -> store.roll(KeyhouseLib.parse(good).id(), new TimeSpan(-1000L)));
        fails(type, invalid, () -> store.create(new CreateOptions(null, null, null, null, null, null, null, 1L,
                new Refill(1, new TimeSpan(-1000L)), null)));
        fails(type, invalid, () -> store.create(new CreateOptions(null, null, null, null, new Timestamp(978_307_200_000L), null,
                null, null, null, null)));
        fails(type, invalid, () -> store.create(new CreateOptions(null, null, null, null, new Timestamp(Long.MIN_VALUE), null,
                null, null, null, null)));
        fails(type, invalid, () -> Keyhouse.open(":memory:", new Config("kh", 8, null, List.of(), List.of(), null, null, null,
                null, null, null, null, null, null, null, null, null, null, null, null, null)));
        fails(type, invalid, () -> Keyhouse.open(":memory:", new Config("kh", 32, null, List.of(), List.of(), null, null, null,
                -1L, null, null, null, null, null, null, null, null, null, null, null, null)));
        fails(type, invalid, () -> Keyhouse.open(":memory:", new Config("kh", 32, null, List.of(), List.of(), null, null, null,
                null, null, new TimeSpan(-1000L), null, null, null, null, null, null, null, null, null, null)));
        fails(type, invalid, () -> KeyhouseLib.verifyHash(good, "md5$abc", List.of()));
        // java.time values beyond milliseconds since 1970 reach the core as
        // the end of that range, which it refuses like any time past 9999.
        fails(type, invalid, () -> store.create(options(null, TimeSpan.of(java.time.Duration.ofSeconds(Long.MAX_VALUE)), null, null)));
        fails(type, invalid, () -> store.create(options(null, TimeSpan.of(java.time.Duration.ofSeconds(Long.MIN_VALUE)), null, null)));
        fails(type, invalid, () -> store.create(options(null, TimeSpan.of(java.time.Duration.ofDays(1).negated()), null, null)));
        fails(type, invalid, () -> store.create(new CreateOptions(null, null, null, null, Timestamp.of(java.time.Instant.MAX), null,
                null, null, null, null)));
        fails(type, invalid, () -> store.create(new CreateOptions(null, null, null, null, Timestamp.of(java.time.Instant.MIN), null,
                null, null, null, null)));
    }

    @Test
    void anUnreachableOrRefusingPostgresServerIsStoreErrorWithoutThePassword() {
        Config quick = new Config("kh", 32, null, List.of(), List.of(), null, null, null, null, null, null, null, null,
                new TimeSpan(500L), null, null, null, null, null, null, null);
        long started = System.nanoTime();
        var e = assertThrows(KeyhouseException.StoreException.class,
                () -> Keyhouse.open("postgres://app:hunter2secret@127.0.0.1:1/db?sslmode=disable", quick));
        assertEquals("STORE_ERROR", e.code());
        assertTrue(System.nanoTime() - started < 3_000_000_000L);
        String wrong = Support.pgUrl().replaceFirst(":[^:@/]*@", ":hunter2secret@");
        var refused = assertThrows(KeyhouseException.StoreException.class, () -> Keyhouse.open(wrong, quick));
        for (Exception err : List.of(e, refused)) {
            assertFalse(err.toString().contains("hunter2secret"), err.toString());
        }
        assertTrue(refused.getMessage().contains("password authentication failed"), refused.getMessage());
    }

    @Test
    void aKeyOfAnotherPrefixIsNotFound() throws Exception {
        try (GeneratedKey other = KeyhouseLib.generate("other", 32, null)) {
            assertEquals(Outcome.NOT_FOUND, store.verify(other.key(), List.of(), 1).outcome());
        }
        // The same id and secret under another prefix is another key.
        byte[] bytes = new byte[42];
        java.util.Arrays.fill(bytes, (byte) 7);
        try (GeneratedKey moved = KeyhouseLib.testGenerateFromBytes("acmf", bytes, 32, null)) {
            assertEquals(Outcome.NOT_FOUND, store.verify(moved.key(), List.of(), 1).outcome());
        }
    }

    @Test
    void metadataMustBeAJsonObject() throws Exception {
        for (String bad : List.of("", "[]", "1", "null", "{", "{\"a\":}", "\"text\"")) {
            fails(KeyhouseException.InvalidArgument.class, "INVALID_ARGUMENT", () -> store.create(options(null, null, bad, null)));
        }
        assertEquals("{}", store.get(KeyhouseLib.parse(good).id()).metadata());
    }

    @Test
    void badIdsAreInvalidUnknownIdsNotFoundAndNothingIsWritten() throws Exception {
        for (String id : List.of("", "nope", "a".repeat(10 * 1024))) {
            fails(KeyhouseException.InvalidArgument.class, "INVALID_ARGUMENT", () -> store.get(id));
            fails(KeyhouseException.InvalidArgument.class, "INVALID_ARGUMENT", () -> store.revoke(id));
        }
        fails(KeyhouseException.NotFound.class, "NOT_FOUND", () -> store.get("00000000000000"));
        fails(KeyhouseException.NotFound.class, "NOT_FOUND", () -> store.revoke("00000000000000"));
        assertEquals(1, store.list(new ListOptions(null, 100, null, true)).keys().size());
        assertTrue(store.verify(good, List.of(), 1).isValid());
    }

    @Test
    void aClosedStoreRefusesAndAFreedObjectThrows() throws Exception {
        Keyhouse other = Keyhouse.open(":memory:", null);
        other.closeStore();
        fails(KeyhouseException.Closed.class, "CLOSED", () -> other.verify(good, List.of(), 1));
        other.close();
        // After close() the native object is gone: a call is an error, not a crash.
        assertThrows(IllegalStateException.class, () -> other.verify(good, List.of(), 1));
    }
}
