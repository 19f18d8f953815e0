"""The audit log over HTTP (F20): shares and password changes are recorded, and each
user reads their own security events, newest first, in keyset pages, nobody else's."""

from __future__ import annotations

from typing import Any

import httpx
import psycopg

from tests.api.conftest import PASSWORD, Account, Server
from tests.api.test_sharing_and_uploads import shared_conversation

NEW_PASSWORD = "a new horse, a new battery"
FIELDS = {"id", "event", "created_at", "ip", "user_agent", "details"}


def audit_log(client: httpx.Client, limit: int = 100) -> list[dict[str, Any]]:
    """Every page of the caller's audit log, in the order served."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": limit} | ({"cursor": cursor} if cursor else {})
        r = client.get("/v1/me/audit-log", params=params)
        assert r.status_code == 200, r.text
        body = r.json()
        assert len(body["items"]) <= limit
        items += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items


def log_in(server: Server, email: str, password: str = PASSWORD) -> httpx.Client:
    client = server.client()
    r = client.post("/v1/auth/login", json={"email": email, "password": password})
    assert r.status_code == 200, r.text
    client.headers["X-CSRF-Token"] = r.json()["csrf_token"]
    return client


def password_hash(admin_conn: psycopg.Connection, user_id: str) -> str:
    return admin_conn.execute("SELECT password_hash FROM auth.credentials WHERE user_id = %s", (user_id,)).fetchone()[0]


# --------------------------------------------------------------------------- shares


def test_shares_created_and_revoked_are_recorded_without_the_slug(alice: Account, admin_conn):
    conversation_id = shared_conversation(alice)
    first = alice.client.post("/v1/shares", json={"conversation_id": conversation_id}).json()
    assert alice.client.delete(f"/v1/shares/{first['id']}").status_code == 204
    assert alice.client.delete(f"/v1/shares/{first['id']}").status_code == 404  # not revoked twice
    second = alice.client.post("/v1/shares", json={"conversation_id": conversation_id}).json()
    # Deleting what a live link shares ends the link too.
    assert alice.client.delete(f"/v1/conversations/{conversation_id}").status_code == 204

    events = [e for e in reversed(audit_log(alice.client)) if e["event"].startswith("share.")]
    assert [(e["event"], e["details"]) for e in events] == [
        ("share.created", {"share_id": first["id"], "conversation_id": conversation_id}),
        ("share.revoked", {"share_id": first["id"], "conversation_id": conversation_id}),
        ("share.created", {"share_id": second["id"], "conversation_id": conversation_id}),
        ("share.revoked", {"share_id": second["id"], "conversation_id": conversation_id, "deleted": True}),
    ]
    assert all(e["ip"] == "127.0.0.1" and e["user_agent"].startswith("python-httpx/") for e in events), events
    # The slug is the link itself: it is in no audit record, whatever the column.
    stored = admin_conn.execute("SELECT string_agg(to_jsonb(a)::text, ' ') FROM audit_log a").fetchone()[0]
    for share in (first, second):
        assert share["slug"] not in stored


# --------------------------------------------------------------------------- password change


def test_password_change_ends_other_sessions_and_keeps_this_one(server: Server, alice: Account, admin_conn):
    other_device = log_in(server, alice.email)
    key = alice.client.post("/v1/api-keys", json={"name": "script"}).json()["key"]
    assert other_device.get("/v1/me").status_code == 200

    r = alice.client.post("/v1/me/password", json={"current_password": PASSWORD, "new_password": NEW_PASSWORD})
    assert r.status_code == 204, r.text
    assert r.content == b""

    # This session goes on, writes included (same CSRF token); the other one is over.
    assert alice.client.get("/v1/me").json()["user"]["id"] == alice.id
    assert alice.client.post("/v1/conversations", json={"title": "still here"}).status_code == 201
    assert other_device.get("/v1/me").status_code == 401
    assert admin_conn.execute("SELECT count(*) FROM sessions WHERE user_id = %s", (alice.id,)).fetchone()[0] == 1
    # API keys are separate credentials, revoked one by one.
    with server.client() as bearer:
        assert bearer.get("/v1/me", headers={"Authorization": f"Bearer {key}"}).status_code == 200

    with server.client() as anon:
        old = anon.post("/v1/auth/login", json={"email": alice.email, "password": PASSWORD})
        assert old.status_code == 401 and old.json()["error"]["code"] == "invalid_credentials"
    log_in(server, alice.email, NEW_PASSWORD).close()
    other_device.close()

    events = audit_log(alice.client)
    assert events[0]["event"] == "login.succeeded"  # the login with the new password just now
    changed = [e for e in events if e["event"] == "password.changed"]
    assert [e["details"] for e in changed] == [{"sessions_ended": 1}]
    assert [e["event"] for e in events if e["created_at"] == changed[0]["created_at"]].count("session.revoked") == 1


def test_password_change_with_an_api_key_ends_every_session(server: Server, alice: Account):
    key = alice.client.post("/v1/api-keys", json={"name": "script"}).json()["key"]
    with server.client() as bearer:
        bearer.headers["Authorization"] = f"Bearer {key}"
        r = bearer.post("/v1/me/password", json={"current_password": PASSWORD, "new_password": NEW_PASSWORD})
        assert r.status_code == 204, r.text
        assert bearer.get("/v1/me").status_code == 200
    assert alice.client.get("/v1/me").status_code == 401


def test_a_password_change_can_end_every_api_key_too(server: Server, alice: Account, bob: Account, admin_conn):
    keys = [alice.client.post("/v1/api-keys", json={"name": name}).json()["key"] for name in ("ci", "laptop")]
    bobs = bob.client.post("/v1/api-keys", json={"name": "bob's"}).json()["key"]
    r = alice.client.post("/v1/me/password", json={"current_password": PASSWORD, "new_password": NEW_PASSWORD,
                                                   "end_api_keys": True})
    assert r.status_code == 204, r.text
    with server.client() as bearer:
        for key in (*keys, bobs):   # Bob's key is his: it stays
            assert bearer.get("/v1/me", headers={"Authorization": f"Bearer {key}"}).status_code == (
                200 if key == bobs else 401)
    assert alice.client.get("/v1/me").status_code == 200   # this session stays
    assert alice.client.get("/v1/api-keys").json()["items"] == []
    events = [e["event"] for e in audit_log(alice.client)]
    assert events.count("api_key.revoked") == 2 and "password.changed" in events

    # Refused with a wrong current password: nothing is revoked.
    key = alice.client.post("/v1/api-keys", json={"name": "new"}).json()["key"]
    r = alice.client.post("/v1/me/password", json={"current_password": PASSWORD, "new_password": NEW_PASSWORD + "!",
                                                   "end_api_keys": True})  # PASSWORD is no longer hers
    assert r.status_code == 401
    with server.client() as bearer:
        assert bearer.get("/v1/me", headers={"Authorization": f"Bearer {key}"}).status_code == 200


def test_wrong_current_password_is_a_failed_login_and_changes_nothing(server: Server, alice: Account, admin_conn):
    other_device = log_in(server, alice.email)
    stored = password_hash(admin_conn, alice.id)
    events_before = len(audit_log(alice.client))

    r = alice.client.post("/v1/me/password", json={"current_password": "not my password",
                                                   "new_password": NEW_PASSWORD})
    assert r.status_code == 401 and r.headers["content-type"] == "application/json"
    assert r.json()["error"]["code"] == "invalid_credentials"
    # Invalid input is refused before any check, and counts as nothing.
    for body in ({"current_password": PASSWORD, "new_password": "short"},
                 {"current_password": PASSWORD, "new_password": "x" * 129},
                 {"current_password": PASSWORD},
                 {"current_password": PASSWORD, "new_password": NEW_PASSWORD, "extra": 1}):
        r = alice.client.post("/v1/me/password", json=body)
        assert r.status_code == 422 and r.json()["error"]["code"] == "validation_error", (body, r.text)
    # A cookie without its CSRF token may not change the password either.
    r = alice.client.post("/v1/me/password", json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
                          headers={"X-CSRF-Token": "0" * 64})
    assert r.status_code == 403

    assert password_hash(admin_conn, alice.id) == stored
    assert other_device.get("/v1/me").status_code == 200
    other_device.close()
    new_events = audit_log(alice.client)[:-events_before]
    assert [e["event"] for e in new_events] == ["login.failed"], new_events
    with server.client() as anon:
        assert anon.post("/v1/auth/login", json={"email": alice.email, "password": PASSWORD}).status_code == 200


def test_wrong_passwords_are_throttled_like_logins(alice: Account):
    """login_max_failures is 3 in the test settings."""
    body = {"current_password": "guess", "new_password": NEW_PASSWORD}
    assert [alice.client.post("/v1/me/password", json=body).status_code for _ in range(3)] == [401] * 3
    r = alice.client.post("/v1/me/password", json=body | {"current_password": PASSWORD})
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0


# --------------------------------------------------------------------------- reading one's own events


def test_audit_log_shows_only_your_events_newest_first_in_pages(server: Server, alice: Account, bob: Account,
                                                                admin_conn):
    for name in ("one", "two", "three"):
        key = alice.client.post("/v1/api-keys", json={"name": name}).json()["api_key"]
        assert alice.client.delete(f"/v1/api-keys/{key['id']}").status_code == 204
    bob.client.post("/v1/api-keys", json={"name": "bob's"})
    # Someone (bob) guessing alice's password: her account's event, so hers to see.
    with server.client() as guesser:
        assert guesser.post("/v1/auth/login", json={"email": alice.email, "password": "guess"}).status_code == 401

    served = audit_log(alice.client, limit=3)
    stored = admin_conn.execute("SELECT id::text, event FROM audit_log WHERE user_id = %s "
                                "ORDER BY created_at DESC, id DESC", (alice.id,)).fetchall()
    assert [(e["id"], e["event"]) for e in served] == stored
    assert len(stored) == 2 + 6 + 1
    assert [e["event"] for e in served][:2] == ["login.failed", "api_key.revoked"]
    assert [e["event"] for e in served][-2:] == ["login.succeeded", "signup"]
    assert all(set(e) == FIELDS for e in served), served[0]
    assert [e["created_at"] for e in served] == sorted((e["created_at"] for e in served), reverse=True)
    revoked = next(e for e in served if e["event"] == "api_key.revoked")
    assert revoked["details"]["name"] == "three" and revoked["ip"] == "127.0.0.1"

    bobs = audit_log(bob.client)
    bob_ids = {r[0] for r in admin_conn.execute("SELECT id::text FROM audit_log WHERE user_id = %s",
                                                (bob.id,)).fetchall()}
    assert {e["id"] for e in bobs} == bob_ids and len(bob_ids) == 3
    assert not bob_ids & {e["id"] for e in served}

    first = alice.client.get("/v1/me/audit-log", params={"limit": 4}).json()
    assert len(first["items"]) == 4 and first["next_cursor"]
    # Alice's cursor in bob's hands still shows bob only his own events.
    after = bob.client.get("/v1/me/audit-log", params={"cursor": first["next_cursor"]}).json()
    assert {e["id"] for e in after["items"]} <= bob_ids
    assert alice.client.get("/v1/me/audit-log", params={"cursor": "garbage"}).status_code == 400
    assert alice.client.get("/v1/me/audit-log", params={"limit": 0}).status_code == 422
    assert alice.client.get("/v1/me/audit-log", params={"limit": 101}).status_code == 422
    with server.client() as anon:
        r = anon.get("/v1/me/audit-log")
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthenticated"
