"""Two-factor authentication (issue 15, part 4): TOTP codes from a real authenticator
algorithm (pyotp computes them here as a phone would), recovery codes, and the setting
that requires it of admins. Against the real server and database."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pyotp
import pytest

from studio.config import API_ROLE
from tests.api.conftest import PASSWORD, Account, Server, make_admin, make_settings, serve, sign_up_and_log_in


def code(secret: str, steps_ahead: int = 0) -> str:
    return pyotp.TOTP(secret).at(time.time() + 30 * steps_ahead)


def login(server: Server, email: str, **extra: str) -> httpx.Response:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        return client.post("/v1/auth/login", json={"email": email, "password": PASSWORD, **extra})


def turn_on(account: Account) -> tuple[str, list[str]]:
    begun = account.client.post("/v1/me/totp", json={"password": PASSWORD})
    assert begun.status_code == 201, begun.text
    secret = begun.json()["secret"]
    # The previous step's code (still accepted): the tests' logins then have this step's
    # and the next one's, as a person who confirms and signs in a minute later would.
    confirmed = account.client.post("/v1/me/totp/confirm", json={"code": code(secret, -1)})
    assert confirmed.status_code == 200, confirmed.text
    return secret, confirmed.json()["recovery_codes"]


def sessions(admin_conn, account: Account) -> int:
    return admin_conn.execute("SELECT count(*) FROM sessions WHERE user_id = %s", (account.id,)).fetchone()[0]


def events(admin_conn, account: Account) -> list[str]:
    rows = admin_conn.execute("SELECT event FROM audit_log WHERE user_id = %s ORDER BY created_at, id", (account.id,))
    return [event for (event,) in rows.fetchall()]


def test_turning_it_on_takes_the_password_and_a_first_code(server: Server, alice: Account, admin_conn):
    assert alice.client.get("/v1/me/totp").json() == {"enabled": False, "recovery_codes_left": 0, "required": False}
    r = alice.client.post("/v1/me/totp", json={"password": "not the password"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_credentials"

    begun = alice.client.post("/v1/me/totp", json={"password": PASSWORD})
    assert begun.status_code == 201 and begun.headers["cache-control"] == "no-store"
    secret, uri = begun.json()["secret"], begun.json()["uri"]
    assert uri.startswith("otpauth://totp/Studio:") and f"secret={secret}" in uri and "issuer=Studio" in uri
    # Not confirmed: login does not ask for a code yet.
    assert login(server, alice.email).status_code == 200

    wrong = alice.client.post("/v1/me/totp/confirm", json={"code": "000000" if code(secret) != "000000" else "111111"})
    assert wrong.status_code == 422 and wrong.json()["error"]["code"] == "invalid_second_factor"
    assert alice.client.get("/v1/me/totp").json()["enabled"] is False

    confirmed = alice.client.post("/v1/me/totp/confirm", json={"code": code(secret)})
    assert confirmed.status_code == 200 and confirmed.headers["cache-control"] == "no-store", confirmed.text
    recovery = confirmed.json()["recovery_codes"]
    assert len(recovery) == 10 and len(set(recovery)) == 10
    assert alice.client.get("/v1/me/totp").json() == {"enabled": True, "recovery_codes_left": 10, "required": False}
    assert "totp.enabled" in events(admin_conn, alice)
    # Only hashes are stored.
    stored = admin_conn.execute("SELECT code_hash FROM auth.recovery_codes").fetchall()
    assert len(stored) == 10 and not any(c.replace("-", "") in h for (h,) in stored for c in recovery)
    again = alice.client.post("/v1/me/totp", json={"password": PASSWORD})
    assert again.status_code == 409


def test_login_asks_for_a_code_and_takes_each_once(server: Server, alice: Account, admin_conn):
    secret, recovery = turn_on(alice)
    before = sessions(admin_conn, alice)

    r = login(server, alice.email)
    assert r.status_code == 401 and r.json()["error"]["code"] == "second_factor_required"
    assert "set-cookie" not in r.headers and sessions(admin_conn, alice) == before
    wrong = "123456" if code(secret) != "123456" else "654321"
    r = login(server, alice.email, totp_code=wrong)
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_second_factor"
    r = login(server, alice.email, totp_code="12ab56")
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_second_factor"
    assert sessions(admin_conn, alice) == before

    current = code(secret)
    assert login(server, alice.email, totp_code=current).status_code == 200
    replayed = login(server, alice.email, totp_code=current)
    assert replayed.status_code == 401 and replayed.json()["error"]["code"] == "invalid_second_factor"
    # The next step's code (a phone a little ahead) is still good, once.
    assert login(server, alice.email, totp_code=code(secret, 1)).status_code == 200

    assert login(server, alice.email, recovery_code=recovery[0].upper()).status_code == 200
    assert login(server, alice.email, recovery_code=recovery[0]).status_code == 401
    assert alice.client.get("/v1/me/totp").json()["recovery_codes_left"] == 9
    assert sessions(admin_conn, alice) == before + 3
    assert events(admin_conn, alice).count("login.failed") == 4  # wrong, malformed, replayed, used recovery code
    assert "totp.recovery_code_used" in events(admin_conn, alice)
    # A wrong password with a right code is still a wrong password.
    with httpx.Client(base_url=server.url) as client:
        r = client.post("/v1/auth/login", json={"email": alice.email, "password": "wrong", "totp_code": code(secret, 1)})
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_credentials"


def test_new_recovery_codes_and_turning_it_off_take_the_password_and_a_code(server: Server, alice: Account,
                                                                            admin_conn):
    secret, old = turn_on(alice)
    r = alice.client.post("/v1/me/totp/recovery-codes", json={"password": PASSWORD, "code": "000000"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_second_factor"
    r = alice.client.post("/v1/me/totp/recovery-codes", json={"password": PASSWORD, "code": old[0]})
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    new = r.json()["recovery_codes"]
    assert set(new).isdisjoint(old)
    assert login(server, alice.email, recovery_code=old[1]).status_code == 401
    assert login(server, alice.email, recovery_code=new[0]).status_code == 200

    r = alice.client.request("DELETE", "/v1/me/totp", json={"password": "wrong", "code": code(secret, 1)})
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_credentials"
    r = alice.client.request("DELETE", "/v1/me/totp", json={"password": PASSWORD, "code": code(secret, 1)})
    assert r.status_code == 204
    assert alice.client.get("/v1/me/totp").json()["enabled"] is False
    assert login(server, alice.email).status_code == 200
    assert admin_conn.execute("SELECT count(*) FROM auth.recovery_codes").fetchone() == (0,)
    assert "totp.disabled" in events(admin_conn, alice)
    r = alice.client.request("DELETE", "/v1/me/totp", json={"password": PASSWORD, "code": "123456"})
    assert r.status_code == 409


def test_another_users_factor_changes_nothing_for_you(server: Server, alice: Account, bob: Account):
    turn_on(alice)
    assert login(server, bob.email).status_code == 200
    assert bob.client.get("/v1/me/totp").json()["enabled"] is False


@pytest.fixture
def strict_server(pg, db, tmp_path) -> Iterator[Server]:
    yield from serve(make_settings(home=tmp_path, admin_totp_required=True), pg.conninfo(API_ROLE, db))


def test_an_installation_can_require_it_of_admins(strict_server: Server, admin_conn):
    admin = make_admin(sign_up_and_log_in(strict_server, "admin@example.org"), admin_conn)
    user = sign_up_and_log_in(strict_server, "user@example.org")
    for path in ("/v1/admin/models", "/v1/admin/ops", "/v1/admin/statements"):
        r = admin.client.get(path)
        assert r.status_code == 403 and r.json()["error"]["code"] == "second_factor_required", (path, r.text)
        assert user.client.get(path).status_code == 404  # to anyone else the endpoint does not exist
    assert admin.client.get("/v1/me/totp").json()["required"] is True
    assert user.client.get("/v1/me/totp").json()["required"] is False
    turn_on(admin)
    assert admin.client.get("/v1/admin/models").status_code == 200
    assert admin.client.get("/v1/admin/ops").status_code == 200
