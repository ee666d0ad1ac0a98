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

`key_router` lets signed-in users manage their own keys over HTTP; see its
docstring and the contract in `core/src/self_service/openapi.yaml`.
"""

import inspect
import json
import logging
import math
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable, Coroutine, Dict, Optional, Sequence, Union

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.routing import APIRoute
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from . import KeyInfo, Keyhouse, RateLimit, VerifyResult
from ._native import KeyApi

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


@dataclass(frozen=True)
class KeyEvent:
    """A change an owner made to a key, for audit logs and emails. It never holds the key."""

    type: str
    """`created`, `revoked`, `rolled` or `deleted`."""
    owner_id: str
    key_id: str
    """The key acted on; for a roll, the old key."""
    new_key_id: Optional[str]
    """For a roll, the replacement's id."""
    at: datetime


Seconds = Union[int, timedelta]
_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
_log = logging.getLogger("keyhouse")


def _whole_seconds(name: str, value: Seconds) -> int:
    seconds = value.total_seconds() if isinstance(value, timedelta) else value
    if isinstance(seconds, bool) or not float(seconds).is_integer():
        raise TypeError(f"{name} must be whole seconds (an int or a timedelta)")
    return int(seconds)


class _KeyRoute(APIRoute):
    """Answers a 401 raised by the app's owner dependency in the router's
    error shape, `{"error": {"code", "message"}}`, like every other refusal.
    The dependency runs before the endpoint, so only the route's handler
    (FastAPI's documented extension point) can see it."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            # Starlette's class, which FastAPI's extends: auth libraries raise either.
            except StarletteHTTPException as e:
                if e.status_code != 401:
                    raise
                body = {"error": {"code": "UNAUTHENTICATED", "message": str(e.detail)}}
                headers = {**(e.headers or {}), "Cache-Control": "no-store"}
                return Response(json.dumps(body), status_code=401, headers=headers, media_type="application/json")

        return guarded


def key_router(
    keyhouse: Keyhouse,
    *,
    owner: Callable[..., Any],
    permissions: Sequence[str] = (),
    default_permissions: Sequence[str] = (),
    prefixes: Sequence[str] = (),
    max_expires_in: Optional[Seconds] = None,
    max_grace: Optional[Seconds] = None,
    allow_delete: bool = False,
    owner_limits: bool = False,
    rate_limit: Optional[RateLimit] = None,
    max_body_bytes: Optional[int] = None,
    on_event: Optional[Callable[[KeyEvent], Any]] = None,
) -> APIRouter:
    """An `APIRouter` with which signed-in users manage their own keys.

        app.include_router(key_router(kh, owner=current_user_id, permissions=["read", "write"]), prefix="/api")

    `owner` is a FastAPI dependency returning the caller's owner id (a
    `str`, `int` or `UUID`), or `None` (or raising a 401) when no one is
    signed in. Every request acts on that owner's keys only; another
    owner's key id answers 404.

    The policy: owners may grant only `permissions` (never `*`), and get
    `default_permissions` when they name none; they may pick one of
    `prefixes`, a lifetime up to `max_expires_in` (which is also the
    default), and a roll grace up to `max_grace` (default one day); a roll
    keeps the key's expiry. Credits, refill and rate limit are admin-only
    unless `owner_limits=True`; `rate_limit` is given to every key an owner
    creates (per key). Deleting is off unless `allow_delete=True`. Bodies
    are `application/json` only, up to `max_body_bytes` (16 KiB by default).

    `on_event` (sync or async) gets a `KeyEvent` after each create, revoke,
    roll and delete, once the answer is sent; if it raises, the error is
    logged.

    The routes and answers are the core's, the same as Express's
    `keyRouter`: see `core/src/self_service/openapi.yaml`.
    """
    policy: Dict[str, Any] = {
        "permissions": list(permissions),
        "defaultPermissions": list(default_permissions),
        "prefixes": list(prefixes),
        "allowDelete": allow_delete,
        "ownerLimits": owner_limits,
    }
    if max_expires_in is not None:
        policy["maxExpiresIn"] = _whole_seconds("max_expires_in", max_expires_in)
    if max_grace is not None:
        policy["maxGrace"] = _whole_seconds("max_grace", max_grace)
    if rate_limit is not None:
        policy["rateLimit"] = {"limit": rate_limit.limit, "window": _whole_seconds("rate_limit", rate_limit.window)}
    if max_body_bytes is not None:
        policy["maxBodyBytes"] = max_body_bytes
    api = KeyApi(keyhouse, json.dumps(policy))

    async def answer(request: Request, path: str, who: Any) -> Response:
        body = await _read_body(request, api.max_body_bytes)
        status, headers, text, event = await run_in_threadpool(
            api.handle,
            _owner_text(who),
            request.method,
            _raw_path(request, path),
            request.url.query,
            request.headers.get("content-type"),
            body,
        )
        # After the answer is sent: a slow audit log never holds back a key.
        background = BackgroundTask(_emit, on_event, event) if event is not None and on_event is not None else None
        return Response(content=text or None, status_code=status, headers=dict(headers), background=background)

    async def keys(request: Request, who: Any = Depends(owner)) -> Response:
        return await answer(request, "/keys", who)

    async def key_path(rest: str, request: Request, who: Any = Depends(owner)) -> Response:
        return await answer(request, "/keys/" + rest, who)

    router = APIRouter(route_class=_KeyRoute)
    # One catch-all per prefix: the core routes, so unknown paths and
    # methods get its 404 and 405 in the same shape as everything else.
    # The contract is documented once, in the OpenAPI file, not here.
    router.add_api_route("/keys", keys, methods=_METHODS, include_in_schema=False)
    router.add_api_route("/keys/{rest:path}", key_path, methods=_METHODS, include_in_schema=False)
    return router


def _owner_text(who: Any) -> Optional[str]:
    """The owner id as the store keeps it. Anything but a str, an int or a
    UUID is the app's mistake (an object would stringify alike for every
    user), so it fails loudly rather than guessing."""
    if who is None or who == "":
        return None
    if isinstance(who, str):
        return who
    if isinstance(who, (int, uuid.UUID)) and not isinstance(who, bool):
        return str(who)
    raise TypeError(f"key_router: owner must return a str, int or UUID (or None), not {type(who).__name__}")


def _raw_path(request: Request, decoded: str) -> str:
    """The path below the mount point as the client sent it, still
    percent-encoded, as Express hands it over: the core decodes each
    segment itself, so `%2F` inside an id routes the same in both."""
    raw = request.scope.get("raw_path")
    full = request.scope["path"]
    if isinstance(raw, bytes) and full.endswith(decoded):
        prefix = full[: len(full) - len(decoded)]
        text = raw.decode("latin-1")
        if text.startswith(prefix):
            return text[len(prefix) :]
    return decoded


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, but never more than one byte past `limit`: enough for the
    core to refuse it, without holding a huge upload in memory."""
    chunks = []
    size = 0
    async for chunk in request.stream():
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            break
    return b"".join(chunks)[: limit + 1]


async def _emit(on_event: Callable[[KeyEvent], Any], event_json: str) -> None:
    raw = json.loads(event_json)
    event = KeyEvent(
        type=raw["type"],
        owner_id=raw["ownerId"],
        key_id=raw["keyId"],
        new_key_id=raw["newKeyId"],
        at=datetime.fromisoformat(raw["at"].replace("Z", "+00:00")),
    )
    try:
        if inspect.iscoroutinefunction(on_event):
            await on_event(event)
        else:
            # A plain function may block (a database write, an email): it
            # runs in a thread, off the event loop.
            result = await run_in_threadpool(on_event, event)
            if inspect.isawaitable(result):
                await result
    except Exception:
        _log.exception("keyhouse: on_event failed for %s of key %s", event.type, event.key_id)


__all__ = ["APIKeyAuth", "KeyEvent", "key_router"]
