"""The outcome codes of `Keyhouse.verify`."""

from enum import Enum

from . import _native


class Outcome(str, Enum):
    """What verifying a key found. Members compare equal to their code strings."""

    VALID = "VALID"
    MALFORMED = "MALFORMED"
    NOT_FOUND = "NOT_FOUND"
    REVOKED = "REVOKED"
    DISABLED = "DISABLED"
    EXPIRED = "EXPIRED"
    INSUFFICIENT_PERMISSIONS = "INSUFFICIENT_PERMISSIONS"
    RATE_LIMITED = "RATE_LIMITED"
    USAGE_EXCEEDED = "USAGE_EXCEEDED"

    def __str__(self) -> str:
        return self.value

    @property
    def http_status(self) -> int:
        """The HTTP status an API answers a request with this outcome: 200,
        401 (the credential is no good), 403 (missing permissions) or 429 (a
        rate limit or spent credits; see `VerifyResult.retry_after`). The
        same in every language, decided by the core."""
        return _native.http_status(self.value)
