package dev.keyhouse.java;

/**
 * The core's stable error codes, e.g. {@code NOT_FOUND}: the same in every
 * language, and what {@code KeyhouseException.code()} returns. The Rust
 * error's {@code code()} method does not reach Java (uniffi-bindgen-java 0.5
 * generates no methods on errors), so the mapping from each generated
 * exception class to its code is here, and {@code bindings-uniffi/generate.sh}
 * adds {@code code()} to the generated base class, calling it.
 */
public final class ErrorCodes {
    private ErrorCodes() {}

    /** The stable code of {@code e}. */
    public static String code(KeyhouseException e) {
        return switch (e) {
            case KeyhouseException.Malformed x -> "MALFORMED";
            case KeyhouseException.InvalidArgument x -> "INVALID_ARGUMENT";
            case KeyhouseException.NotFound x -> "NOT_FOUND";
            case KeyhouseException.KeyLimitExceeded x -> "KEY_LIMIT_EXCEEDED";
            case KeyhouseException.UnknownPepper x -> "UNKNOWN_PEPPER";
            case KeyhouseException.SchemaTooNew x -> "SCHEMA_TOO_NEW";
            case KeyhouseException.StoreBusy x -> "STORE_BUSY";
            case KeyhouseException.StoreException x -> "STORE_ERROR";
            case KeyhouseException.Closed x -> "CLOSED";
            default -> throw new IllegalArgumentException("unknown Keyhouse error " + e.getClass().getName());
        };
    }
}
