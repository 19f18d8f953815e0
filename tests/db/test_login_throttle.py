"""The login throttle's and the sign-up's SQL (migration 0031, docs/decisions/0011), called
as the API calls them: studio_api switched to anon, with the client address in the
transaction's settings."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest

from studio.config import API_ROLE

HASH = "$argon2id$v=19$m=65536,t=3,p=4$" + "a" * 40
# pair max, client max, delay after, delay max (s), window (s)
LIMITS = (3, 5, 4, 60, 3600)


@pytest.fixture
def api(pg, db) -> Iterator[psycopg.Connection]:
    with psycopg.connect(pg.conninfo(API_ROLE, db), autocommit=True) as conn:
        yield conn


@contextmanager
def as_anon(api: psycopg.Connection, address: str | None) -> Iterator[psycopg.Connection]:
    with api.transaction():
        api.execute("SELECT set_config('role', 'anon', true), set_config('studio.client_ip', %s, true)",
                    (address or "",))
        yield api


def retry_after(api: psycopg.Connection, email: str, address: str | None) -> int:
    with as_anon(api, address) as tx:
        row = tx.execute("SELECT auth.login_retry_after(%s, %s, %s, %s, %s, %s)", (email, *LIMITS)).fetchone()
    assert row is not None
    return int(row[0])


def fail(api: psycopg.Connection, email: str, address: str | None) -> None:
    with as_anon(api, address) as tx:
        tx.execute("SELECT auth.login_failed(%s, %s)", (email, LIMITS[-1]))


def counters(admin_conn: psycopg.Connection) -> dict[str, int]:
    return dict(admin_conn.execute("SELECT bucket, hits FROM rate_limit_counters").fetchall())


def signup(api: psycopg.Connection, email: str, address: str = "192.0.2.1") -> Any:
    with as_anon(api, address) as tx:
        row = tx.execute("SELECT auth.request_signup(%s, %s, NULL)", (email, HASH)).fetchone()
    assert row is not None
    return row[0]


def test_failures_count_per_pair_per_address_and_per_email(api, admin_conn):
    user_id = admin_conn.execute("INSERT INTO users (email) VALUES ('ann@example.org') RETURNING id").fetchone()[0]
    fail(api, "ann@example.org", "192.0.2.1")
    fail(api, "nobody@example.org", "192.0.2.1")
    fail(api, "ann@example.org", None)  # no address known
    digest = hashlib.sha256(b"nobody@example.org").hexdigest()
    assert counters(admin_conn) == {
        "login:email:ann@example.org": 2, "login:ip:192.0.2.1": 2,
        f"login:ip:192.0.2.1:user:{user_id}": 1,          # erased with the account ('%:user:<id>')
        "login:email:nobody@example.org": 1, f"login:ip:192.0.2.1:email:{digest}": 1,
        f"login:ip:unknown:user:{user_id}": 1,
    }
    # The pair lockout (3) holds for that pair only, until the window ends.
    fail(api, "ann@example.org", "192.0.2.1")
    assert retry_after(api, "ann@example.org", "192.0.2.1") == 0
    fail(api, "ann@example.org", "192.0.2.1")
    wait = retry_after(api, "ann@example.org", "192.0.2.1")
    assert 0 < wait <= 3600
    assert retry_after(api, "nobody@example.org", "192.0.2.1") == 0
    # Elsewhere the account only waits a little: 4 failures, the threshold, 1 s.
    assert retry_after(api, "ann@example.org", "198.51.100.1") == 1
    # The address's own lockout (5, any email).
    fail(api, "other@example.org", "192.0.2.1")
    assert 0 < retry_after(api, "someone@example.org", "192.0.2.1") <= 3600
    assert retry_after(api, "someone@example.org", "198.51.100.1") == 0


def test_a_new_session_clears_only_that_clients_failures(api, admin_conn):
    user_id = admin_conn.execute("INSERT INTO users (email) VALUES ('bo@example.org') RETURNING id").fetchone()[0]
    for address in ("192.0.2.1", "192.0.2.1", "192.0.2.2"):
        fail(api, "bo@example.org", address)
    with as_anon(api, "192.0.2.1") as tx:
        tx.execute("SELECT auth.create_session(%s, %s, now() + interval '1 hour')",
                   (user_id, hashlib.sha256(uuid.uuid4().bytes).digest()))
    left = counters(admin_conn)
    assert left[f"login:ip:192.0.2.1:user:{user_id}"] == 0
    assert left[f"login:ip:192.0.2.2:user:{user_id}"] == 1
    assert left["login:email:bo@example.org"] == 3 and left["login:ip:192.0.2.1"] == 2


def test_request_signup_creates_once_and_tells_the_owner_once_an_hour(api, admin_conn):
    assert signup(api, "cy@example.org") is True
    assert signup(api, "cy@example.org", "203.0.113.9") is False
    assert signup(api, "cy@example.org", "203.0.113.10") is False
    assert admin_conn.execute("SELECT count(*) FROM users").fetchone() == (1,)
    assert admin_conn.execute("SELECT count(*) FROM audit_log WHERE event = 'signup'").fetchone() == (1,)
    notices = admin_conn.execute("SELECT kind, title, data FROM user_notifications").fetchall()
    assert notices == [("system", "Someone tried to sign up with your email",
                        {"reason": "signup_with_existing_email"})]
    # The strict path (the CLI, the setup link) still refuses a taken email outright.
    with pytest.raises(psycopg.errors.UniqueViolation), as_anon(api, None) as tx:
        tx.execute("SELECT auth.signup('cy@example.org', %s)", (HASH,))


def test_studio_auth_may_write_no_other_notification(admin_conn):
    user_id = admin_conn.execute("INSERT INTO users (email) VALUES ('di@example.org') RETURNING id").fetchone()[0]
    with pytest.raises(psycopg.errors.InsufficientPrivilege), admin_conn.transaction():
        admin_conn.execute("SET LOCAL ROLE studio_auth")
        admin_conn.execute("INSERT INTO user_notifications (user_id, kind, title) VALUES (%s, 'system', 'hi')",
                           (user_id,))
