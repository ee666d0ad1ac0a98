package dev.keyhouse

import java.nio.file.Files
import java.nio.file.Path
import java.nio.file.Paths
import java.util.concurrent.TimeUnit
import org.json.JSONArray
import org.json.JSONObject

/** Paths and helpers shared by the test files. */
object Support {
    /** The repository root: this project is `bindings-uniffi/kotlin`. */
    val root: Path = Paths.get("").toAbsolutePath().parent.parent

    /** One file of the cross-language conformance vectors. */
    fun vectors(name: String): JSONObject = JSONObject(Files.readString(root.resolve("tests/vectors/$name")))

    /** A fresh database path in a new temporary directory. */
    fun tempDb(): String = Files.createTempDirectory("keyhouse-kt").resolve("keys.db").toString()

    /** The PostgreSQL server the tests run against; unset fails loudly (make test sets it). */
    fun pgUrl(): String = System.getenv("KEYHOUSE_TEST_PG")?.takeIf { it.isNotEmpty() }
        ?: error(
            "KEYHOUSE_TEST_PG is not set: the PostgreSQL tests need a server " +
                "(make test starts one; or export KEYHOUSE_TEST_PG=postgres://USER:PASSWORD@HOST/DB)",
        )

    /** A fresh PostgreSQL schema name; tests/postgres/start.sh drops old ones. */
    fun pgSchema(): String = "kt_${ProcessHandle.current().pid()}_${java.util.UUID.randomUUID().toString().take(8)}"

    /** The keyhouse CLI built by Cargo (or `KEYHOUSE_CLI`). */
    val cli: String = System.getenv("KEYHOUSE_CLI") ?: root.resolve("target/debug/keyhouse").toString()

    /** Output and exit code of one CLI run. */
    data class Run(val code: Int, val stdout: String, val stderr: String)

    /** Runs the CLI on `db` with `args`, and `env` added to its environment. */
    fun runCli(db: String, vararg args: String, env: Map<String, String> = emptyMap()): Run {
        val p = ProcessBuilder(listOf(cli, "--db", db) + args).apply { environment().putAll(env) }.start()
        p.outputStream.close()
        val out = p.inputStream.bufferedReader().readText()
        val err = p.errorStream.bufferedReader().readText()
        check(p.waitFor(60, TimeUnit.SECONDS)) { "the CLI did not finish" }
        return Run(p.exitValue(), out, err)
    }

    /** This process's resident set size in KiB, from /proc (Linux). */
    fun rssKib(): Long =
        Files.readAllLines(Paths.get("/proc/self/status"))
            .first { it.startsWith("VmRSS:") }
            .split(Regex("\\s+"))[1]
            .toLong()

    /** Whether `got` equals the JSON value `want` (numbers compared as integers). */
    fun sameJson(want: Any?, got: Any?): Boolean = when (want) {
        null, JSONObject.NULL -> got == null
        is JSONObject -> got is JSONObject && want.similar(got)
        is JSONArray -> got is List<*> && want.similar(JSONArray(got))
        is Number -> got is Number && want.toLong() == got.toLong()
        else -> want == got
    }
}
