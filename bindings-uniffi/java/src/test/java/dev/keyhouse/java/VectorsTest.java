package dev.keyhouse.java;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.json.JSONArray;
import org.json.JSONObject;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/** The cross-language conformance vectors in tests/vectors, through the Java binding. */
class VectorsTest {
    @Test
    void formatVectors() throws Exception {
        JSONObject file = Support.vectors("format.json");
        JSONObject p = file.getJSONObject("pepper");
        Pepper pepper = new Pepper(p.getString("id"), Support.hex(p.getString("secret")));
        JSONArray vectors = file.getJSONArray("vectors");
        assertTrue(vectors.length() >= 5);
        for (int i = 0; i < vectors.length(); i++) {
            JSONObject v = vectors.getJSONObject(i);
            byte[] id = Support.hex(v.getString("id_bytes"));
            byte[] secret = Support.hex(v.getString("secret_bytes"));
            byte[] random = new byte[id.length + secret.length];
            System.arraycopy(id, 0, random, 0, id.length);
            System.arraycopy(secret, 0, random, id.length, secret.length);
            String prefix = v.getString("prefix");
            try (GeneratedKey g = KeyhouseLib.testGenerateFromBytes(prefix, random, secret.length, null);
                    GeneratedKey peppered = KeyhouseLib.testGenerateFromBytes(prefix, random, secret.length, pepper)) {
                assertEquals(List.of(v.getString("key"), v.getString("id"), prefix, v.getString("hash")),
                        List.of(g.key(), g.id(), g.prefix(), g.hash()));
                assertEquals(v.getString("hash_with_pepper"), peppered.hash());
            }
            assertEquals(v.getString("hash"), KeyhouseLib.hashKey(v.getString("key"), null));
            assertEquals(v.getString("hash_with_pepper"), KeyhouseLib.hashKey(v.getString("key"), pepper));
            assertTrue(KeyhouseLib.verifyHash(v.getString("key"), v.getString("hash_with_pepper"), List.of(pepper)));
            assertEquals(new ParsedKey(prefix, v.getString("id")), KeyhouseLib.parse(v.getString("key")));
            Matcher m = Pattern.compile(file.getString("key_regex")).matcher("token: " + v.getString("key") + ".");
            assertTrue(m.find());
            assertEquals(v.getString("key"), m.group());
        }
        assertEquals(file.getString("key_regex"), KeyhouseLib.keyRegex());
    }

    @Test
    void outcomeVectors() throws Exception {
        JSONArray vectors = Support.vectors("outcomes.json").getJSONArray("outcomes");
        assertEquals(Outcome.values().length, vectors.length());
        for (int i = 0; i < vectors.length(); i++) {
            JSONObject v = vectors.getJSONObject(i);
            Outcome outcome = Outcome.valueOf(v.getString("outcome"));
            assertEquals(v.getString("outcome"), outcome.code());
            assertEquals(v.getInt("http_status"), outcome.httpStatus(), outcome.code());
        }
    }

    @Test
    void parseVectors() throws Exception {
        JSONArray vectors = Support.vectors("parse.json").getJSONArray("vectors");
        assertTrue(vectors.length() >= 40);
        for (int i = 0; i < vectors.length(); i++) {
            JSONObject v = vectors.getJSONObject(i);
            String name = v.getString("name");
            if (v.getString("expect").equals("VALID")) {
                assertEquals(new ParsedKey(v.getString("prefix"), v.getString("id")), KeyhouseLib.parse(v.getString("input")), name);
            } else {
                var e = assertThrows(KeyhouseException.Malformed.class, () -> KeyhouseLib.parse(v.getString("input")), name);
                assertEquals(v.getString("expect"), e.reason().code(), name);
                assertEquals("MALFORMED", e.code(), name);
            }
        }
    }

    @TestFactory
    List<DynamicTest> scenarios() throws Exception {
        JSONObject file = Support.vectors("scenarios.json");
        long start = file.getLong("start");
        JSONArray scenarios = file.getJSONArray("scenarios");
        List<DynamicTest> tests = new ArrayList<>();
        for (int i = 0; i < scenarios.length(); i++) {
            JSONObject s = scenarios.getJSONObject(i);
            String name = s.getString("name");
            tests.add(DynamicTest.dynamicTest(name + " (memory)", () -> new ScenarioRunner(s, start, ":memory:", null).run()));
            tests.add(DynamicTest.dynamicTest(name + " (file)", () -> new ScenarioRunner(s, start, Support.tempDb(), null).run()));
            tests.add(DynamicTest.dynamicTest(name + " (postgres)",
                    () -> new ScenarioRunner(s, start, Support.pgUrl(), Support.pgSchema()).run()));
        }
        return tests;
    }

    /** Replays one scenario: each step at its clock time, checking the fields it lists. */
    private static final class ScenarioRunner {
        private final JSONObject scenario;
        private final long start;
        private final TestClock clock;
        private final Keyhouse store;
        private final Map<String, String[]> keys = new HashMap<>();

        ScenarioRunner(JSONObject scenario, long start, String path, String schema) throws KeyhouseException {
            this.scenario = scenario;
            this.start = start;
            this.clock = new TestClock(new Timestamp(start));
            JSONObject c = scenario.optJSONObject("config");
            this.store = KeyhouseLib.testOpenWithClock(path, clock, config(c == null ? new JSONObject() : c, schema));
        }

        private static TimeSpan ms(JSONObject o, String k) {
            return o.has(k) ? new TimeSpan(o.getLong(k)) : null;
        }

        private static List<String> strings(JSONObject o, String k) {
            List<String> out = new ArrayList<>();
            for (Object x : o.getJSONArray(k)) {
                out.add((String) x);
            }
            return out;
        }

        private static Config config(JSONObject c, String schema) {
            return new Config("kh", 32, null, List.of(),
                    c.has("default_permissions") ? strings(c, "default_permissions") : List.of(),
                    ms(c, "default_expiry_ms"), ms(c, "min_expiry_ms"), ms(c, "max_expiry_ms"),
                    c.has("max_keys_per_owner") ? c.getLong("max_keys_per_owner") : null,
                    null, null, null, null, null, null, null, schema, null, null, null, null);
        }

        private Timestamp at(JSONObject o, String k) {
            return o.isNull(k) ? null : new Timestamp(start + o.getLong(k));
        }

        private Long offset(Timestamp t) {
            return t == null ? null : t.value() - start;
        }

        private String keyText(String ref) {
            return ref.startsWith("literal:") ? ref.substring("literal:".length()) : keys.get(ref)[0];
        }

        private String keyId(String ref) {
            return ref.startsWith("literal:") ? ref.substring("literal:".length()) : keys.get(ref)[1];
        }

        private static Refill refill(JSONObject o) {
            return new Refill(o.getLong("amount"), new TimeSpan(o.getLong("interval_ms")));
        }

        private static RateLimit rateLimit(JSONObject o) {
            return new RateLimit(o.getLong("limit"), new TimeSpan(o.getLong("window_ms")));
        }

        private Map<String, Object> info(KeyInfo i) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("id", i.id());
            m.put("prefix", i.prefix());
            m.put("owner_id", i.ownerId());
            m.put("name", i.name());
            m.put("permissions", i.permissions());
            m.put("metadata", new JSONObject(i.metadata()));
            m.put("enabled", i.enabled());
            m.put("created_at", offset(i.createdAt()));
            m.put("expires_at", offset(i.expiresAt()));
            m.put("revoked_at", offset(i.revokedAt()));
            m.put("last_refill_at", offset(i.lastRefillAt()));
            m.put("remaining", i.remaining());
            m.put("usage_count", i.usageCount());
            return m;
        }

        private CreateOptions createOptions(JSONObject o) {
            JSONObject metadata = o.optJSONObject("metadata");
            JSONObject refill = o.optJSONObject("refill");
            JSONObject rateLimit = o.optJSONObject("rate_limit");
            return new CreateOptions(
                    o.optString("owner_id", null), o.optString("name", null), o.optString("prefix", null),
                    ms(o, "expires_in_ms"), o.has("expires_at") ? at(o, "expires_at") : null,
                    o.has("permissions") ? strings(o, "permissions") : null,
                    metadata == null ? null : metadata.toString(),
                    o.has("remaining") ? o.getLong("remaining") : null,
                    refill == null ? null : refill(refill), rateLimit == null ? null : rateLimit(rateLimit));
        }

        /** JSON null clears a field; a value sets it. */
        private UpdateOptions updateOptions(JSONObject o) {
            JSONObject metadata = o.optJSONObject("metadata");
            JSONObject refill = o.optJSONObject("refill");
            JSONObject rateLimit = o.optJSONObject("rate_limit");
            return new UpdateOptions(
                    o.optString("name", null), o.has("enabled") ? o.getBoolean("enabled") : null,
                    o.has("permissions") ? strings(o, "permissions") : null,
                    metadata == null ? null : metadata.toString(),
                    o.has("expires_at") ? at(o, "expires_at") : null,
                    o.has("remaining") && !o.isNull("remaining") ? o.getLong("remaining") : null,
                    refill == null ? null : refill(refill), rateLimit == null ? null : rateLimit(rateLimit),
                    o.has("name") && o.isNull("name"), o.has("expires_at") && o.isNull("expires_at"),
                    o.has("remaining") && o.isNull("remaining"), o.has("refill") && o.isNull("refill"),
                    o.has("rate_limit") && o.isNull("rate_limit"));
        }

        private Map<String, Object> step(JSONObject s) throws KeyhouseException {
            String ref = s.optString("key", "");
            String op = s.getString("op");
            switch (op) {
                case "create", "roll" -> {
                    try (CreatedKey created = op.equals("create")
                            ? store.create(createOptions(s.getJSONObject("options")))
                            : store.roll(keyId(ref), new TimeSpan(s.getLong("grace_ms")))) {
                        if (s.has("save_as")) {
                            keys.put(s.getString("save_as"), new String[] {created.key(), created.info().id()});
                        }
                        return info(created.info());
                    }
                }
                case "verify" -> {
                    VerifyResult r = store.verify(keyText(ref), s.has("permissions") ? strings(s, "permissions") : List.of(),
                            s.optLong("cost", 1));
                    Map<String, Object> m = new HashMap<>();
                    m.put("outcome", r.outcome().code());
                    m.put("malformed_reason", r.malformedReason() == null ? null : r.malformedReason().code());
                    m.put("retry_after_ms", r.retryAfter() == null ? null : r.retryAfter().value());
                    m.put("rate_limit_remaining", r.rateLimit() == null ? null : r.rateLimit().remaining());
                    m.put("remaining", r.key() == null ? null : r.key().remaining());
                    return m;
                }
                case "get" -> {
                    return info(store.get(keyId(ref)));
                }
                case "update" -> {
                    return info(store.update(keyId(ref), updateOptions(s.getJSONObject("options"))));
                }
                case "revoke" -> {
                    return info(store.revoke(keyId(ref)));
                }
                case "delete" -> {
                    store.delete(keyId(ref));
                    return Map.of();
                }
                case "purge_expired" -> {
                    return Map.of("purged", store.purgeExpired());
                }
                default -> throw new IllegalStateException("unknown op " + op);
            }
        }

        void run() throws KeyhouseException {
            JSONArray steps = scenario.getJSONArray("steps");
            for (int n = 0; n < steps.length(); n++) {
                JSONObject s = steps.getJSONObject(n);
                String ctx = scenario.getString("name") + " step " + n + " (" + s.getString("op") + ")";
                clock.set(new Timestamp(start + s.getLong("at")));
                JSONObject expect = s.optJSONObject("expect");
                if (expect == null) {
                    expect = new JSONObject();
                }
                Map<String, Object> got;
                try {
                    got = step(s);
                } catch (KeyhouseException e) {
                    assertEquals(expect.optString("error", null), e.code(), ctx + ": " + e.getMessage());
                    continue;
                }
                assertTrue(!expect.has("error"), ctx + ": expected " + expect.opt("error") + ", got " + got);
                for (String field : expect.keySet()) {
                    assertTrue(Support.sameJson(expect.get(field), got.get(field)),
                            ctx + ": " + field + ": want " + expect.get(field) + ", got " + got.get(field));
                }
            }
            store.closeStore();
            store.close();
            clock.close();
        }
    }
}
