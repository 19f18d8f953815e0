"""The first admin by one-time setup link (migration 0020): `studio up` issues the token
as studio_owner, the browser app's /setup page checks it (GET /v1/setup/{token}) and
uses it (POST /v1/setup), which creates the admin and signs them in like login."""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable

import httpx
import psycopg
import pytest

from studio.auth import repository as auth_repo
from studio.auth import service as auth_service
from studio.config import API_ROLE, OWNER_ROLE
from tests.api.conftest import PASSWORD, Server, sign_up_and_log_in

SETUP_EVENTS = ["signup", "admin.action", "login.succeeded"]


@pytest.fixture
def issue(pg, db) -> Callable[[], str | None]:
    """Issues a setup token the way `studio up` does: as studio_owner, committed."""
    def issue_token() -> str | None:
        with psycopg.connect(pg.conninfo(OWNER_ROLE, db)) as conn:
            return auth_service.issue_setup_token(conn)
    return issue_token


def setup(client: httpx.Client, token: str, email: str = "root@example.org", **extra: object) -> httpx.Response:
    return client.post("/v1/setup", json={"token": token, "email": email, "password": PASSWORD, **extra})


def counts(admin_conn: psycopg.Connection) -> tuple[int, int]:
    """(users, admins)."""
    row = admin_conn.execute("SELECT count(*), count(*) FILTER (WHERE role = 'admin') FROM users").fetchone()
    return row[0], row[1]


def test_a_valid_link_creates_the_admin_and_signs_them_in_like_login(server: Server, anon, admin_conn, issue):
    token = issue()
    assert token is not None and len(token) >= 43
    checked = anon.get(f"/v1/setup/{token}")
    assert checked.status_code == 200 and checked.json() == {"valid": True}
    assert checked.headers["cache-control"] == "no-store"

    r = setup(anon, token, "Root@Example.ORG", display_name="Root")
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    body = r.json()
    assert set(body) == {"user", "csrf_token", "expires_at"}
    assert body["user"]["email"] == "root@example.org" and body["user"]["role"] == "admin"
    assert body["user"]["display_name"] == "Root" and len(body["csrf_token"]) == 64
    cookie = r.headers["set-cookie"].lower()
    assert "studio_session=" in cookie and "httponly" in cookie and "samesite=lax" in cookie

    me = anon.get("/v1/me")
    assert me.status_code == 200, me.text
    assert me.json()["user"]["role"] == "admin" and me.json()["csrf_token"] == body["csrf_token"]
    # The session is a real one: a write with its CSRF token works, and it can log in again.
    anon.headers["X-CSRF-Token"] = body["csrf_token"]
    assert anon.post("/v1/api-keys", json={"name": "admin laptop"}).status_code == 201
    with server.client() as again:
        login = again.post("/v1/auth/login", json={"email": "root@example.org", "password": PASSWORD})
        assert login.status_code == 200 and login.json()["user"]["role"] == "admin"
        # Login's answer carries a session too: never cached either.
        assert login.headers["cache-control"] == "no-store"

    # Stored hashed only, used once, by this user; recorded in their audit log.
    [(stored, used_at, used_by)] = admin_conn.execute(
        "SELECT token_hash, used_at, used_by::text FROM auth.setup_tokens").fetchall()
    assert bytes(stored) == hashlib.sha256(token.encode()).digest() and token.encode() not in bytes(stored)
    assert used_at is not None and used_by == body["user"]["id"]
    # The setup's records: one transaction, one created_at (the earliest), so compared as a set.
    events = [e for (e,) in admin_conn.execute(
        "SELECT event FROM audit_log WHERE user_id = %s AND created_at = (SELECT min(created_at) FROM audit_log"
        " WHERE user_id = %s)", (body["user"]["id"], body["user"]["id"]))]
    assert sorted(events) == sorted(SETUP_EVENTS)
    setup_record = admin_conn.execute("SELECT details FROM audit_log WHERE user_id = %s AND event = 'admin.action'",
                                      (body["user"]["id"],)).fetchone()[0]
    assert setup_record == {"action": "setup", "role": "admin"}
    assert counts(admin_conn) == (1, 1)


def test_a_used_link_is_refused_and_creates_nobody(anon, admin_conn, issue):
    token = issue()
    assert token is not None
    assert setup(anon, token).status_code == 200
    with httpx.Client(base_url=str(anon.base_url), timeout=10) as other:
        again = setup(other, token, "second@example.org")
        assert again.status_code == 404
        assert again.json()["error"]["code"] == "setup_link_used"
        assert again.headers["cache-control"] == "no-store"
        assert "set-cookie" not in again.headers
        checked = other.get(f"/v1/setup/{token}")
        assert checked.status_code == 404 and checked.json()["error"]["code"] == "setup_link_used"
    assert counts(admin_conn) == (1, 1)


def test_a_wrong_token_is_refused(anon, admin_conn, issue):
    assert issue() is not None
    for wrong in ("not-the-token", "x" * 43):
        checked = anon.get(f"/v1/setup/{wrong}")
        assert checked.status_code == 404 and checked.json()["error"]["code"] == "not_found"
        r = setup(anon, wrong)
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found", r.text
    # Not a token at all: a 4xx JSON error, never a 500.
    assert anon.get("/v1/setup/" + "x" * 500).status_code == 422
    assert anon.post("/v1/setup", json={"token": "", "email": "a@example.org", "password": PASSWORD}
                     ).status_code == 422
    assert anon.post("/v1/setup", json={"email": "a@example.org", "password": PASSWORD}).status_code == 422
    assert counts(admin_conn) == (0, 0)


def test_a_new_link_replaces_the_previous_one(anon, issue):
    first, second = issue(), issue()
    assert first and second and first != second
    assert anon.get(f"/v1/setup/{first}").status_code == 404
    assert setup(anon, first).json()["error"]["code"] == "not_found"
    assert anon.get(f"/v1/setup/{second}").status_code == 200
    assert setup(anon, second).status_code == 200


def test_refused_once_an_admin_exists(pg, db, anon, admin_conn, issue):
    token = issue()
    assert token is not None
    # Meanwhile an operator made an admin (`studio user create --admin`).
    sign_up = anon.post("/v1/auth/signup", json={"email": "ops@example.org", "password": PASSWORD})
    assert sign_up.status_code == 201
    with psycopg.connect(pg.conninfo(OWNER_ROLE, db)) as conn:
        auth_repo.set_user_role_direct(conn, email="ops@example.org", role="admin")
    checked = anon.get(f"/v1/setup/{token}")
    assert checked.status_code == 404 and checked.json()["error"]["code"] == "setup_complete"
    r = setup(anon, token)
    assert r.status_code == 404 and r.json()["error"]["code"] == "setup_complete"
    assert counts(admin_conn) == (1, 1)
    # And no new link is issued while an admin exists.
    assert issue() is None
    assert admin_conn.execute("SELECT count(*) FROM auth.setup_tokens").fetchone()[0] == 1


def test_a_plain_sign_up_never_becomes_admin(anon, admin_conn, issue):
    """No "first sign-up becomes admin": with a link waiting, a sign-up is a user."""
    assert issue() is not None
    r = anon.post("/v1/auth/signup", json={"email": "first@example.org", "password": PASSWORD})
    assert r.status_code == 201
    assert admin_conn.execute("SELECT role FROM users WHERE email = 'first@example.org'").fetchone() == ("user",)
    assert counts(admin_conn) == (1, 0)


def test_sign_up_rules_apply_and_a_refused_attempt_keeps_the_link(anon, admin_conn, issue):
    token = issue()
    assert token is not None
    short = anon.post("/v1/setup", json={"token": token, "email": "root@example.org", "password": "short"})
    assert short.status_code == 422 and short.json()["error"]["code"] == "validation_error"
    bad_email = anon.post("/v1/setup", json={"token": token, "email": "not an email", "password": PASSWORD})
    assert bad_email.status_code == 422
    extra = setup(anon, token, role="admin")
    assert extra.status_code == 422
    # The email of an existing account: 409, nothing changes, the link still works.
    assert anon.post("/v1/auth/signup", json={"email": "taken@example.org", "password": PASSWORD}).status_code == 201
    taken = setup(anon, token, "taken@example.org")
    assert taken.status_code == 409 and taken.json()["error"]["code"] == "conflict"
    assert counts(admin_conn) == (1, 0)
    assert admin_conn.execute("SELECT used_at FROM auth.setup_tokens").fetchone()[0] is None
    assert anon.get(f"/v1/setup/{token}").status_code == 200
    assert setup(anon, token).status_code == 200
    assert counts(admin_conn) == (2, 1)


def test_concurrent_uses_of_one_link_create_one_admin_at_most(server: Server, admin_conn, issue):
    token = issue()
    assert token is not None
    attempts = 8
    barrier = threading.Barrier(attempts)
    results: list[httpx.Response] = []
    lock = threading.Lock()

    def use(n: int) -> None:
        with server.client() as client:
            barrier.wait()
            response = setup(client, token, f"racer-{n}@example.org")
        with lock:
            results.append(response)

    threads = [threading.Thread(target=use, args=(n,)) for n in range(attempts)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    statuses = sorted(r.status_code for r in results)
    assert statuses == [200] + [404] * (attempts - 1), [r.text for r in results]
    assert {r.json()["error"]["code"] for r in results if r.status_code == 404} == {"setup_link_used"}
    assert counts(admin_conn) == (1, 1)


def test_two_transactions_using_one_token_serialise(pg, db, admin_conn, issue):
    """The database's side of the race, made deterministic: the second use waits for the
    first transaction and then finds the token used."""
    token = issue()
    assert token is not None
    token_hash = hashlib.sha256(token.encode()).digest()
    hash_ = "$argon2id$v=19$m=65536,t=3,p=4$" + "a" * 60
    use = "SELECT state, user_id FROM auth.setup_admin(%s, %s, %s, NULL)"
    outcome: dict[str, tuple] = {}
    with psycopg.connect(pg.conninfo(API_ROLE, db)) as first:
        first.execute("SELECT set_config('role', 'anon', true)")
        state, user_id = first.execute(use, (token_hash, "one@example.org", hash_)).fetchone()
        assert state == "created" and user_id is not None

        def second_use() -> None:
            with psycopg.connect(pg.conninfo(API_ROLE, db)) as second:
                second.execute("SELECT set_config('role', 'anon', true)")
                outcome["second"] = second.execute(use, (token_hash, "two@example.org", hash_)).fetchone()

        racer = threading.Thread(target=second_use)
        racer.start()
        time.sleep(0.5)
        assert racer.is_alive(), f"the second use did not wait for the first: {outcome}"
        first.commit()
        racer.join(30)
    assert outcome["second"] == ("used", None)
    assert counts(admin_conn) == (1, 1)


def test_the_token_never_reaches_the_access_log(anon, issue, caplog):
    token = issue()
    assert token is not None
    with caplog.at_level(logging.INFO, logger="studio.access"):
        assert anon.get(f"/v1/setup/{token}").status_code == 200
        assert anon.get("/v1/setup/wrong-token").status_code == 404
    lines = [r.getMessage() for r in caplog.records if r.name == "studio.access"]
    assert any("/v1/setup/{token}" in line for line in lines), lines
    assert not any(token in line or "wrong-token" in line for line in lines), lines


def test_the_api_cannot_issue_tokens(pg, db, server: Server):
    """Issuing is studio_owner's (the launcher's): neither anon nor a signed-in user may."""
    account = sign_up_and_log_in(server)
    with psycopg.connect(pg.conninfo(API_ROLE, db)) as conn:
        for role in ("anon", "authenticated"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege), conn.transaction():
                conn.execute("SELECT set_config('role', %s, true)", (role,))
                conn.execute("SELECT auth.issue_setup_token(%s)", (b"x" * 32,))
            with pytest.raises(psycopg.errors.InsufficientPrivilege), conn.transaction():
                conn.execute("SELECT set_config('role', %s, true)", (role,))
                conn.execute("SELECT count(*) FROM auth.setup_tokens")
    account.client.close()
