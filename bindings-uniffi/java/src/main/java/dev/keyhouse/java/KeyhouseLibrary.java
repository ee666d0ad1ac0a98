package dev.keyhouse.java;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Finds the native library for the generated bindings.
 *
 * <p>The generated code loads {@code libkeyhouse_uniffi} with
 * {@link System#loadLibrary} from {@code java.library.path}, or from the path
 * in the system property {@value #PATH_PROPERTY} when it is set. Unlike JNA,
 * the FFM API cannot load a library from inside a jar, so {@link #load()}
 * copies the one this jar carries (Linux x86-64) to a temporary file and sets
 * that property. Call it once at startup, before the first Keyhouse call.
 */
public final class KeyhouseLibrary {
    /** The system property with the library's path, which the generated code reads. */
    public static final String PATH_PROPERTY = "uniffi.component.keyhouse.libraryOverride";

    private static final String RESOURCE = "/linux-x86-64/libkeyhouse_uniffi.so";

    private KeyhouseLibrary() {}

    /**
     * Points the bindings at the library in this jar, unless
     * {@value #PATH_PROPERTY} is already set (an explicit choice wins) or the
     * jar has no library for this platform (then {@code java.library.path}
     * is searched).
     */
    public static synchronized void load() {
        if (System.getProperty(PATH_PROPERTY) != null) {
            return;
        }
        boolean linuxX64 = System.getProperty("os.name", "").startsWith("Linux")
                && System.getProperty("os.arch", "").matches("amd64|x86_64");
        if (!linuxX64) {
            return;
        }
        try (InputStream in = KeyhouseLibrary.class.getResourceAsStream(RESOURCE)) {
            if (in == null) {
                return;
            }
            Path dir = Files.createTempDirectory("keyhouse-native");
            Path lib = dir.resolve("libkeyhouse_uniffi.so");
            Files.copy(in, lib);
            // Deleted at exit in the reverse order: the file, then its directory.
            dir.toFile().deleteOnExit();
            lib.toFile().deleteOnExit();
            System.setProperty(PATH_PROPERTY, lib.toAbsolutePath().toString());
        } catch (IOException e) {
            throw new UncheckedIOException("keyhouse: could not unpack the native library", e);
        }
    }
}
