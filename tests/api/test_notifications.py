"""Notifications: a generation that ends notifies its owner (from the transaction that
records the outcome, by a real worker); the owner lists them newest first in keyset
pages with the unread count, marks them read and deletes them; nobody else sees or
touches them (404)."""

from __future__ import annotations

import uuid

from tests.api.conftest import Account
from tests.api.test_generations import model_id, wait_for, worker  # noqa: F401 - the worker fixture


def _notifications(account: Account, **params: object) -> dict:
    response = account.client.get("/v1/notifications", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_an_ended_generation_notifies_its_owner_only(alice: Account, bob: Account, worker, admin_conn):  # noqa: F811
    espeak = model_id(alice, "espeak-en")
    ok = alice.client.post("/v1/generations", json={"type": "audio", "model_id": espeak, "prompt": "Hello there."})
    bad = alice.client.post("/v1/generations", json={"type": "audio", "model_id": espeak, "prompt": "Hi.",
                                                      "params": {"voice": "zz-nowhere"}})
    assert ok.status_code == 202 and bad.status_code == 202, (ok.text, bad.text)
    assert wait_for(alice, ok.json()["id"], {"succeeded", "failed"})["status"] == "succeeded"
    failed = wait_for(alice, bad.json()["id"], {"succeeded", "failed"})
    assert failed["status"] == "failed", failed

    listed = _notifications(alice)
    assert listed["unread_count"] == 2 and listed["next_cursor"] is None
    by_generation = {n["data"]["generation_id"]: n for n in listed["items"]}
    ready, lost = by_generation[ok.json()["id"]], by_generation[bad.json()["id"]]
    assert (ready["kind"], ready["title"], ready["body"], ready["read_at"]) == ("generation", "Audio ready",
                                                                               "Hello there.", None)
    assert ready["data"]["status"] == "succeeded"
    assert lost["title"] == "Audio failed" and "zz-nowhere" in lost["body"] and lost["body"].endswith("Hi.")

    # Bob sees none of them and can touch none of them.
    assert _notifications(bob) == {"items": [], "next_cursor": None, "unread_count": 0}
    assert bob.client.post(f"/v1/notifications/{ready['id']}/read").status_code == 404
    assert bob.client.delete(f"/v1/notifications/{ready['id']}").status_code == 404
    assert bob.client.post("/v1/notifications/read-all").json() == {"marked": 0}
    assert _notifications(alice)["unread_count"] == 2

    assert alice.client.post(f"/v1/notifications/{ready['id']}/read").status_code == 204
    assert alice.client.post(f"/v1/notifications/{ready['id']}/read").status_code == 204  # again: no change
    after = _notifications(alice)
    assert after["unread_count"] == 1
    assert [n["id"] for n in _notifications(alice, unread="true")["items"]] == [lost["id"]]
    assert alice.client.post("/v1/notifications/read-all").json() == {"marked": 1}
    assert _notifications(alice)["unread_count"] == 0

    assert alice.client.delete(f"/v1/notifications/{lost['id']}").status_code == 204
    assert alice.client.delete(f"/v1/notifications/{lost['id']}").status_code == 404
    assert [n["id"] for n in _notifications(alice)["items"]] == [ready["id"]]


def test_a_cancelled_generation_notifies_nobody(alice: Account, admin_conn):
    created = alice.client.post("/v1/generations", json={"type": "audio", "model_id": model_id(alice, "espeak-en"),
                                                          "prompt": "Never mind."}).json()
    assert alice.client.post(f"/v1/generations/{created['id']}/cancel").status_code in (200, 202)
    assert _notifications(alice)["items"] == []


def test_pages_newest_first_and_bad_input(alice: Account, admin_conn):
    for i in range(5):
        admin_conn.execute(
            "INSERT INTO user_notifications (user_id, kind, title, created_at)"
            " VALUES (%s, 'system', %s, now() - make_interval(secs => %s))", (alice.id, f"note {i}", i))
    titles, cursor = [], None
    while True:
        body = _notifications(alice, limit=2, **({"cursor": cursor} if cursor else {}))
        assert body["unread_count"] == 5
        titles += [n["title"] for n in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert titles == [f"note {i}" for i in range(5)]

    assert alice.client.get("/v1/notifications", params={"cursor": "not-ours"}).status_code == 400
    assert alice.client.get("/v1/notifications", params={"limit": 0}).status_code == 422
    assert alice.client.post("/v1/notifications/not-a-uuid/read").status_code == 422
    assert alice.client.post(f"/v1/notifications/{uuid.uuid4()}/read").status_code == 404
    assert alice.client.get("/v1/notifications").status_code == 200


def test_muted_kinds_are_not_written(alice: Account, bob: Account, worker, admin_conn):  # noqa: F811
    assert alice.client.get("/v1/notifications/preferences").json() == {"muted": []}
    for bad in ({"muted": ["nonsense"]}, {"muted": "generation"}, {"muted": [], "extra": 1}, {}):
        r = alice.client.put("/v1/notifications/preferences", json=bad)
        assert r.status_code == 422, (bad, r.text)
    r = alice.client.put("/v1/notifications/preferences", json={"muted": ["generation", "backup", "generation"]})
    assert r.status_code == 200 and r.json() == {"muted": ["backup", "generation"]}
    assert alice.client.get("/v1/notifications/preferences").json() == {"muted": ["backup", "generation"]}
    assert bob.client.get("/v1/notifications/preferences").json() == {"muted": []}  # each their own

    espeak = model_id(alice, "espeak-en")
    ids = [account.client.post("/v1/generations", json={"type": "audio", "model_id": espeak, "prompt": "Quiet."})
           .json()["id"] for account in (alice, bob)]
    wait_for(alice, ids[0], {"succeeded", "failed"})
    wait_for(bob, ids[1], {"succeeded", "failed"})
    assert _notifications(alice)["items"] == []
    assert [n["data"]["generation_id"] for n in _notifications(bob)["items"]] == [ids[1]]

    # Backup alerts go to admins who did not mute them (public.notify_admins).
    admin_conn.execute("UPDATE users SET role = 'admin' WHERE id IN (%s, %s)", (alice.id, bob.id))
    assert admin_conn.execute("SELECT public.notify_admins('Backup failed', 'disk full', '{}')").fetchone() == (1,)
    assert [n["title"] for n in _notifications(bob)["items"]][0] == "Backup failed"
    assert _notifications(alice)["items"] == []

    r = alice.client.put("/v1/notifications/preferences", json={"muted": []})
    assert r.json() == {"muted": []}


def test_a_share_link_about_to_expire_notifies_its_owner_once(server, alice: Account, bob: Account, pg, db,
                                                              tmp_path):
    import asyncio
    from datetime import datetime, timedelta, timezone

    from studio.config import WORKER_ROLE
    from studio.db.scopes import WorkerDatabase
    from studio.ops import housekeeping
    from studio.storage.local import LocalStorage

    def share(account: Account, hours: float) -> dict:
        conversation = account.client.post("/v1/conversations", json={"title": "Plans"}).json()
        expires = (datetime.now(timezone.utc) + timedelta(hours=hours)).isoformat()
        made = account.client.post("/v1/shares", json={"conversation_id": conversation["id"], "expires_at": expires})
        assert made.status_code == 201, made.text
        return made.json()

    soon, later = share(alice, 2), share(alice, 72)
    revoked = share(alice, 3)
    assert alice.client.delete(f"/v1/shares/{revoked['id']}").status_code == 204
    assert bob.client.put("/v1/notifications/preferences", json={"muted": ["share"]}).status_code == 200
    share(bob, 1)

    async def housekeep() -> dict[str, int]:
        database = WorkerDatabase(pg.conninfo(WORKER_ROLE, db), min_size=1, max_size=2, timeout=10)
        await database.open()
        try:
            return await housekeeping.run(database, LocalStorage(tmp_path / "storage"), housekeeping.Retention())
        finally:
            await database.close()

    assert asyncio.run(housekeep())["expiring_share_notices"] == 2  # alice's soon one, bob's (muted)
    assert asyncio.run(housekeep())["expiring_share_notices"] == 0  # told once
    items = _notifications(alice)["items"]
    assert [(n["kind"], n["title"], n["data"]["share_id"]) for n in items] == [
        ("share", "A shared link expires soon", soon["id"])]
    assert f"/s/{soon['slug']}" in items[0]["body"] and later["id"] not in str(items)
    assert _notifications(bob)["items"] == []
