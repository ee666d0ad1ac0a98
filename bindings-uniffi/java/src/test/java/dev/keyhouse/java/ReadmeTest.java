package dev.keyhouse.java;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The README's Java example, word for word from README.md, run on a temporary file. */
class ReadmeTest {
    @Test
    void theReadmeExampleRuns() throws Exception {
        String readme = Files.readString(Support.ROOT.resolve("README.md"));
        int section = readme.indexOf("## Quick start: Java (JVM servers)");
        int start = readme.indexOf("```java\n", section);
        String example = readme.substring(start + 8, readme.indexOf("```\n", start));
        // The statements this test runs, as they stand in the README.
        for (String line : List.of(
                "KeyhouseLibrary.load();",
                "CreateOptions options = new CreateOptions(\"team-42\", \"ci\", null, TimeSpan.of(Duration.ofDays(30)), null,",
                "List.of(\"files:*\"), null, null, null, new RateLimit(100, TimeSpan.of(Duration.ofMinutes(1))));",
                "VerifyResult r = kh.verify(key, List.of(\"files:read\"), 1);",
                "System.err.println(e.code() + \": \" + e.getMessage());")) {
            assertTrue(example.contains(line), "the README's example no longer has: " + line);
        }

        KeyhouseLibrary.load();
        try (Keyhouse kh = Keyhouse.open(Support.tempDb(), null)) {
            CreateOptions options = new CreateOptions("team-42", "ci", null, TimeSpan.of(Duration.ofDays(30)), null,
                    List.of("files:*"), null, null, null, new RateLimit(100, TimeSpan.of(Duration.ofMinutes(1))));
            try (CreatedKey created = kh.create(options)) {
                String key = created.key();
                VerifyResult r = kh.verify(key, List.of("files:read"), 1);
                assertTrue(r.isValid());
                assertEquals("team-42", r.key().ownerId());
                assertEquals(Outcome.INSUFFICIENT_PERMISSIONS, kh.verify(key, List.of("billing:read"), 1).outcome());
            }
            KeyhouseException e = assertThrows(KeyhouseException.class,
                    () -> kh.create(new CreateOptions(null, null, "Bad Prefix", null, null, null, null, null, null, null)));
            assertEquals("INVALID_ARGUMENT", e.code());
        }
    }
}
