"""Type stubs for the native module; `keyhouse` re-exports these names."""

from datetime import datetime, timedelta
from os import PathLike
from typing import Any, Awaitable, Dict, List, Optional, Sequence, Tuple, Union, final

from .outcome import Outcome

Seconds = Union[timedelta, int, float]
JSON = Union[None, bool, int, float, str, List[Any], Dict[str, Any]]

SCHEMA_VERSION: int
KEY_REGEX: str
MAX_KEY_LEN: int

@final
class Pepper:
    """A server-side secret mixed into every hash, named by an id."""

    def __init__(self, id: str, secret: bytes) -> None: ...
    @property
    def id(self) -> str: ...

@final
class Refill:
    """Every `interval`, `remaining` is reset to `amount`."""

    def __init__(self, amount: int, interval: Seconds) -> None: ...
    @property
    def amount(self) -> int: ...
    @property
    def interval(self) -> timedelta: ...

@final
class RateLimit:
    """At most `limit` verifications per `window`."""

    def __init__(self, limit: int, window: Seconds) -> None: ...
    @property
    def limit(self) -> int: ...
    @property
    def window(self) -> timedelta: ...

@final
class RateLimitState:
    """A key's rate-limit state after a verification."""

    @property
    def limit(self) -> int: ...
    @property
    def window(self) -> timedelta: ...
    @property
    def remaining(self) -> int: ...
    @property
    def reset_at(self) -> datetime: ...

@final
class KeyInfo:
    """Everything the store knows about a key, except its secret."""

    @property
    def id(self) -> str: ...
    @property
    def prefix(self) -> str: ...
    @property
    def owner_id(self) -> Optional[str]: ...
    @property
    def name(self) -> Optional[str]: ...
    @property
    def permissions(self) -> List[str]: ...
    @property
    def metadata(self) -> Dict[str, Any]: ...
    @property
    def enabled(self) -> bool: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def updated_at(self) -> datetime: ...
    @property
    def expires_at(self) -> Optional[datetime]: ...
    @property
    def revoked_at(self) -> Optional[datetime]: ...
    @property
    def last_used_at(self) -> Optional[datetime]: ...
    @property
    def usage_count(self) -> int: ...
    @property
    def remaining(self) -> Optional[int]: ...
    @property
    def refill(self) -> Optional[Refill]: ...
    @property
    def last_refill_at(self) -> Optional[datetime]: ...
    @property
    def rate_limit(self) -> Optional[RateLimit]: ...

@final
class CreatedKey:
    """A new key: the plaintext, shown once, and its info."""

    @property
    def key(self) -> str: ...
    @property
    def info(self) -> KeyInfo: ...

@final
class GeneratedKey:
    """A key made by `generate`, with its id and hash."""

    @property
    def key(self) -> str: ...
    @property
    def id(self) -> str: ...
    @property
    def prefix(self) -> str: ...
    @property
    def hash(self) -> str: ...

@final
class ParsedKey:
    """The public parts of a well-formed key."""

    @property
    def prefix(self) -> str: ...
    @property
    def id(self) -> str: ...

@final
class KeyPage:
    """One page of keys, oldest first."""

    @property
    def keys(self) -> List[KeyInfo]: ...
    @property
    def next_cursor(self) -> Optional[str]: ...
    def __len__(self) -> int: ...

@final
class VerifyResult:
    """The result of verifying a key."""

    @property
    def outcome(self) -> Outcome: ...
    @property
    def key(self) -> Optional[KeyInfo]: ...
    @property
    def malformed_reason(self) -> Optional[str]: ...
    @property
    def retry_after(self) -> Optional[timedelta]: ...
    @property
    def rate_limit(self) -> Optional[RateLimitState]: ...
    def is_valid(self) -> bool: ...

@final
class Keyhouse:
    """An API-key store on SQLite (a path) or PostgreSQL (a ``postgres://`` URL), safe to share across threads."""

    def __init__(
        self,
        path: Union[str, "PathLike[str]"],
        *,
        default_prefix: str = ...,
        secret_bytes: int = ...,
        pepper: Optional[Pepper] = ...,
        previous_peppers: Optional[Sequence[Pepper]] = ...,
        default_permissions: Sequence[str] = ...,
        default_expiry: Optional[Seconds] = ...,
        min_expiry: Optional[Seconds] = ...,
        max_expiry: Optional[Seconds] = ...,
        max_keys_per_owner: Optional[int] = ...,
        usage_flush_interval: Seconds = ...,
        busy_timeout: Seconds = ...,
        rehash_on_verify: bool = ...,
        verify_cache_size: int = ...,
        pool_size: int = ...,
        connect_timeout: Seconds = ...,
        statement_timeout: Seconds = ...,
        max_staleness: Seconds = ...,
        schema: str = ...,
        listen_url: Optional[str] = ...,
        lease_size: Optional[int] = ...,
        lease_idle: Seconds = ...,
    ) -> None: ...
    def create(
        self,
        *,
        owner_id: Optional[str] = ...,
        name: Optional[str] = ...,
        prefix: Optional[str] = ...,
        expires_in: Optional[Seconds] = ...,
        expires_at: Optional[datetime] = ...,
        permissions: Optional[Sequence[str]] = ...,
        metadata: Optional[Dict[str, JSON]] = ...,
        remaining: Optional[int] = ...,
        refill: Optional[Refill] = ...,
        rate_limit: Optional[RateLimit] = ...,
    ) -> CreatedKey: ...
    def create_many(self, options: Sequence[Dict[str, Any]]) -> List[CreatedKey]: ...
    def verify(self, key: str, permissions: Optional[Sequence[str]] = ..., cost: int = ...) -> VerifyResult: ...
    def verify_async(
        self, key: str, permissions: Optional[Sequence[str]] = ..., cost: int = ...
    ) -> Awaitable[VerifyResult]: ...
    def get(self, id: str) -> KeyInfo: ...
    def list(
        self,
        *,
        owner_id: Optional[str] = ...,
        limit: int = ...,
        cursor: Optional[str] = ...,
        include_revoked: bool = ...,
    ) -> KeyPage: ...
    def update(
        self,
        id: str,
        *,
        name: Optional[str] = ...,
        enabled: bool = ...,
        permissions: Sequence[str] = ...,
        metadata: Dict[str, JSON] = ...,
        expires_at: Optional[datetime] = ...,
        remaining: Optional[int] = ...,
        refill: Optional[Refill] = ...,
        rate_limit: Optional[RateLimit] = ...,
    ) -> KeyInfo: ...
    def revoke(self, id: str) -> KeyInfo: ...
    def delete(self, id: str) -> None: ...
    def roll(self, id: str, grace: Seconds = ...) -> CreatedKey: ...
    def purge_expired(self) -> int: ...
    def flush(self) -> None: ...
    def close(self) -> None: ...
    def __enter__(self) -> "Keyhouse": ...
    def __exit__(self, *exc: object) -> bool: ...

def generate(prefix: str = ..., *, secret_bytes: int = ..., pepper: Optional[Pepper] = ...) -> GeneratedKey: ...
def parse(key: str) -> ParsedKey: ...
def hash_key(key: str, pepper: Optional[Pepper] = ...) -> str: ...
def verify_hash(key: str, stored_hash: str, peppers: Optional[Sequence[Pepper]] = ...) -> bool: ...
def http_status(outcome: str) -> int: ...
def run_cli(args: Sequence[str]) -> int: ...

@final
class KeyApi:
    """The core's owner-scoped key API over one store, for `keyhouse.fastapi.key_router`."""

    def __init__(self, keyhouse: Keyhouse, policy: str) -> None: ...
    @property
    def max_body_bytes(self) -> int: ...
    def handle(
        self, owner: Optional[str], method: str, path: str, query: str, content_type: Optional[str], body: bytes
    ) -> Tuple[int, List[Tuple[str, str]], str, Optional[str]]: ...
