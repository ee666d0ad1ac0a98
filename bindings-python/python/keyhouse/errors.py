"""Exceptions raised by keyhouse, one class per stable error code.

Every class derives from `KeyhouseError`, whose `.code` is the core's code,
and where it fits also from the matching built-in, so `except ValueError`
catches bad arguments as it would anywhere else.
"""

from typing import ClassVar, Optional


class KeyhouseError(Exception):
    """Base class of every keyhouse error. `code` is the stable error code."""

    code: ClassVar[str] = "KEYHOUSE_ERROR"


class MalformedError(KeyhouseError, ValueError):
    """The string is not a well-formed key. `reason` says why, e.g. `CHECKSUM_MISMATCH`."""

    code: ClassVar[str] = "MALFORMED"
    reason: Optional[str] = None


class InvalidArgumentError(KeyhouseError, ValueError):
    """An argument is out of range or badly formed."""

    code: ClassVar[str] = "INVALID_ARGUMENT"


class NotFoundError(KeyhouseError, LookupError):
    """No key has this id."""

    code: ClassVar[str] = "NOT_FOUND"


class KeyLimitExceededError(KeyhouseError):
    """The owner already has the maximum number of active keys."""

    code: ClassVar[str] = "KEY_LIMIT_EXCEEDED"


class UnknownPepperError(KeyhouseError):
    """A stored hash names a pepper that is not configured."""

    code: ClassVar[str] = "UNKNOWN_PEPPER"


class SchemaTooNewError(KeyhouseError):
    """The database was written by a newer Keyhouse."""

    code: ClassVar[str] = "SCHEMA_TOO_NEW"


class StoreBusyError(KeyhouseError):
    """The database stayed locked past the busy timeout."""

    code: ClassVar[str] = "STORE_BUSY"


class StoreError(KeyhouseError):
    """The database failed, or holds data keyhouse cannot read."""

    code: ClassVar[str] = "STORE_ERROR"


class ClosedError(KeyhouseError):
    """The store was closed."""

    code: ClassVar[str] = "CLOSED"


__all__ = [
    "KeyhouseError",
    "MalformedError",
    "InvalidArgumentError",
    "NotFoundError",
    "KeyLimitExceededError",
    "UnknownPepperError",
    "SchemaTooNewError",
    "StoreBusyError",
    "StoreError",
    "ClosedError",
]
