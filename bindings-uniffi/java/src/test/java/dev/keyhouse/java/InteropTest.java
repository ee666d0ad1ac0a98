package dev.keyhouse.java;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;
import java.util.Map;
import org.json.JSONObject;
import org.junit.jupiter.api.Test;

/** Java and the keyhouse CLI on one database. */
class InteropTest {
    @Test
    void aKeyFromJavaVerifiesInTheCli() throws Exception {
        String db = Support.tempDb();
        String key;
        String id;
        try (Keyhouse store = Keyhouse.open(db, null);
                CreatedKey c = store.create(new CreateOptions(null, null, "java_made", null, null, List.of("files:*"), null, 2L, null, null))) {
            key = c.key();
            id = c.info().id();
        }
        Support.Run run = Support.runCli(db, Map.of(), "verify", key, "--permission", "files:read");
        assertEquals(0, run.code(), run.stderr());
        assertTrue(run.stdout().startsWith("VALID"), run.stdout());
        try (Keyhouse store = Keyhouse.open(db, null)) {
            assertEquals(1L, store.get(id).remaining());
        }
    }

    @Test
    void aKeyFromTheCliVerifiesInJavaAndARevokeIsSeenByTheCli() throws Exception {
        String db = Support.tempDb();
        Support.Run run = Support.runCli(db, Map.of(), "--json", "create", "--prefix", "cli_made", "--owner", "ops", "--metadata", "{\"team\": \"infra\"}");
        assertEquals(0, run.code(), run.stderr());
        JSONObject made = new JSONObject(run.stdout());
        try (Keyhouse store = Keyhouse.open(db, null)) {
            VerifyResult r = store.verify(made.getString("key"), List.of(), 1);
            assertEquals(Outcome.VALID, r.outcome());
            assertEquals("ops", r.key().ownerId());
            assertTrue(new JSONObject("{\"team\":\"infra\"}").similar(new JSONObject(r.key().metadata())));
            store.revoke(made.getJSONObject("info").getString("id"));
        }
        Support.Run after = Support.runCli(db, Map.of(), "verify", made.getString("key"));
        assertEquals(1, after.code());
        assertTrue(after.stdout().startsWith("REVOKED"), after.stdout());
    }

    @Test
    void onPostgresAKeyFromTheCliVerifiesInJavaAndARevokeIsSeenByTheCli() throws Exception {
        String url = Support.pgUrl();
        String schema = Support.pgSchema();
        Map<String, String> env = Map.of("KEYHOUSE_SCHEMA", schema);
        Support.Run run = Support.runCli(url, env, "--json", "create", "--remaining", "3");
        assertEquals(0, run.code(), run.stderr());
        JSONObject made = new JSONObject(run.stdout());
        Config config = new Config("kh", 32, null, List.of(), List.of(), null, null, null, null, null, null, null, null,
                null, null, null, schema, null, null, null, null);
        try (Keyhouse store = Keyhouse.open(url, config)) {
            VerifyResult r = store.verify(made.getString("key"), List.of(), 1);
            assertEquals(Outcome.VALID, r.outcome());
            assertEquals(2L, r.key().remaining());
            store.revoke(made.getJSONObject("info").getString("id"));
            store.closeStore();
        }
        Support.Run after = Support.runCli(url, env, "verify", made.getString("key"));
        assertEquals(1, after.code(), after.stderr());
        assertTrue(after.stdout().startsWith("REVOKED"), after.stdout());
    }
}

/**
 * Java between the Swift and the last Kotlin phase of make test-uniffi, on the
 * same file: it verifies the key Kotlin made (VALID) and the one Swift revoked
 * (REVOKED), and makes a key of its own, which Kotlin's check phase then
 * verifies. Runs only when KEYHOUSE_INTEROP_DIR is set (make test-uniffi).
 */
class CrossLanguageTest {
    @Test
    void kotlinAndSwiftKeysVerifyAndJavaKeysReachKotlin() throws Exception {
        String dirName = System.getenv("KEYHOUSE_INTEROP_DIR");
        assumeTrue(dirName != null && !dirName.isEmpty());
        Path dir = Paths.get(dirName);
        assertTrue(Files.exists(dir.resolve("swift-done")), "the Swift interop test did not run");
        JSONObject keys = new JSONObject(Files.readString(dir.resolve("kotlin-keys.json")));
        try (Keyhouse store = Keyhouse.open(dir.resolve("shared.db").toString(), null)) {
            assertEquals(Outcome.VALID, store.verify(keys.getString("a"), List.of("files:read"), 1).outcome());
            assertEquals(Outcome.REVOKED, store.verify(keys.getString("b"), List.of(), 1).outcome());
            assertNotNull(store.get(keys.getString("b_id")).revokedAt());
            try (CreatedKey c = store.create(new CreateOptions("interop", null, "java_made", null, null, null, null, null, null, null))) {
                Files.writeString(dir.resolve("java-keys.json"), new JSONObject(Map.of("key", c.key())).toString());
            }
        }
    }
}
