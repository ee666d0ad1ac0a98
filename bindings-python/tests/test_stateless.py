"""generate, parse, hash_key and verify_hash."""

import re

import pytest

import keyhouse


def test_generate_parse_round_trip():
    g = keyhouse.generate("acme_live")
    assert g.key.startswith("acme_live_") and g.prefix == "acme_live"
    assert re.fullmatch(keyhouse.KEY_REGEX, g.key)
    p = keyhouse.parse(g.key)
    assert (p.prefix, p.id) == ("acme_live", g.id)
    assert keyhouse.hash_key(g.key) == g.hash
    assert keyhouse.verify_hash(g.key, g.hash)
    assert not keyhouse.verify_hash(keyhouse.generate("acme_live").key, g.hash)


def test_default_prefix_and_secret_sizes():
    assert keyhouse.generate().prefix == "kh"
    short = keyhouse.generate("a", secret_bytes=16).key
    long = keyhouse.generate("a", secret_bytes=64).key
    assert len(long) - len(short) == 86 - 22


def test_pepper():
    p = keyhouse.Pepper("p1", b"x" * 32)
    g = keyhouse.generate("acme", pepper=p)
    assert g.hash.startswith("hmac-sha256$p1$")
    assert keyhouse.verify_hash(g.key, g.hash, [p])
    with pytest.raises(keyhouse.UnknownPepperError):
        keyhouse.verify_hash(g.key, g.hash)
    assert "x" * 16 not in repr(p) and "redacted" in repr(p)


def test_reprs_never_show_the_key():
    g = keyhouse.generate("acme")
    assert g.key not in repr(g) and g.key not in str(g)


def test_malformed_keys_raise_with_a_reason():
    with pytest.raises(keyhouse.MalformedError) as e:
        keyhouse.parse("acme_live_" + "A" * 60)
    assert e.value.code == "MALFORMED" and e.value.reason
    assert isinstance(e.value, ValueError)
    with pytest.raises(keyhouse.MalformedError):
        keyhouse.hash_key("nope")
    assert keyhouse.verify_hash("nope", keyhouse.generate().hash) is False


def test_every_error_code_has_its_own_class():
    import keyhouse.errors as errors

    classes = [c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, keyhouse.KeyhouseError) and c is not keyhouse.KeyhouseError]
    codes = {c.code for c in classes}
    assert codes == {
        "MALFORMED", "INVALID_ARGUMENT", "NOT_FOUND", "KEY_LIMIT_EXCEEDED", "UNKNOWN_PEPPER",
        "SCHEMA_TOO_NEW", "STORE_BUSY", "STORE_ERROR", "CLOSED",
    }
