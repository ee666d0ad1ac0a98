"""A reference implementation of Keyhouse key format v1 in plain Python.

It shares no code with the Rust core: it is written from docs/key-format.md
alone. `python3 keyformat_v1.py --write` regenerates tests/vectors/format.json
and tests/vectors/parse.json from it; `--check` (run by `make test`) fails if
the committed vectors differ. The Rust core and every binding must then agree
with those vectors, so two independent implementations pin the format down.
"""

import hashlib
import hmac
import json
import re
import sys
import zlib
from pathlib import Path

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
ID_BYTES, ID_LEN, CHECKSUM_LEN = 10, 14, 6
MIN_SECRET_BYTES, MAX_SECRET_BYTES = 16, 64
MAX_PREFIX_LEN = 32
KEY_REGEX = r"\b[a-z][a-z0-9_]{0,31}_[0-9A-Za-z]{14}_[0-9A-Za-z]{28,92}\b"
VECTORS = Path(__file__).resolve().parent.parent / "vectors"


def width(n_bytes):
    """Smallest L with 62**L >= 256**n_bytes."""
    length = 0
    while 62**length < 256**n_bytes:
        length += 1
    return length


SECRET_WIDTHS = {width(n): n for n in range(MIN_SECRET_BYTES, MAX_SECRET_BYTES + 1)}
MAX_KEY_LEN = MAX_PREFIX_LEN + 1 + ID_LEN + 1 + max(SECRET_WIDTHS) + CHECKSUM_LEN


def b62(value, length):
    out = []
    for _ in range(length):
        value, digit = divmod(value, 62)
        out.append(ALPHABET[digit])
    assert value == 0, "value does not fit"
    return "".join(reversed(out))


def valid_prefix(p):
    return re.fullmatch(r"[a-z][a-z0-9_]{0,31}", p) is not None and not p.endswith("_") and "__" not in p


def encode(prefix, id_bytes, secret):
    assert valid_prefix(prefix) and len(id_bytes) == ID_BYTES
    body = f"{prefix}_{b62(int.from_bytes(id_bytes, 'big'), ID_LEN)}_{b62(int.from_bytes(secret, 'big'), width(len(secret)))}"
    return body + b62(zlib.crc32(body.encode()), CHECKSUM_LEN)


def hash_key(key, pepper=None):
    if pepper is None:
        return "sha256$" + hashlib.sha256(key.encode()).hexdigest()
    pepper_id, secret = pepper
    return f"hmac-sha256${pepper_id}$" + hmac.new(secret, key.encode(), hashlib.sha256).hexdigest()


def parse(key):
    """Returns ("VALID", prefix, id) or (reason, None, None)."""
    data = key.encode("utf-8", "surrogatepass")
    if not data:
        return ("EMPTY", None, None)
    if len(data) > MAX_KEY_LEN:
        return ("TOO_LONG", None, None)
    if re.fullmatch(rb"[0-9A-Za-z_]+", data) is None:
        return ("INVALID_CHARACTER", None, None)
    head, sep, tail = key.rpartition("_")
    if not sep:
        return ("MISSING_SEPARATOR", None, None)
    prefix, sep, key_id = head.rpartition("_")
    if not sep:
        return ("MISSING_SEPARATOR", None, None)
    if len(key_id) != ID_LEN:
        return ("INVALID_ID", None, None)
    if not valid_prefix(prefix):
        return ("INVALID_PREFIX", None, None)
    if len(tail) - CHECKSUM_LEN not in SECRET_WIDTHS:
        return ("INVALID_SECRET_LENGTH", None, None)
    body, checksum = key[:-CHECKSUM_LEN], key[-CHECKSUM_LEN:]
    if b62(zlib.crc32(body.encode()), CHECKSUM_LEN) != checksum:
        return ("CHECKSUM_MISMATCH", None, None)
    return ("VALID", prefix, key_id)


def det_bytes(label, n):
    """Deterministic test bytes: SHA-256 of a label, repeated as needed."""
    out = b""
    counter = 0
    while len(out) < n:
        out += hashlib.sha256(f"{label}/{counter}".encode()).digest()
        counter += 1
    return out[:n]


PEPPER = ("p2026", bytes(range(32)))


def format_vectors():
    cases = [
        ("kh", b"\x00" * ID_BYTES, b"\x00" * 32),
        ("kh", b"\xff" * ID_BYTES, b"\xff" * 32),
        ("acme_live", det_bytes("id-1", ID_BYTES), det_bytes("secret-1", 32)),
        ("acme_test", det_bytes("id-2", ID_BYTES), det_bytes("secret-2", 16)),
        ("a", det_bytes("id-3", ID_BYTES), det_bytes("secret-3", 64)),
        ("x9_y8_z7", det_bytes("id-4", ID_BYTES), det_bytes("secret-4", 24)),
        ("abcdefghijklmnopqrstuvwxyz012345", det_bytes("id-5", ID_BYTES), det_bytes("secret-5", 33)),
    ]
    out = []
    for prefix, id_bytes, secret in cases:
        key = encode(prefix, id_bytes, secret)
        status, _, key_id = parse(key)
        assert status == "VALID" and re.fullmatch(KEY_REGEX, key)
        out.append({
            "prefix": prefix,
            "id_bytes": id_bytes.hex(),
            "secret_bytes": secret.hex(),
            "key": key,
            "id": key_id,
            "hash": hash_key(key),
            "hash_with_pepper": hash_key(key, PEPPER),
        })
    return {
        "description": "Key strings and hashes from fixed bytes. hash_with_pepper uses the pepper below (secret in hex).",
        "pepper": {"id": PEPPER[0], "secret": PEPPER[1].hex()},
        "key_regex": KEY_REGEX,
        "vectors": out,
    }


def parse_vectors():
    good = encode("acme_live", det_bytes("pid", ID_BYTES), det_bytes("psecret", 32))
    short = encode("kh", det_bytes("pid2", ID_BYTES), det_bytes("psecret2", 16))
    long_ = encode("kh", det_bytes("pid3", ID_BYTES), det_bytes("psecret3", 64))
    prefix, key_id, rest = "acme_live", good[10:24], good[25:]

    def with_checksum(body):
        return body + b62(zlib.crc32(body.encode()), CHECKSUM_LEN)

    def flip_case(s, i):
        return s[:i] + s[i].swapcase() + s[i + 1:]

    def typo(s, i):
        c = s[i]
        return s[:i] + ("b" if c == "a" else "a") + s[i + 1:]

    body = good[:-CHECKSUM_LEN]
    inputs = [
        ("valid key", good),
        ("valid key, 16-byte secret", short),
        ("valid key, 64-byte secret", long_),
        ("valid key, one-letter prefix", with_checksum(f"a_{key_id}_{rest[:-CHECKSUM_LEN]}")),
        ("valid key, 32-character prefix", with_checksum(f"{'p' * 32}_{key_id}_{rest[:-CHECKSUM_LEN]}")),
        ("valid key, prefix with digits and underscores", with_checksum(f"a1_b2_c3_{key_id}_{rest[:-CHECKSUM_LEN]}")),
        ("empty", ""),
        ("a single underscore", "_"),
        ("10 KB of letters", "a" * 10240),
        ("10 KB of underscores", "_" * 10240),
        ("one byte longer than the longest key", "a" * (MAX_KEY_LEN + 1)),
        ("wrong checksum", body + ("000000" if not good.endswith("000000") else "000001")),
        ("checksum of another key", body + short[-CHECKSUM_LEN:]),
        ("typo in the secret", typo(good, 30)),
        ("typo in the id", typo(good, 12)),
        ("typo in the prefix", typo(good, 1)),
        ("typo in the checksum", typo(good, len(good) - 2)),
        ("case flip in the secret", flip_case(good, 40)),
        ("case flip in the id", flip_case(good, 15)),
        ("case flip in the checksum", flip_case(good, len(good) - 1)),
        ("upper-case prefix", good.replace("acme_live", "ACME_LIVE", 1)),
        ("whole key upper-cased", good.upper()),
        ("non-ASCII letter in the secret", good[:30] + "é" + good[31:]),
        ("emoji appended", good + "🔑"),
        ("NUL byte inside", good[:20] + "\u0000" + good[21:]),
        ("NUL byte appended", good + "\u0000"),
        ("trailing newline", good + "\n"),
        ("leading space", " " + good),
        ("hyphen instead of underscore", good.replace("_", "-")),
        ("missing all underscores", good.replace("_", "")),
        ("missing the underscore before the secret", good[:24] + good[25:]),
        ("missing the underscore before the id", "acme_live" + good[9 + 1:]),
        ("extra underscore inside the secret", good[:40] + "_" + good[40:]),
        ("extra underscore before the id", with_checksum(f"{prefix}__{key_id}_{rest[:-CHECKSUM_LEN]}")),
        ("trailing underscore", good + "_"),
        ("leading underscore", "_" + good),
        ("prefix starts with a digit", with_checksum(f"9acme_{key_id}_{rest[:-CHECKSUM_LEN]}")),
        ("prefix of 33 characters", with_checksum(f"{'p' * 33}_{key_id}_{rest[:-CHECKSUM_LEN]}")),
        ("prefix with a double underscore", with_checksum(f"ac__me_{key_id}_{rest[:-CHECKSUM_LEN]}")),
        ("empty prefix", with_checksum(f"_{key_id}_{rest[:-CHECKSUM_LEN]}")),
        ("id one character short", with_checksum(f"{prefix}_{key_id[:-1]}_{rest[:-CHECKSUM_LEN]}")),
        ("id one character long", with_checksum(f"{prefix}_{key_id}X_{rest[:-CHECKSUM_LEN]}")),
        ("secret one character long (44: no size produces it)", with_checksum(f"{prefix}_{key_id}_{rest[:-CHECKSUM_LEN]}A")),
        ("secret of 28 characters (no size produces it)", with_checksum(f"{prefix}_{key_id}_{rest[:28]}")),
        ("secret of 42 characters (a 31-byte secret)", with_checksum(f"{prefix}_{key_id}_{rest[:42]}")),
        ("secret truncated by a bad paste", good[:50]),
        ("only the id", key_id),
        ("only the prefix and id", f"{prefix}_{key_id}"),
        ("GitHub-style token", "ghp_" + "A" * 36),
        ("a JWT", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abc"),
        ("a UUID", "123e4567-e89b-12d3-a456-426614174000"),
    ]
    vectors = []
    for name, text in inputs:
        status, p, i = parse(text)
        v = {"name": name, "input": text, "expect": status}
        if status == "VALID":
            v["prefix"], v["id"] = p, i
        vectors.append(v)
    return {
        "description": "parse() on each input: VALID with prefix and id, or the malformed reason code.",
        "vectors": vectors,
    }


def render(obj):
    return json.dumps(obj, indent=2, ensure_ascii=False) + "\n"


def main():
    files = {"format.json": format_vectors(), "parse.json": parse_vectors()}
    mode = sys.argv[1] if len(sys.argv) > 1 else "--check"
    stale = []
    for name, obj in files.items():
        path = VECTORS / name
        if mode == "--write":
            path.write_text(render(obj), encoding="utf-8")
            print(f"reference: wrote {path}")
        elif not path.exists() or path.read_text(encoding="utf-8") != render(obj):
            stale.append(name)
    if mode == "--write":
        return
    for name in files:
        print(f"{name}: {'differs from' if name in stale else 'agrees with'} the reference implementation")
    print(f"reference: {len(files) - len(stale)} passed, {len(stale)} failed")
    if stale:
        sys.exit(1)


if __name__ == "__main__":
    main()
