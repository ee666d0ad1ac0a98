package dev.keyhouse

import java.time.Duration
import java.time.Instant
import org.json.JSONObject
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.DynamicTest
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestFactory
import org.junit.jupiter.api.assertThrows

/** The cross-language conformance vectors in tests/vectors, through the Kotlin binding. */
class VectorsTest {
    private fun hex(s: String): ByteArray = ByteArray(s.length / 2) { s.substring(2 * it, 2 * it + 2).toInt(16).toByte() }

    @Test
    fun formatVectors() {
        val file = Support.vectors("format.json")
        val p = file.getJSONObject("pepper")
        val pepper = Pepper(p.getString("id"), hex(p.getString("secret")))
        val vectors = file.getJSONArray("vectors")
        assertTrue(vectors.length() >= 5)
        for (i in 0 until vectors.length()) {
            val v = vectors.getJSONObject(i)
            val random = hex(v.getString("id_bytes")) + hex(v.getString("secret_bytes"))
            val n = v.getString("secret_bytes").length / 2L
            val g = testGenerateFromBytes(v.getString("prefix"), random, n)
            assertEquals(listOf(v.getString("key"), v.getString("id"), v.getString("prefix"), v.getString("hash")),
                listOf(g.key(), g.id(), g.prefix(), g.hash()))
            assertEquals(v.getString("hash_with_pepper"), testGenerateFromBytes(v.getString("prefix"), random, n, pepper).hash())
            assertEquals(v.getString("hash"), hashKey(v.getString("key")))
            assertEquals(v.getString("hash_with_pepper"), hashKey(v.getString("key"), pepper))
            assertTrue(verifyHash(v.getString("key"), v.getString("hash_with_pepper"), listOf(pepper)))
            assertEquals(ParsedKey(v.getString("prefix"), v.getString("id")), parse(v.getString("key")))
            assertEquals(v.getString("key"), Regex(file.getString("key_regex")).find("token: ${v.getString("key")}.")?.value)
        }
        assertEquals(file.getString("key_regex"), keyRegex())
    }

    @Test
    fun outcomeVectors() {
        val vectors = Support.vectors("outcomes.json").getJSONArray("outcomes")
        assertEquals(Outcome.values().size, vectors.length())
        for (i in 0 until vectors.length()) {
            val v = vectors.getJSONObject(i)
            val outcome = Outcome.values().first { it.code() == v.getString("outcome") }
            assertEquals(v.getInt("http_status"), outcome.httpStatus().toInt(), outcome.code())
        }
    }

    @Test
    fun parseVectors() {
        val vectors = Support.vectors("parse.json").getJSONArray("vectors")
        assertTrue(vectors.length() >= 40)
        for (i in 0 until vectors.length()) {
            val v = vectors.getJSONObject(i)
            val name = v.getString("name")
            if (v.getString("expect") == "VALID") {
                assertEquals(ParsedKey(v.getString("prefix"), v.getString("id")), parse(v.getString("input")), name)
            } else {
                val e = assertThrows<KeyhouseException.Malformed>(name) { parse(v.getString("input")) }
                assertEquals(v.getString("expect"), e.reason.code(), name)
                assertEquals("MALFORMED", e.code(), name)
            }
        }
    }

    @TestFactory
    fun scenarios(): List<DynamicTest> {
        val file = Support.vectors("scenarios.json")
        val start = file.getLong("start")
        val scenarios = file.getJSONArray("scenarios")
        return (0 until scenarios.length()).flatMap { i ->
            val s = scenarios.getJSONObject(i)
            listOf(":memory:" to "memory", null to "file").map { (path, where) ->
                DynamicTest.dynamicTest("${s.getString("name")} ($where)") {
                    ScenarioRunner(s, start, path ?: Support.tempDb()).run()
                }
            } + DynamicTest.dynamicTest("${s.getString("name")} (postgres)") {
                ScenarioRunner(s, start, Support.pgUrl(), Support.pgSchema()).run()
            }
        }
    }
}

/** Replays one scenario: each step at its clock time, checking the fields it lists. */
private class ScenarioRunner(
    private val scenario: JSONObject,
    private val start: Long,
    path: String,
    schema: String? = null,
) {
    private val clock = TestClock(Instant.ofEpochMilli(start))
    private val store =
        testOpenWithClock(path, clock, config(scenario.optJSONObject("config") ?: JSONObject()).copy(schema = schema))
    private val keys = mutableMapOf<String, Pair<String, String>>()

    private fun config(c: JSONObject): Config {
        fun ms(k: String) = if (c.has(k)) Duration.ofMillis(c.getLong(k)) else null
        return Config(
            defaultPermissions = c.optJSONArray("default_permissions")?.map { it as String } ?: listOf(),
            defaultExpiry = ms("default_expiry_ms"),
            minExpiry = ms("min_expiry_ms"),
            maxExpiry = ms("max_expiry_ms"),
            maxKeysPerOwner = if (c.has("max_keys_per_owner")) c.getLong("max_keys_per_owner") else null,
        )
    }

    private fun at(o: JSONObject, k: String): Instant? = if (o.isNull(k)) null else Instant.ofEpochMilli(start + o.getLong(k))
    private fun offset(t: Instant?): Long? = t?.let { it.toEpochMilli() - start }
    private fun keyText(ref: String) = if (ref.startsWith("literal:")) ref.removePrefix("literal:") else keys.getValue(ref).first
    private fun keyId(ref: String) = if (ref.startsWith("literal:")) ref.removePrefix("literal:") else keys.getValue(ref).second
    private fun strings(o: JSONObject, k: String) = o.getJSONArray(k).map { it as String }
    private fun refill(o: JSONObject) = Refill(o.getLong("amount"), Duration.ofMillis(o.getLong("interval_ms")))
    private fun rateLimit(o: JSONObject) = RateLimit(o.getLong("limit"), Duration.ofMillis(o.getLong("window_ms")))

    private fun info(i: KeyInfo): Map<String, Any?> = mapOf(
        "id" to i.id, "prefix" to i.prefix, "owner_id" to i.ownerId, "name" to i.name,
        "permissions" to i.permissions, "metadata" to JSONObject(i.metadata), "enabled" to i.enabled,
        "created_at" to offset(i.createdAt), "expires_at" to offset(i.expiresAt),
        "revoked_at" to offset(i.revokedAt), "last_refill_at" to offset(i.lastRefillAt),
        "remaining" to i.remaining, "usage_count" to i.usageCount,
    )

    private fun createOptions(o: JSONObject) = CreateOptions(
        ownerId = o.optString("owner_id", null),
        name = o.optString("name", null),
        prefix = o.optString("prefix", null),
        expiresIn = if (o.has("expires_in_ms")) Duration.ofMillis(o.getLong("expires_in_ms")) else null,
        expiresAt = if (o.has("expires_at")) at(o, "expires_at") else null,
        permissions = if (o.has("permissions")) strings(o, "permissions") else null,
        metadata = o.optJSONObject("metadata")?.toString(),
        remaining = if (o.has("remaining")) o.getLong("remaining") else null,
        refill = o.optJSONObject("refill")?.let(::refill),
        rateLimit = o.optJSONObject("rate_limit")?.let(::rateLimit),
    )

    /** JSON null clears a field; a value sets it. */
    private fun updateOptions(o: JSONObject) = UpdateOptions(
        name = o.optString("name", null),
        clearName = o.has("name") && o.isNull("name"),
        enabled = if (o.has("enabled")) o.getBoolean("enabled") else null,
        permissions = if (o.has("permissions")) strings(o, "permissions") else null,
        metadata = o.optJSONObject("metadata")?.toString(),
        expiresAt = if (o.has("expires_at")) at(o, "expires_at") else null,
        clearExpiresAt = o.has("expires_at") && o.isNull("expires_at"),
        remaining = if (o.has("remaining") && !o.isNull("remaining")) o.getLong("remaining") else null,
        clearRemaining = o.has("remaining") && o.isNull("remaining"),
        refill = o.optJSONObject("refill")?.let(::refill),
        clearRefill = o.has("refill") && o.isNull("refill"),
        rateLimit = o.optJSONObject("rate_limit")?.let(::rateLimit),
        clearRateLimit = o.has("rate_limit") && o.isNull("rate_limit"),
    )

    private fun step(s: JSONObject): Map<String, Any?> {
        val ref = s.optString("key", "")
        return when (val op = s.getString("op")) {
            "create", "roll" -> {
                val created = if (op == "create") {
                    store.create(createOptions(s.getJSONObject("options")))
                } else {
                    store.roll(keyId(ref), Duration.ofMillis(s.getLong("grace_ms")))
                }
                if (s.has("save_as")) keys[s.getString("save_as")] = created.key() to created.info().id
                info(created.info())
            }
            "verify" -> {
                val r = store.verify(
                    keyText(ref),
                    if (s.has("permissions")) strings(s, "permissions") else listOf(),
                    s.optLong("cost", 1),
                )
                mapOf(
                    "outcome" to r.outcome.code(),
                    "malformed_reason" to r.malformedReason?.code(),
                    "retry_after_ms" to r.retryAfter?.toMillis(),
                    "rate_limit_remaining" to r.rateLimit?.remaining,
                    "remaining" to r.key?.remaining,
                )
            }
            "get" -> info(store.get(keyId(ref)))
            "update" -> info(store.update(keyId(ref), updateOptions(s.getJSONObject("options"))))
            "revoke" -> info(store.revoke(keyId(ref)))
            "delete" -> { store.delete(keyId(ref)); mapOf() }
            "purge_expired" -> mapOf("purged" to store.purgeExpired())
            else -> error("unknown op $op")
        }
    }

    fun run() {
        val steps = scenario.getJSONArray("steps")
        for (n in 0 until steps.length()) {
            val s = steps.getJSONObject(n)
            val ctx = "${scenario.getString("name")} step $n (${s.getString("op")})"
            clock.set(Instant.ofEpochMilli(start + s.getLong("at")))
            val expect = s.optJSONObject("expect") ?: JSONObject()
            val got = try {
                step(s)
            } catch (e: KeyhouseException) {
                assertEquals(expect.optString("error", null), e.code(), "$ctx: ${e.message}")
                continue
            }
            assertTrue(!expect.has("error"), "$ctx: expected ${expect.opt("error")}, got $got")
            for (field in expect.keySet()) {
                assertTrue(Support.sameJson(expect.get(field), got[field]), "$ctx: $field: want ${expect.get(field)}, got ${got[field]}")
            }
        }
        store.closeStore()
        store.close()
    }
}
