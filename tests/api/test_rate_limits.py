"""Request rate limits (F13): counted in Postgres, so shared by every API process; 429
with Retry-After when over; 503 (production) or a warning (elsewhere) when the limiter
cannot check.

Over HTTP, the limiter is exercised through a test-only router mounted on the real app,
whose endpoints call `ratelimit.check` exactly as the real endpoints do; `enforce` is
also driven directly against the database with the API's own pool."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import psycopg
import pytest
from fastapi import APIRouter, Request
from starlette.responses import Response

from studio.auth import tokens
from studio.auth.identity import Credential, RequestContext
from studio.config import API_ROLE, Settings
from studio.db.scopes import ApiDatabase
from studio.http.deps import Cred
from studio.http.errors import ApiError
from studio.http.responses import json_response
from studio.ratelimit import service as ratelimit
from tests.api.conftest import (
    Account,
    Server,
    early_in_a_window,
    make_settings,
    serve,
    sign_up_and_log_in,
)

PROBE = ratelimit.Limit("probe", 3, 60)

router = APIRouter(prefix="/test-only")


@router.post("/user")
async def limited_for_user(request: Request, cred: Cred) -> Response:
    await ratelimit.check(request, PROBE, cred)
    return json_response({"ok": True})


@router.post("/anon")
async def limited_for_anon(request: Request) -> Response:
    await ratelimit.check(request, PROBE)
    return json_response({"ok": True})


def serve_with_probe(settings: Settings, conninfo: str) -> Iterator[Server]:
    """The real app, with the test-only router mounted."""
    yield from serve(settings, conninfo, customize=lambda app: app.include_router(router))


@pytest.fixture
def limited(pg, db, tmp_path) -> Iterator[Server]:
    yield from serve_with_probe(make_settings(home=tmp_path), pg.conninfo(API_ROLE, db))


@pytest.fixture
def limited_too(pg, db, tmp_path) -> Iterator[Server]:
    """A second server (own event loop, own pool) on the same database."""
    yield from serve_with_probe(make_settings(home=tmp_path / "second"), pg.conninfo(API_ROLE, db))


@pytest.fixture
def production(pg, db, tmp_path) -> Iterator[Server]:
    yield from serve_with_probe(make_settings(env="production", home=tmp_path), pg.conninfo(API_ROLE, db))


@pytest.fixture
def alice(limited: Server) -> Iterator[Account]:
    account = sign_up_and_log_in(limited, "alice@example.org")
    yield account
    account.client.close()


@pytest.fixture
def bob(limited: Server) -> Iterator[Account]:
    account = sign_up_and_log_in(limited, "bob@example.org")
    yield account
    account.client.close()


def hits(admin_conn: psycopg.Connection, bucket: str) -> int:
    row = admin_conn.execute("SELECT coalesce(sum(hits), 0) FROM rate_limit_counters WHERE bucket = %s",
                             (bucket,)).fetchone()
    assert row is not None
    return int(row[0])


def break_limiter(admin_conn: psycopg.Connection) -> None:
    admin_conn.execute("REVOKE EXECUTE ON FUNCTION auth.rate_limit_hit(text, integer, integer)"
                       " FROM anon, authenticated")


def assert_rate_limited(r: httpx.Response, window: int = PROBE.window_seconds) -> None:
    assert r.status_code == 429, r.text
    assert 1 <= int(r.headers["retry-after"]) <= window
    error = r.json()["error"]
    assert error["code"] == "rate_limited"
    assert "retry in" in error["message"]
    assert set(error) == {"code", "message"}


# --- over HTTP -------------------------------------------------------------------------

def test_within_the_limit_then_429_and_refusals_still_count(alice: Account, admin_conn):
    early_in_a_window(PROBE.window_seconds)  # the counts below must fall in one window
    for _ in range(PROBE.limit):
        r = alice.client.post("/test-only/user")
        assert r.status_code == 200, r.text
    assert_rate_limited(alice.client.post("/test-only/user"))
    assert_rate_limited(alice.client.post("/test-only/user"))
    # The refused requests were committed too: hammering is not free.
    assert hits(admin_conn, f"probe:user:{alice.id}") == PROBE.limit + 2


def test_the_count_is_shared_by_two_servers(limited: Server, limited_too: Server, alice: Account, admin_conn):
    early_in_a_window(PROBE.window_seconds)  # the counts below must fall in one window
    urls = [f"{server.url}/test-only/user" for server in (limited, limited_too)]
    # Alternating servers (the session cookie is valid on both: it lives in the database).
    statuses = [alice.client.post(urls[i % 2]).status_code for i in range(PROBE.limit)]
    assert statuses == [200] * PROBE.limit
    assert_rate_limited(alice.client.post(urls[1]))
    assert_rate_limited(alice.client.post(urls[0]))

    # Concurrent requests split across both servers: exactly `limit` get through.
    admin_conn.execute("DELETE FROM rate_limit_counters")
    with httpx.Client(timeout=10) as anon, ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda i: anon.post(urls[i % 2].replace("/user", "/anon")).status_code, range(10)))
    assert sorted(statuses) == [200] * PROBE.limit + [429] * (10 - PROBE.limit)
    assert hits(admin_conn, "probe:ip:127.0.0.1") == 10


def test_each_user_has_their_own_bucket(alice: Account, bob: Account):
    early_in_a_window(PROBE.window_seconds)  # the counts below must fall in one window
    for _ in range(PROBE.limit):
        assert alice.client.post("/test-only/user").status_code == 200
    assert_rate_limited(alice.client.post("/test-only/user"))
    assert bob.client.post("/test-only/user").status_code == 200
    assert_rate_limited(alice.client.post("/test-only/user"))


def test_a_users_api_key_and_session_share_the_bucket(limited: Server, alice: Account):
    early_in_a_window(PROBE.window_seconds)  # the counts below must fall in one window
    key = alice.client.post("/v1/api-keys", json={"name": "ci"}).json()["key"]
    with httpx.Client(base_url=limited.url, timeout=10, headers={"Authorization": f"Bearer {key}"}) as by_key:
        for _ in range(PROBE.limit):
            assert by_key.post("/test-only/user").status_code == 200
    assert_rate_limited(alice.client.post("/test-only/user"))


def test_anonymous_callers_are_counted_per_client_address(limited: Server, admin_conn):
    early_in_a_window(PROBE.window_seconds)  # the counts below must fall in one window
    other = httpx.HTTPTransport(local_address="127.0.0.2")
    with limited.client() as here, httpx.Client(base_url=limited.url, timeout=10, transport=other) as there:
        for _ in range(PROBE.limit):
            assert here.post("/test-only/anon").status_code == 200
        assert_rate_limited(here.post("/test-only/anon"))
        assert there.post("/test-only/anon").status_code == 200
    assert hits(admin_conn, "probe:ip:127.0.0.1") == PROBE.limit + 1
    assert hits(admin_conn, "probe:ip:127.0.0.2") == 1


def test_the_next_window_starts_afresh(alice: Account, admin_conn):
    early_in_a_window(PROBE.window_seconds)  # the counts below must fall in one window
    for _ in range(PROBE.limit):
        alice.client.post("/test-only/user")
    assert_rate_limited(alice.client.post("/test-only/user"))
    admin_conn.execute("UPDATE rate_limit_counters SET window_start = window_start - interval '1 hour'")
    assert alice.client.post("/test-only/user").status_code == 200


def test_production_fails_closed_when_the_limiter_cannot_check(production: Server, admin_conn):
    with production.client() as client:
        assert client.post("/test-only/anon").status_code == 200
        break_limiter(admin_conn)
        r = client.post("/test-only/anon")
    assert r.status_code == 503, r.text
    assert int(r.headers["retry-after"]) >= 1
    assert r.json()["error"]["code"] == "unavailable"


def test_test_env_fails_open_when_the_limiter_cannot_check(limited: Server, admin_conn, caplog):
    break_limiter(admin_conn)
    with caplog.at_level(logging.WARNING, logger="studio.ratelimit"), limited.client() as client:
        statuses = [client.post("/test-only/anon").status_code for _ in range(PROBE.limit + 2)]
    assert statuses == [200] * (PROBE.limit + 2)
    assert any("fail open" in record.getMessage() for record in caplog.records)


# --- enforce, directly against the database -------------------------------------------------

def run_enforce(conninfo: str, calls: int, *, limit: ratelimit.Limit = PROBE, cred: Credential | None = None,
                fail_closed: bool = False, client_ip: str = "198.51.100.7") -> list[ApiError | None]:
    """`calls` sequential enforce() calls through a one-connection API pool: the limiter
    needs no connection besides the one the request would use anyway."""

    async def scenario() -> list[ApiError | None]:
        db = ApiDatabase(conninfo, min_size=1, max_size=1, timeout=5)
        await db.open()
        outcomes: list[ApiError | None] = []
        try:
            for _ in range(calls):
                ctx = RequestContext(uuid.uuid4().hex, client_ip=client_ip)
                try:
                    await ratelimit.enforce(db, ctx, limit, cred=cred, fail_closed=fail_closed)
                    outcomes.append(None)
                except ApiError as exc:
                    outcomes.append(exc)
        finally:
            await db.close()
        return outcomes

    return asyncio.run(scenario())


def test_enforce_allows_then_refuses_with_retry_after(pg, db, admin_conn):
    outcomes = run_enforce(pg.conninfo(API_ROLE, db), PROBE.limit + 2)
    assert outcomes[:PROBE.limit] == [None] * PROBE.limit
    for refused in outcomes[PROBE.limit:]:
        assert refused is not None and (refused.status, refused.code) == (429, "rate_limited")
        assert refused.headers is not None and 1 <= int(refused.headers["Retry-After"]) <= PROBE.window_seconds
    assert hits(admin_conn, "probe:ip:198.51.100.7") == PROBE.limit + 2


def test_enforce_counts_a_signed_in_caller_by_user(limited: Server, alice: Account, pg, db, admin_conn):
    cred = Credential("session", tokens.token_hash(alice.client.cookies[tokens.SESSION_COOKIE]), via_cookie=True)
    outcomes = run_enforce(pg.conninfo(API_ROLE, db), PROBE.limit + 1, cred=cred)
    assert outcomes[:PROBE.limit] == [None] * PROBE.limit and outcomes[-1] is not None
    assert hits(admin_conn, f"probe:user:{alice.id}") == PROBE.limit + 1
    assert hits(admin_conn, "probe:ip:198.51.100.7") == 0


def test_enforce_fails_closed_or_open_as_told(pg, db, admin_conn, caplog):
    break_limiter(admin_conn)
    [closed] = run_enforce(pg.conninfo(API_ROLE, db), 1, fail_closed=True)
    assert closed is not None and (closed.status, closed.code) == (503, "unavailable")
    assert closed.headers is not None and int(closed.headers["Retry-After"]) >= 1
    with caplog.at_level(logging.WARNING, logger="studio.ratelimit"):
        assert run_enforce(pg.conninfo(API_ROLE, db), PROBE.limit + 1, fail_closed=False) == [None] * (PROBE.limit + 1)
    assert any(r.levelno == logging.WARNING and "fail open" in r.getMessage() for r in caplog.records)


def test_enforce_fails_closed_when_no_connection_is_free(pg, db):
    """A pool timeout is a failed check too: production refuses rather than serving unmetered."""

    async def scenario() -> ApiError | None:
        pool = ApiDatabase(pg.conninfo(API_ROLE, db), min_size=1, max_size=1, timeout=0.3)
        await pool.open()
        try:
            async with pool.pool.connection():  # the only connection is busy
                try:
                    await ratelimit.enforce(pool, RequestContext("busy", "198.51.100.9"), PROBE, fail_closed=True)
                except ApiError as exc:
                    return exc
            return None
        finally:
            await pool.close()

    closed = asyncio.run(scenario())
    assert closed is not None and (closed.status, closed.code) == (503, "unavailable")


# --- policies and settings -----------------------------------------------------------------

def test_policies_and_fail_closed_defaults():
    assert {p.name for p in ratelimit.POLICIES} == {"generations", "chat", "uploads", "signup", "exports"}
    assert (ratelimit.SIGNUP.limit, ratelimit.SIGNUP.window_seconds) == (5, 600)
    assert ratelimit.fails_closed(make_settings(env="production"))
    assert not ratelimit.fails_closed(make_settings(env="development"))
    assert ratelimit.enabled(make_settings(env="development"))  # active in development too
    with pytest.raises(ValueError):
        ratelimit.Limit("login", 1)  # the login throttle's buckets
    with pytest.raises(ValueError):
        ratelimit.Limit("x", 1, 0)


@pytest.mark.skipif("rate_limits_enabled" not in Settings.model_fields,
                    reason="the rate limit fields are not in studio.config.Settings yet")
def test_policies_read_their_settings():
    for policy in ratelimit.POLICIES:
        for field in (policy.limit_setting, policy.window_setting):
            assert field is None or field in Settings.model_fields, field
        assert policy.configured(make_settings()) == policy  # the defaults agree
    tuned = make_settings(rate_limit_generations_per_minute=7, rate_limit_signup_window_seconds=60,
                          rate_limits_enabled=False, rate_limit_fail_closed=True)
    assert ratelimit.GENERATIONS.configured(tuned).limit == 7
    assert ratelimit.SIGNUP.configured(tuned).window_seconds == 60
    assert not ratelimit.enabled(tuned)
    assert ratelimit.fails_closed(tuned)
