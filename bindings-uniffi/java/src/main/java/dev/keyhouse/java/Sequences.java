package dev.keyhouse.java;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.function.Function;
import java.util.function.ToLongFunction;

/**
 * Reads and sizes the lists that cross the FFI boundary, for the generated
 * sequence converters. uniffi-bindgen-java 0.5.2 builds each list through a
 * stream, which a profile of {@code verify} (its permissions in, the key's
 * permissions out) showed allocating a pipeline per call;
 * {@code bindings-uniffi/generate.sh} points the converters here instead.
 * What they return is unchanged: an unmodifiable list, in order.
 */
final class Sequences {
    private Sequences() {}

    /** The {@code len} items that follow in {@code buf}, each read by {@code item}. */
    static <T> List<T> read(ByteBuffer buf, int len, Function<ByteBuffer, T> item) {
        if (len <= 0) {
            // As the stream's toList() gave: an empty list that answers
            // contains(null) with false (List.of() would throw).
            return Collections.emptyList();
        }
        // A length beyond what the buffer holds fails in the reads below, as
        // before, rather than in allocating room for it.
        List<T> items = new ArrayList<>(Math.min(len, buf.remaining()));
        for (int i = 0; i < len; i++) {
            items.add(item.apply(buf));
        }
        return Collections.unmodifiableList(items);
    }

    /** The bytes that writing every item of {@code value} may take. */
    static <T> long size(List<T> value, ToLongFunction<T> item) {
        long size = 0;
        for (T v : value) {
            size += item.applyAsLong(v);
        }
        return size;
    }
}
