"""The outcome codes of `Keyhouse.verify`."""

from enum import Enum


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
