package dev.keyhouse.java;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import org.json.JSONObject;
import org.junit.jupiter.api.Test;

/** The store through the Java binding: create, verify, list, update, roll, and many threads. */
class StoreTest {
    private static final long DAY = 86_400_000L;

    /** Options with only the given fields set. */
    private static CreateOptions options(String ownerId, List<String> permissions, Long remaining, RateLimit rateLimit) {
        return new CreateOptions(ownerId, null, null, null, null, permissions, null, remaining, null, rateLimit);
    }

    private static UpdateOptions clearing(boolean name, boolean expiresAt, boolean remaining, boolean rateLimit) {
        return new UpdateOptions(null, null, null, null, null, null, null, null, name, expiresAt, remaining, false, rateLimit);
    }

    @Test
    void createReturnsTheKeyOnceWithEveryOption() throws Exception {
        String metadata = "{\"plan\":\"pro\",\"seats\":5,\"tags\":[\"a\"],\"nested\":{\"x\":null}}";
        try (Keyhouse store = Keyhouse.open(":memory:", null);
                CreatedKey c = store.create(new CreateOptions("team-1", "deploy", "acme_live", new TimeSpan(DAY), null,
                        List.of("files:*"), metadata, 10L, new Refill(10, new TimeSpan(3_600_000L)),
                        new RateLimit(100, new TimeSpan(60_000L))))) {
            assertTrue(c.key().startsWith("acme_live_"));
            assertFalse(c.toString().contains(c.key()), c.toString());
            KeyInfo info = c.info();
            assertEquals("team-1", info.ownerId());
            assertTrue(new JSONObject(metadata).similar(new JSONObject(info.metadata())));
            assertEquals(DAY, info.expiresAt().value() - info.createdAt().value());
            assertEquals(new Refill(10, new TimeSpan(3_600_000L)), info.refill());
            assertEquals(new RateLimit(100, new TimeSpan(60_000L)), info.rateLimit());
            assertEquals(info, store.get(info.id()));
            assertFalse(info.toString().contains(c.key()));
        }
    }

    @Test
    void timesConvertToAndFromJavaTime() throws Exception {
        java.time.Instant at = java.time.Instant.now().plus(java.time.Duration.ofDays(3)).truncatedTo(java.time.temporal.ChronoUnit.MILLIS);
        try (Keyhouse store = Keyhouse.open(":memory:", null);
                CreatedKey c = store.create(new CreateOptions(null, null, null, null, Timestamp.of(at), null, null, 5L,
                        new Refill(5, TimeSpan.of(java.time.Duration.ofHours(1))), null))) {
            assertEquals(at, c.info().expiresAt().toInstant());
            assertEquals(java.time.Duration.ofHours(1), c.info().refill().interval().toDuration());
            // Below a millisecond is dropped, as the core counts in milliseconds.
            assertEquals(new TimeSpan(1500L), TimeSpan.of(java.time.Duration.ofNanos(1_500_999_999L)));
            assertEquals(new Timestamp(-1L), Timestamp.of(java.time.Instant.ofEpochSecond(0, -1)));
        }
    }

    @Test
    void verifyGivesEveryOutcome() throws Exception {
        try (Keyhouse store = Keyhouse.open(":memory:", null);
                CreatedKey c = store.create(options(null, List.of("files:read"), 2L, null))) {
            VerifyResult r = store.verify(c.key(), List.of("files:read"), 1);
            assertEquals(Outcome.VALID, r.outcome());
            assertEquals(1L, r.key().remaining());
            assertEquals(0L, store.verify(c.key(), List.of("files:read"), 1).key().remaining());
            assertEquals(Outcome.USAGE_EXCEEDED, store.verify(c.key(), List.of(), 1).outcome());
            assertEquals(Outcome.INSUFFICIENT_PERMISSIONS, store.verify(c.key(), List.of("files:write"), 1).outcome());
            String typo = c.key().substring(0, c.key().length() - 1) + (c.key().endsWith("A") ? "B" : "A");
            VerifyResult malformed = store.verify(typo, List.of(), 1);
            assertEquals(MalformedReason.CHECKSUM_MISMATCH, malformed.malformedReason());
            assertNull(malformed.key());
            try (GeneratedKey other = KeyhouseLib.generate("kh", 32, null)) {
                assertEquals(Outcome.NOT_FOUND, store.verify(other.key(), List.of(), 1).outcome());
            }
            store.update(c.info().id(), new UpdateOptions(null, false, null, null, null, null, null, null, false, false, true, false, false));
            assertEquals(Outcome.DISABLED, store.verify(c.key(), List.of(), 1).outcome());
            store.revoke(c.info().id());
            VerifyResult revoked = store.verify(c.key(), List.of(), 1);
            assertEquals(Outcome.REVOKED, revoked.outcome());
            assertNotNull(revoked.key().revokedAt());
        }
    }

    @Test
    void rateLimitsAndExpiryUseMilliseconds() throws Exception {
        long start = 1_798_761_600_000L; // 2027-01-01T00:00:00Z
        try (TestClock clock = new TestClock(new Timestamp(start));
                Keyhouse store = KeyhouseLib.testOpenWithClock(":memory:", clock, null);
                CreatedKey c = store.create(new CreateOptions(null, null, null, new TimeSpan(3_600_000L), null, null, null, null, null,
                        new RateLimit(1, new TimeSpan(30_000L))))) {
            assertEquals(0L, store.verify(c.key(), List.of(), 1).rateLimit().remaining());
            VerifyResult r = store.verify(c.key(), List.of(), 1);
            assertEquals(Outcome.RATE_LIMITED, r.outcome());
            assertEquals(new TimeSpan(30_000L), r.retryAfter());
            assertEquals(new Timestamp(start + 30_000), r.rateLimit().resetAt());
            clock.advance(new TimeSpan(3_600_000L));
            assertEquals(Outcome.EXPIRED, store.verify(c.key(), List.of(), 1).outcome());
            assertEquals(1L, store.purgeExpired());
            assertThrows(KeyhouseException.NotFound.class, () -> store.get(c.info().id()));
        }
    }

    @Test
    void listPaginatesAndFilters() throws Exception {
        try (Keyhouse store = Keyhouse.open(":memory:", null)) {
            List<String> ids = new ArrayList<>();
            for (int i = 0; i < 7; i++) {
                try (CreatedKey c = store.create(options(i % 2 == 1 ? "a" : "b", null, null, null))) {
                    ids.add(c.info().id());
                }
            }
            List<String> seen = new ArrayList<>();
            String cursor = null;
            do {
                KeyPage page = store.list(new ListOptions(null, 3, cursor, false));
                assertTrue(page.keys().size() <= 3);
                page.keys().forEach(k -> seen.add(k.id()));
                cursor = page.nextCursor();
            } while (cursor != null);
            assertEquals(ids.stream().sorted().toList(), seen.stream().sorted().toList());
            assertTrue(store.list(new ListOptions("a", 100, null, false)).keys().stream().allMatch(k -> "a".equals(k.ownerId())));
            store.revoke(ids.get(0));
            assertFalse(store.list(new ListOptions(null, 100, null, false)).keys().stream().anyMatch(k -> k.id().equals(ids.get(0))));
            assertTrue(store.list(new ListOptions(null, 100, null, true)).keys().stream().anyMatch(k -> k.id().equals(ids.get(0))));
        }
    }

    @Test
    void updateSetsAndClears() throws Exception {
        try (Keyhouse store = Keyhouse.open(":memory:", null)) {
            String id;
            try (CreatedKey c = store.create(new CreateOptions(null, "a", null, new TimeSpan(DAY), null, null, null, 5L, null, null))) {
                id = c.info().id();
            }
            KeyInfo changed = store.update(id, new UpdateOptions("b", null, List.of("x:y"), "{\"k\":1}", null, null, null,
                    new RateLimit(5, new TimeSpan(1000L)), false, false, false, false, false));
            assertEquals("b", changed.name());
            assertEquals(List.of("x:y"), changed.permissions());
            assertEquals("{\"k\":1}", changed.metadata());
            assertEquals(5L, changed.rateLimit().limit());
            KeyInfo cleared = store.update(id, clearing(true, true, true, true));
            assertNull(cleared.name());
            assertNull(cleared.expiresAt());
            assertNull(cleared.remaining());
            assertNull(cleared.rateLimit());
            var e = assertThrows(KeyhouseException.InvalidArgument.class,
                    () -> store.update(id, new UpdateOptions("c", null, null, null, null, null, null, null, true, false, false, false, false)));
            assertEquals("INVALID_ARGUMENT", e.code());
        }
    }

    @Test
    void rollKeepsTheOldKeyForTheGracePeriod() throws Exception {
        try (Keyhouse store = Keyhouse.open(":memory:", null);
                CreatedKey old = store.create(options(null, List.of("a:b"), null, null));
                CreatedKey rolled = store.roll(old.info().id(), new TimeSpan(300_000L))) {
            assertEquals(List.of("a:b"), rolled.info().permissions());
            assertTrue(store.verify(rolled.key(), List.of(), 1).isValid());
            assertTrue(store.verify(old.key(), List.of(), 1).isValid());
            assertNotNull(store.get(old.info().id()).expiresAt());
            try (CreatedKey immediate = store.roll(rolled.info().id(), null)) {
                assertEquals(Outcome.EXPIRED, store.verify(rolled.key(), List.of(), 1).outcome());
                assertTrue(store.verify(immediate.key(), List.of(), 1).isValid());
            }
        }
    }

    @Test
    void createManyIsAllOrNothing() throws Exception {
        Config config = new Config("kh", 32, null, List.of(), List.of(), null, null, null, 2L, null, null, null, null, null, null,
                null, null, null, null, null, null);
        try (Keyhouse store = Keyhouse.open(":memory:", config)) {
            assertEquals(2, store.createMany(List.of(options("o", null, null, null), options("p", null, null, null))).size());
            var e = assertThrows(KeyhouseException.KeyLimitExceeded.class, () -> store.createMany(
                    List.of(options("q", null, null, null), options("o", null, null, null), options("o", null, null, null))));
            assertEquals("KEY_LIMIT_EXCEEDED", e.code());
            assertEquals(2, store.list(new ListOptions(null, 100, null, true)).keys().size());
        }
    }

    /**
     * One store, 8 platform threads and then 200 virtual threads, each
     * verifying and creating: credits are exact and nothing crashes. (The
     * generated code keeps a native call-status per thread.)
     */
    @Test
    void oneStoreServesManyThreads() throws Exception {
        try (Keyhouse store = Keyhouse.open(Support.tempDb(), null)) {
            for (ExecutorService pool : List.of(Executors.newFixedThreadPool(8), Executors.newVirtualThreadPerTaskExecutor())) {
                int tasks = pool instanceof java.util.concurrent.ThreadPoolExecutor ? 8 : 200;
                String key;
                try (CreatedKey c = store.create(options(null, null, 400L, null))) {
                    key = c.key();
                }
                AtomicInteger valid = new AtomicInteger();
                List<Future<?>> done = new ArrayList<>();
                for (int t = 0; t < tasks; t++) {
                    done.add(pool.submit(() -> {
                        for (int i = 0; i < 60; i++) {
                            if (store.verify(key, List.of(), 1).isValid()) {
                                valid.incrementAndGet();
                            }
                        }
                        store.create(options("threads", null, null, null)).close();
                        return null;
                    }));
                }
                for (Future<?> f : done) {
                    f.get();
                }
                pool.shutdown();
                assertEquals(400, valid.get());
                assertEquals(Outcome.USAGE_EXCEEDED, store.verify(key, List.of(), 1).outcome());
            }
            int made = 0;
            String cursor = null;
            do {
                KeyPage page = store.list(new ListOptions("threads", 100, cursor, false));
                made += page.keys().size();
                cursor = page.nextCursor();
            } while (cursor != null);
            assertEquals(8 + 200, made);
        }
    }
}
