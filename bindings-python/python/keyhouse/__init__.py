"""Keyhouse: API keys with one Rust core.

- `generate`, `parse`, `hash_key` and `verify_hash` work without a store.
- `Keyhouse` is a store on SQLite or PostgreSQL: create, verify, get, list, update,
  revoke, delete, roll and purge_expired keys.
"""

from ._native import (
    KEY_REGEX,
    MAX_KEY_LEN,
    SCHEMA_VERSION,
    CreatedKey,
    GeneratedKey,
    KeyInfo,
    KeyPage,
    Keyhouse,
    ParsedKey,
    Pepper,
    RateLimit,
    RateLimitState,
    Refill,
    VerifyResult,
    generate,
    hash_key,
    parse,
    verify_hash,
)
from .errors import (
    ClosedError,
    InvalidArgumentError,
    KeyhouseError,
    KeyLimitExceededError,
    MalformedError,
    NotFoundError,
    SchemaTooNewError,
    StoreBusyError,
    StoreError,
    UnknownPepperError,
)
from .outcome import Outcome

__all__ = [
    "KEY_REGEX",
    "MAX_KEY_LEN",
    "SCHEMA_VERSION",
    "ClosedError",
    "CreatedKey",
    "GeneratedKey",
    "InvalidArgumentError",
    "KeyInfo",
    "KeyLimitExceededError",
    "KeyPage",
    "Keyhouse",
    "KeyhouseError",
    "MalformedError",
    "NotFoundError",
    "Outcome",
    "ParsedKey",
    "Pepper",
    "RateLimit",
    "RateLimitState",
    "Refill",
    "SchemaTooNewError",
    "StoreBusyError",
    "StoreError",
    "UnknownPepperError",
    "VerifyResult",
    "generate",
    "hash_key",
    "parse",
    "verify_hash",
]
