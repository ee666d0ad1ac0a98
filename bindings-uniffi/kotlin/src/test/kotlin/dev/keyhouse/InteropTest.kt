package dev.keyhouse

import java.nio.file.Files
import java.nio.file.Paths
import org.json.JSONObject
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Assumptions.assumeTrue
import org.junit.jupiter.api.Test

/** Kotlin and the keyhouse CLI on one database file. */
class InteropTest {
    @Test
    fun aKeyFromKotlinVerifiesInTheCli() {
        val db = Support.tempDb()
        val c = Keyhouse.open(db).use { it.create(CreateOptions(prefix = "kt_made", permissions = listOf("files:*"), remaining = 2)) }
        val run = Support.runCli(db, "verify", c.key(), "--permission", "files:read")
        assertEquals(0, run.code, run.stderr)
        assertTrue(run.stdout.startsWith("VALID"), run.stdout)
        Keyhouse.open(db).use { assertEquals(1L, it.get(c.info().id).remaining) }
    }

    @Test
    fun aKeyFromTheCliVerifiesInKotlinAndARevokeIsSeenByTheCli() {
        val db = Support.tempDb()
        val run = Support.runCli(db, "--json", "create", "--prefix", "cli_made", "--owner", "ops", "--metadata", """{"team": "infra"}""")
        assertEquals(0, run.code, run.stderr)
        val made = JSONObject(run.stdout)
        Keyhouse.open(db).use {
            val r = it.verify(made.getString("key"))
            assertEquals(Outcome.VALID, r.outcome)
            assertEquals("ops", r.key?.ownerId)
            assertTrue(JSONObject("""{"team":"infra"}""").similar(JSONObject(r.key!!.metadata)))
            it.revoke(made.getJSONObject("info").getString("id"))
        }
        val after = Support.runCli(db, "verify", made.getString("key"))
        assertEquals(1, after.code)
        assertTrue(after.stdout.startsWith("REVOKED"), after.stdout)
    }

    @Test
    fun onPostgresAKeyFromTheCliVerifiesInKotlinAndARevokeIsSeenByTheCli() {
        val url = Support.pgUrl()
        val schema = Support.pgSchema()
        val env = mapOf("KEYHOUSE_SCHEMA" to schema)
        val run = Support.runCli(url, "--json", "create", "--remaining", "3", env = env)
        assertEquals(0, run.code, run.stderr)
        val made = JSONObject(run.stdout)
        Keyhouse.open(url, Config(schema = schema)).use {
            val r = it.verify(made.getString("key"))
            assertEquals(Outcome.VALID, r.outcome)
            assertEquals(2L, r.key?.remaining)
            it.revoke(made.getJSONObject("info").getString("id"))
            it.closeStore()
        }
        val after = Support.runCli(url, "verify", made.getString("key"), env = env)
        assertEquals(1, after.code, after.stderr)
        assertTrue(after.stdout.startsWith("REVOKED"), after.stdout)
    }
}

/**
 * Kotlin, Swift and Java on one database file, in two phases around the
 * Swift and Java suites (see the Makefile's test-uniffi): `create` makes two
 * keys, Swift verifies the first and revokes the second, Java sees both and
 * makes a key, `check` sees the revocation and verifies Java's key.
 * Skipped unless KEYHOUSE_INTEROP_DIR and KEYHOUSE_INTEROP_PHASE are set.
 */
class CrossLanguageTest {
    private val dir = System.getenv("KEYHOUSE_INTEROP_DIR")?.let { Paths.get(it) }
    private val phase = System.getenv("KEYHOUSE_INTEROP_PHASE")
    private val db get() = dir!!.resolve("shared.db").toString()
    private val keysFile get() = dir!!.resolve("kotlin-keys.json")

    @Test
    fun create() {
        assumeTrue(dir != null && phase == "create")
        Keyhouse.open(db).use { store ->
            val a = store.create(CreateOptions(prefix = "kt_made", ownerId = "interop", permissions = listOf("files:read")))
            val b = store.create(CreateOptions(prefix = "kt_made", ownerId = "interop"))
            Files.writeString(keysFile, JSONObject(mapOf("a" to a.key(), "b" to b.key(), "b_id" to b.info().id)).toString())
            val run = Support.runCli(db, "verify", a.key(), "--permission", "files:read")
            assertEquals(0, run.code, run.stderr)
            assertTrue(run.stdout.startsWith("VALID"), run.stdout)
        }
    }

    @Test
    fun check() {
        assumeTrue(dir != null && phase == "check")
        assertTrue(Files.exists(dir!!.resolve("swift-done")), "the Swift interop test did not run")
        val keys = JSONObject(Files.readString(keysFile))
        Keyhouse.open(db).use { store ->
            assertEquals(Outcome.REVOKED, store.verify(keys.getString("b")).outcome)
            assertTrue(store.get(keys.getString("b_id")).revokedAt != null)
            assertEquals(Outcome.VALID, store.verify(keys.getString("a"), listOf("files:read")).outcome)
            // The key the Java (FFM) binding made between the two phases.
            val java = JSONObject(Files.readString(dir.resolve("java-keys.json")))
            assertEquals(Outcome.VALID, store.verify(java.getString("key")).outcome)
        }
        // The Makefile checks for this file, so that a skipped phase cannot pass unseen.
        Files.writeString(dir.resolve("kotlin-checked"), "ok")
    }
}
