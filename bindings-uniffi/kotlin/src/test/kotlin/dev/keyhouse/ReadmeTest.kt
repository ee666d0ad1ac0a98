package dev.keyhouse

import java.time.Duration
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Test

/** The README's Kotlin example, with an in-memory store and a fixed pepper. */
class ReadmeTest {
    @Test
    fun theReadmeExampleRuns() {
        val printed = mutableListOf<String>()
        fun println(s: Any?) = printed.add(s.toString())
        Keyhouse.open(":memory:", Config(pepper = Pepper("p1", "0123456789abcdef0123".toByteArray()))).use { kh ->
            val created = kh.create(CreateOptions(ownerId = "team-42", permissions = listOf("files:*"),
                                                  expiresIn = Duration.ofDays(30), rateLimit = RateLimit(100, Duration.ofMinutes(1))))
            println(created.key())

            val result = kh.verify(created.key(), listOf("files:read"))
            when (result.outcome) {
                Outcome.VALID -> println(result.key?.ownerId)
                Outcome.RATE_LIMITED -> println("retry after ${result.retryAfter}")
                else -> println(result.outcome.code())
            }
            try { kh.get("00000000000000") } catch (e: KeyhouseException.NotFound) { println(e.code()) }
        }
        assertEquals(listOf("team-42", "NOT_FOUND"), printed.drop(1))
    }
}
