"""FastAPI (and Starlette) integration: a dependency that authenticates a request.

    from fastapi import Depends, FastAPI
    from keyhouse import KeyInfo, Keyhouse
    from keyhouse.fastapi import APIKeyAuth

    kh = Keyhouse("keyhouse.db")
    app = FastAPI()
    require_read = APIKeyAuth(kh, permissions=["files:read"])

    @app.get("/files")
    def files(key: KeyInfo = Depends(require_read)):
        return {"owner": key.owner_id}

The key is read from `X-API-Key`, or else from `Authorization: Bearer <key>`.
A missing, malformed, unknown, revoked, disabled or expired key gets 401;
missing permissions get 403; a rate limit or exhausted credits get 429 with
`Retry-After`. On success the route receives the key's `KeyInfo`.
"""

import math
from typing import Optional, Sequence

from fastapi import HTTPException, Request
from starlette.concurrency import run_in_threadpool

from . import KeyInfo, Keyhouse, VerifyResult

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="api"'}
# Seconds of Retry-After for credits that no refill brings back.
_NO_REFILL = 86400


class APIKeyAuth:
    """A FastAPI dependency that verifies the request's API key.

    `permissions` are required of every key; `cost` is charged to keys with
    credits. By default it uses `verify_async`: a key answered from memory
    is verified inline, in microseconds, and anything that needs the
    database (a PostgreSQL round trip, a credit to spend) runs in a thread,
    so the event loop never waits on the network or a lock.
    `run_in_thread=True` sends every verify to a thread.
    """

    def __init__(
        self,
        keyhouse: Keyhouse,
        *,
        permissions: Sequence[str] = (),
        cost: int = 1,
        header: str = "X-API-Key",
        run_in_thread: bool = False,
    ) -> None:
        self.keyhouse = keyhouse
        self.permissions = list(permissions)
        self.cost = cost
        self.header = header
        self.run_in_thread = run_in_thread

    def key_from(self, request: Request) -> Optional[str]:
        """The presented key, from the API-key header or a Bearer token."""
        key = request.headers.get(self.header)
        if key:
            return key.strip()
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
        return None

    async def __call__(self, request: Request) -> KeyInfo:
        key = self.key_from(request)
        if key is None:
            raise HTTPException(status_code=401, detail="missing API key", headers=_CHALLENGE)
        if self.run_in_thread:
            result = await run_in_threadpool(self.keyhouse.verify, key, self.permissions, self.cost)
        else:
            result = await self.keyhouse.verify_async(key, self.permissions, self.cost)
        return self.accept(result)

    @staticmethod
    def accept(result: VerifyResult) -> KeyInfo:
        """The key's info for a VALID result; the matching HTTPException otherwise."""
        outcome = result.outcome
        # The status is the core's, the same in every binding.
        status = outcome.http_status
        if status == 200 and result.key is not None:
            return result.key
        if status == 403:
            raise HTTPException(status_code=403, detail=outcome.value)
        if status == 429:
            retry = result.retry_after
            # The core gives the wait for a rate limit, and for spent credits
            # until the next refill. Credits no refill brings back do not
            # return by waiting: a day-long hint, not a hot retry loop.
            seconds = math.ceil(retry.total_seconds()) if retry is not None else _NO_REFILL
            raise HTTPException(status_code=429, detail=outcome.value, headers={"Retry-After": str(max(seconds, 1))})
        raise HTTPException(status_code=401, detail=outcome.value, headers=_CHALLENGE)


__all__ = ["APIKeyAuth"]
