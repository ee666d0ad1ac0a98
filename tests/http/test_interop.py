"""The Express and FastAPI demos on one SQLite file, as two services of
one app would be: a key created through either router verifies through the
other's protected route, and a revocation through either is seen by both."""

import pytest

from conftest import Server


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    base = tmp_path_factory.mktemp("interop")
    servers = [Server(kind, base / "shared.db", base / f"{kind}.log") for kind in ("express", "fastapi")]
    yield servers
    for s in servers:
        s.stop()


@pytest.mark.parametrize("maker, checker", [(0, 1), (1, 0)])
def test_a_key_from_one_router_works_through_the_other(pair, maker, checker):
    made_by, checked_by = pair[maker], pair[checker]
    alice_here, alice_there = made_by.user("alice-interop"), checked_by.user("alice-interop")
    created = alice_here.create(name=f"from {made_by.kind}")
    assert alice_there.call_with(created["key"]) == 200
    shown = alice_there.http.get(f"/keys/{created['id']}")
    assert shown.status_code == 200 and shown.json()["name"] == f"from {made_by.kind}"
    assert checked_by.user("bob-interop").http.get(f"/keys/{created['id']}").status_code == 404

    assert alice_there.http.post(f"/keys/{created['id']}/revoke", json={}).status_code == 200
    assert alice_here.call_with(created["key"]) == 401
    assert alice_there.call_with(created["key"]) == 401
