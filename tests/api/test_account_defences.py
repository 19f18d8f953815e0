"""Account defences over HTTP (issue 15, item 4): a sign-up that does not tell whether an
email has an account, and a login throttle that does not let a stranger lock a person
out (docs/decisions/0011-login-throttling.md).

The test server trusts X-Forwarded-For from 127.0.0.1 (uvicorn's default, as behind a
proxy), so each request may say which client address it comes from."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from studio.auth import tokens
from studio.config import API_ROLE
from tests.api.conftest import PASSWORD, Account, Server, early_in_a_window, make_settings, serve, sign_up_and_log_in

# Headers that differ between any two answers, whatever they say.
PER_REQUEST = {"date", "x-request-id"}


def from_address(address: str) -> dict[str, str]:
    return {"X-Forwarded-For": address}


def login(client: httpx.Client, email: str, password: str, address: str) -> httpx.Response:
    return client.post("/v1/auth/login", json={"email": email, "password": password}, headers=from_address(address))


def notifications(account: Account) -> list[dict]:
    r = account.client.get("/v1/notifications")
    assert r.status_code == 200, r.text
    items: list[dict] = r.json()["items"]
    return items


def signup_notices(account: Account) -> list[dict]:
    return [n for n in notifications(account) if n["data"].get("reason") == "signup_with_existing_email"]


# --------------------------------------------------------------------------- sign-up


def test_sign_up_with_a_taken_email_answers_as_a_new_one_and_tells_the_owner(
        server: Server, alice: Account, anon: httpx.Client, admin_conn: psycopg.Connection,
        monkeypatch: pytest.MonkeyPatch):
    hashed: list[str] = []
    real_hash = tokens.hash_password

    async def counting_hash(password: str) -> str:
        hashed.append(password)
        return await real_hash(password)

    monkeypatch.setattr(tokens, "hash_password", counting_hash)  # the server runs in this process
    stored = admin_conn.execute("SELECT password_hash FROM auth.credentials WHERE user_id = %s",
                                (alice.id,)).fetchone()
    events = admin_conn.execute("SELECT count(*) FROM audit_log WHERE user_id = %s", (alice.id,)).fetchone()

    # Emails of the same length, so that even Content-Length cannot differ.
    assert len("carla@example.org") == len(alice.email)
    new = anon.post("/v1/auth/signup", json={"email": "carla@example.org", "password": "a new person's passphrase",
                                             "display_name": "Carla"})
    taken = anon.post("/v1/auth/signup", json={"email": alice.email, "password": "an intruder's passphrase",
                                               "display_name": "Mallory"})
    assert new.status_code == taken.status_code == 201, (new.text, taken.text)
    assert new.json() == {**taken.json(), "email": "carla@example.org"}
    assert taken.json()["email"] == alice.email
    assert {k: v for k, v in new.headers.items() if k not in PER_REQUEST} == \
        {k: v for k, v in taken.headers.items() if k not in PER_REQUEST}
    assert "set-cookie" not in new.headers and "set-cookie" not in taken.headers
    # The same work either way: one argon2 hash each.
    assert hashed == ["a new person's passphrase", "an intruder's passphrase"]

    # Nothing of alice's changed: no account, no password, no sign-up event.
    assert admin_conn.execute("SELECT count(*) FROM users WHERE email = %s", (alice.email,)).fetchone() == (1,)
    assert admin_conn.execute("SELECT password_hash FROM auth.credentials WHERE user_id = %s",
                              (alice.id,)).fetchone() == stored
    assert admin_conn.execute("SELECT count(*) FROM audit_log WHERE user_id = %s", (alice.id,)).fetchone() == events
    assert alice.client.get("/v1/me").status_code == 200
    assert login(anon, alice.email, "an intruder's passphrase", "203.0.113.7").status_code == 401
    # Carla's account exists and works.
    assert admin_conn.execute("SELECT display_name FROM users WHERE email = 'carla@example.org'").fetchone() == \
        ("Carla",)

    # Alice is told, in her own notifications; once an hour at most.
    notices = signup_notices(alice)
    assert len(notices) == 1, notifications(alice)
    assert notices[0]["kind"] == "system" and notices[0]["read_at"] is None
    assert alice.email in notices[0]["body"] and "Mallory" not in notices[0]["body"]
    again = anon.post("/v1/auth/signup", json={"email": alice.email, "password": "an intruder's passphrase"})
    assert again.status_code == 201 and again.json() == taken.json()
    assert len(signup_notices(alice)) == 1
    # Carla is told nothing of it.
    assert admin_conn.execute("SELECT count(*) FROM user_notifications n JOIN users u ON u.id = n.user_id"
                              " WHERE u.email = 'carla@example.org'").fetchone() == (0,)


def test_no_notice_for_an_owner_who_muted_system_notifications(server: Server, alice: Account, anon: httpx.Client):
    assert alice.client.put("/v1/notifications/preferences", json={"muted": ["system"]}).status_code == 200
    assert anon.post("/v1/auth/signup", json={"email": alice.email, "password": "an intruder's passphrase"}) \
        .status_code == 201
    assert signup_notices(alice) == []


def test_the_web_apps_calls_sign_a_new_person_in(server: Server, anon: httpx.Client):
    """What web/src/routes/signup does: sign up, then log in with the same credentials."""
    body = {"email": "Newcomer@Example.org", "password": PASSWORD, "display_name": "New"}
    assert anon.post("/v1/auth/signup", json=body).status_code == 201
    r = anon.post("/v1/auth/login", json={"email": body["email"], "password": PASSWORD})
    assert r.status_code == 200, r.text
    user = r.json()["user"]
    assert user["email"] == "newcomer@example.org" and user["display_name"] == "New" and user["role"] == "user"
    anon.headers["X-CSRF-Token"] = r.json()["csrf_token"]
    assert anon.get("/v1/me").json()["user"]["id"] == user["id"]


def test_the_owner_signing_up_again_is_simply_signed_in(server: Server, alice: Account, anon: httpx.Client):
    """The owner who forgot they had an account: the same steps sign them in with their
    own password, and nothing else changes."""
    assert anon.post("/v1/auth/signup", json={"email": alice.email, "password": PASSWORD}).status_code == 201
    r = anon.post("/v1/auth/login", json={"email": alice.email, "password": PASSWORD})
    assert r.status_code == 200 and r.json()["user"]["id"] == alice.id


# --------------------------------------------------------------------------- login throttle


@pytest.fixture
def throttled(pg, db, tmp_path: Path) -> Iterator[Server]:
    """Small numbers: 3 failures per email and address lock that pair out, 5 per address
    lock the address out, delays from 2 failures of an email, at most 4 s; one-hour windows."""
    settings = make_settings(home=tmp_path, login_max_failures=3, login_client_max_failures=5, login_delay_after=2,
                             login_delay_max_seconds=4, login_window_seconds=3600)
    yield from serve(settings, pg.conninfo(API_ROLE, db))


def test_a_strangers_failures_lock_out_their_address_not_the_owner(server: Server, alice: Account,
                                                                   anon: httpx.Client, admin_conn):
    """login_max_failures is 3 in the test settings; delays start after 5 failures."""
    early_in_a_window(server.settings.login_window_seconds, need=30)
    for _ in range(3):
        assert login(anon, alice.email, "a guess", "203.0.113.66").status_code == 401
    locked = login(anon, alice.email, PASSWORD, "203.0.113.66")
    assert locked.status_code == 429 and locked.json()["error"]["code"] == "rate_limited"
    assert 0 < int(locked.headers["retry-after"]) <= server.settings.login_window_seconds
    # The stranger's address is what was counted (the proxy's header was believed).
    ips = admin_conn.execute("SELECT DISTINCT host(ip) FROM audit_log WHERE event = 'login.failed'").fetchall()
    assert ips == [("203.0.113.66",)]
    # The owner, from a new address and from the one she signed in from, still gets in.
    assert login(anon, alice.email, PASSWORD, "198.51.100.20").status_code == 200
    with server.client() as own_device:
        assert own_device.post("/v1/auth/login", json={"email": alice.email, "password": PASSWORD}).status_code == 200
    # The stranger stays locked out, on alice's account only.
    assert login(anon, alice.email, PASSWORD, "203.0.113.66").status_code == 429
    assert login(anon, "nobody@example.org", "a guess", "203.0.113.66").status_code == 401


def test_an_address_is_locked_out_for_every_email_after_many_failures(throttled: Server):
    early_in_a_window(throttled.settings.login_window_seconds, need=30)
    with throttled.client() as client:
        for i in range(5):
            assert login(client, f"victim{i}@example.org", "a guess", "203.0.113.77").status_code == 401
        r = login(client, "someone-else@example.org", "a guess", "203.0.113.77")
        assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
        # Another address is not concerned.
        assert login(client, "someone-else@example.org", "a guess", "198.51.100.1").status_code == 401


def _time_passes(admin_conn: psycopg.Connection, email: str) -> None:
    """The last failure of `email` happened long ago (the updated_at trigger, which would
    set it to now, is not fired for this change)."""
    admin_conn.execute("SET session_replication_role = replica")
    try:
        admin_conn.execute("UPDATE rate_limit_counters SET updated_at = updated_at - interval '10 minutes'"
                           " WHERE bucket = %s", (f"login:email:{email}",))
    finally:
        admin_conn.execute("SET session_replication_role = DEFAULT")


@pytest.mark.parametrize("has_account", [True, False], ids=["account", "no-account"])
def test_an_accounts_failures_from_anywhere_bring_growing_capped_delays(throttled: Server, admin_conn,
                                                                       has_account: bool):
    """Distributed guessing slows down on the account, whatever address it comes from:
    after 2 failures, each attempt waits 1, 2, 4 (the cap) seconds after the last one.
    The same for an email without an account, so the delay tells nothing."""
    early_in_a_window(throttled.settings.login_window_seconds, need=30)
    email = "dana@example.org"
    if has_account:
        with throttled.client() as setup:
            assert setup.post("/v1/auth/signup", json={"email": email, "password": PASSWORD}).status_code == 201
    waits = []
    with throttled.client() as client:
        assert login(client, email, "a guess", "203.0.113.1").status_code == 401
        assert login(client, email, "a guess", "203.0.113.2").status_code == 401
        for n in range(3, 7):
            delayed = login(client, email, PASSWORD, f"203.0.113.{n}")  # even the right password waits
            assert delayed.status_code == 429, delayed.text
            assert delayed.json()["error"]["code"] == "rate_limited"
            waits.append(int(delayed.headers["retry-after"]))
            _time_passes(admin_conn, email)
            assert login(client, email, "a guess", f"203.0.113.{n}").status_code == 401
        assert waits == [1, 2, 4, 4], waits
        # Never a lockout: once the delay has passed, the right password gets in.
        _time_passes(admin_conn, email)
        assert login(client, email, PASSWORD, "198.51.100.9").status_code == (200 if has_account else 401)


def test_the_owners_signed_in_address_is_not_slowed_down(throttled: Server, admin_conn):
    early_in_a_window(throttled.settings.login_window_seconds, need=30)
    with throttled.client() as client:
        owner = sign_up_and_log_in(throttled, "erin@example.org")  # from 127.0.0.1, session kept
        owner.client.close()
        for n in range(1, 3):
            assert login(client, "erin@example.org", "a guess", f"203.0.113.{n}").status_code == 401
        assert login(client, "erin@example.org", PASSWORD, "203.0.113.50").status_code == 429
        # Where she has a live session she is not delayed ...
        own = client.post("/v1/auth/login", json={"email": "erin@example.org", "password": PASSWORD})
        assert own.status_code == 200, own.text
        # ... unless that address itself failed too often (a lockout of the pair).
        admin_conn.execute("UPDATE sessions SET ip = '203.0.113.1'")
        _time_passes(admin_conn, "erin@example.org")
        for _ in range(2):
            assert login(client, "erin@example.org", "a guess", "203.0.113.1").status_code == 401
        assert login(client, "erin@example.org", PASSWORD, "203.0.113.1").status_code == 429


def test_a_success_clears_the_clients_failures_on_the_account(server: Server, alice: Account, anon: httpx.Client):
    """login_max_failures is 3: two failures and a success, then three failures more are
    all answered (401); only then is the address locked out of the account."""
    early_in_a_window(server.settings.login_window_seconds, need=30)
    for _ in range(2):
        assert login(anon, alice.email, "a guess", "198.51.100.30").status_code == 401
    assert login(anon, alice.email, PASSWORD, "198.51.100.30").status_code == 200
    for _ in range(3):
        assert login(anon, alice.email, "a guess", "198.51.100.30").status_code == 401
    assert login(anon, alice.email, PASSWORD, "198.51.100.30").status_code == 429
