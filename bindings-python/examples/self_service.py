"""The self-service demo on FastAPI: the same page, routes and answers as
the Express demo (bindings-node/examples/self-service), whose page and the
browser client (bindings-node/client.mjs) it serves as they are.

    python bindings-python/examples/self_service.py      (PORT, KEYHOUSE_DB, KEYHOUSE_MAX_KEYS)

Sign-in here is a bare cookie holding the user name, enough for a demo and
for the tests; a real app puts its own session behind `owner`, and keeps
its usual CSRF protection in front of the router.
"""

import os
import re
from pathlib import Path
from typing import Optional

import uvicorn
from fastapi import Cookie, Depends, FastAPI, Request, Response
from fastapi.responses import FileResponse, JSONResponse

from keyhouse import KeyInfo, Keyhouse
from keyhouse.fastapi import APIKeyAuth, KeyEvent, key_router

NODE = Path(__file__).resolve().parents[2] / "bindings-node"
PAGE = NODE / "examples" / "self-service" / "index.html"
CLIENT = NODE / "client.mjs"
USER = re.compile(r"[A-Za-z0-9_-]{1,32}")
YEAR = 365 * 24 * 3600

kh = Keyhouse(
    os.environ.get("KEYHOUSE_DB", "keyhouse-demo-web.db"),
    max_keys_per_owner=int(os.environ.get("KEYHOUSE_MAX_KEYS", "10")),
)
app = FastAPI()


def current_user(demo_user: Optional[str] = Cookie(default=None)) -> Optional[str]:
    """The signed-in user from the demo's cookie, or None."""
    return demo_user if demo_user and USER.fullmatch(demo_user) else None


def log_event(e: KeyEvent) -> None:
    # Printed for the demo; the key itself is never part of an event.
    new = f" new={e.new_key_id}" if e.new_key_id else ""
    print(f"event {e.type} key={e.key_id} owner={e.owner_id}{new}", flush=True)


@app.get("/")
def page() -> FileResponse:
    return FileResponse(PAGE, media_type="text/html")


@app.get("/keyhouse/client.mjs")
def client() -> FileResponse:
    return FileResponse(CLIENT, media_type="text/javascript")


@app.post("/login")
async def login(request: Request) -> Response:
    body = await request.json()
    user = body.get("user") if isinstance(body, dict) else None
    if not isinstance(user, str) or not USER.fullmatch(user):
        return JSONResponse({"error": "a user name is 1-32 letters, digits, _ or -"}, status_code=400)
    response = Response(status_code=204)
    response.set_cookie("demo_user", user, httponly=True, samesite="lax")
    return response


@app.post("/logout")
def logout() -> Response:
    response = Response(status_code=204)
    response.delete_cookie("demo_user")
    return response


@app.get("/me")
def me(user: Optional[str] = Depends(current_user)) -> Response:
    if user is None:
        return JSONResponse({"error": "not signed in"}, status_code=401)
    return JSONResponse({"user": user})


require_read = APIKeyAuth(kh, permissions=["read"])


# The protected route the keys are for (declared before the router's
# catch-all paths, which cover only /api/keys…).
@app.get("/api/data")
def data(key: KeyInfo = Depends(require_read)) -> dict:
    return {"owner": key.owner_id, "keyId": key.id}


app.include_router(
    key_router(
        kh,
        owner=current_user,
        permissions=["read", "write"],
        default_permissions=["read"],
        prefixes=["kh", "demo"],
        max_expires_in=YEAR,
        allow_delete=True,
        on_event=log_event,
    ),
    prefix="/api",
)

if __name__ == "__main__":
    port = int(os.environ.get("PORT", "8000"))
    print(f"Keyhouse self-service demo (FastAPI): http://127.0.0.1:{port}/", flush=True)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")
