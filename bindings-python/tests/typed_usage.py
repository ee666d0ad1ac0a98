"""A typed use of the public API, checked by mypy in test_typing.py (never run)."""

from datetime import datetime, timedelta, timezone
from typing import List, Optional

from fastapi import APIRouter

import keyhouse
from keyhouse import CreatedKey, KeyInfo, Keyhouse, Outcome, VerifyResult
from keyhouse.fastapi import KeyEvent, key_router


def issue(kh: Keyhouse, owner: str) -> str:
    created: CreatedKey = kh.create(
        owner_id=owner,
        expires_at=datetime.now(timezone.utc) + timedelta(days=30),
        permissions=["files:*"],
        metadata={"plan": "pro"},
        refill=keyhouse.Refill(100, timedelta(days=1)),
        rate_limit=keyhouse.RateLimit(10, 60),
    )
    return created.key


def check(kh: Keyhouse, key: str) -> Optional[KeyInfo]:
    result: VerifyResult = kh.verify(key, ["files:read"], cost=1)
    if result.outcome is Outcome.RATE_LIMITED and result.retry_after is not None:
        wait: float = result.retry_after.total_seconds()
        print(wait)
    return result.key if result.is_valid() else None


def owners(kh: Keyhouse) -> List[Optional[str]]:
    page = kh.list(limit=10, include_revoked=True)
    return [k.owner_id for k in page.keys]


def stateless() -> bool:
    g = keyhouse.generate("acme", secret_bytes=32)
    p: keyhouse.ParsedKey = keyhouse.parse(g.key)
    return keyhouse.verify_hash(g.key, keyhouse.hash_key(g.key)) and p.id == g.id


def errors(kh: Keyhouse) -> str:
    try:
        kh.get("00000000000000")
    except keyhouse.NotFoundError as e:
        return e.code
    return ""



def audit(e: KeyEvent) -> None:
    print(e.type, e.key_id, e.new_key_id, e.at.isoformat())


def self_service(kh: Keyhouse) -> APIRouter:
    return key_router(kh, owner=lambda: "alice", permissions=["read"], max_expires_in=timedelta(days=30), on_event=audit)
