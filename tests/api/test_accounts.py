"""Accounts over HTTP (F12, K4): sign-up, login, sessions, CSRF, API keys, throttling."""

from __future__ import annotations

import psycopg

from tests.api.conftest import PASSWORD, Account, Server, sign_up_and_log_in


def audit_events(admin_conn: psycopg.Connection, user_id: str) -> list[str]:
    rows = admin_conn.execute("SELECT event FROM audit_log WHERE user_id = %s ORDER BY created_at, id",
                              (user_id,)).fetchall()
    return [r[0] for r in rows]


def test_signup_normalises_email_and_creates_one_account(anon, admin_conn):
    r = anon.post("/v1/auth/signup", json={"email": "Carol@Example.ORG", "password": PASSWORD,
                                           "display_name": "Carol"})
    assert r.status_code == 201
    assert r.json()["email"] == "carol@example.org" and "log in" in r.json()["next"].lower()
    user = admin_conn.execute("SELECT email, role, display_name FROM users").fetchone()
    assert user == ("carol@example.org", "user", "Carol")
    # The same email again: the same answer (test_account_defences.py), no second account.
    again = anon.post("/v1/auth/signup", json={"email": "carol@example.org", "password": PASSWORD})
    assert again.status_code == 201 and again.json() == r.json()
    assert admin_conn.execute("SELECT count(*) FROM users").fetchone()[0] == 1
    stored = admin_conn.execute("SELECT password_hash FROM auth.credentials").fetchone()[0]
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


def test_a_guessable_password_is_refused_in_words_and_creates_nothing(anon, alice: Account, admin_conn):
    for password, why in (("qwertyuiop12", "commonly used"), ("password1234", "very common"),
                          ("erin@example.org2024", "guess"), (" " * 12, "only spaces")):
        r = anon.post("/v1/auth/signup", json={"email": "erin@example.org", "password": password})
        assert r.status_code == 422, (password, r.text)
        error = r.json()["error"]
        assert error["code"] == "weak_password" and why in error["message"].lower(), (password, error)
    assert admin_conn.execute("SELECT count(*) FROM users WHERE email = 'erin@example.org'").fetchone() == (0,)

    # A password change is held to the same rule; the old password keeps working.
    stored = admin_conn.execute("SELECT password_hash FROM auth.credentials WHERE user_id = %s",
                                (alice.id,)).fetchone()
    r = alice.client.post("/v1/me/password", json={"current_password": PASSWORD, "new_password": "alice@example.org"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "weak_password", r.text
    assert admin_conn.execute("SELECT password_hash FROM auth.credentials WHERE user_id = %s",
                              (alice.id,)).fetchone() == stored


def test_login_sets_httponly_lax_cookie_and_returns_csrf(server: Server, anon):
    anon.post("/v1/auth/signup", json={"email": "dave@example.org", "password": PASSWORD})
    r = anon.post("/v1/auth/login", json={"email": "dave@example.org", "password": PASSWORD})
    assert r.status_code == 200
    cookie = r.headers["set-cookie"].lower()
    assert "studio_session=" in cookie and "httponly" in cookie and "samesite=lax" in cookie
    assert "secure" not in cookie  # test mode; production sets Secure
    body = r.json()
    assert body["user"]["email"] == "dave@example.org" and len(body["csrf_token"]) == 64
    me = anon.get("/v1/me")
    assert me.status_code == 200 and me.json()["user"]["email"] == "dave@example.org"
    assert me.json()["csrf_token"] == body["csrf_token"]


def test_wrong_password_and_unknown_email_look_the_same(anon, admin_conn):
    anon.post("/v1/auth/signup", json={"email": "erin@example.org", "password": PASSWORD})
    wrong = anon.post("/v1/auth/login", json={"email": "erin@example.org", "password": "not the password"})
    unknown = anon.post("/v1/auth/login", json={"email": "nobody@example.org", "password": "whatever123"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert "set-cookie" not in wrong.headers
    events = admin_conn.execute("SELECT event, user_id IS NULL FROM audit_log WHERE event = 'login.failed'"
                                " ORDER BY created_at").fetchall()
    assert events == [("login.failed", False), ("login.failed", True)]


def test_me_without_credentials_is_401_json(anon):
    r = anon.get("/v1/me")
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "unauthenticated"
    r = anon.get("/v1/me", headers={"Authorization": "Bearer sk_studio_not-a-key"})
    assert r.status_code == 401
    r = anon.get("/v1/me", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert r.status_code == 401
    anon.cookies.set("studio_session", "forged")
    assert anon.get("/v1/me").status_code == 401


def test_cookie_writes_need_the_csrf_token(alice: Account, admin_conn):
    token = alice.client.headers.pop("X-CSRF-Token")
    missing = alice.client.post("/v1/conversations", json={"title": "no token"})
    wrong = alice.client.post("/v1/conversations", json={"title": "wrong token"},
                              headers={"X-CSRF-Token": "0" * 64})
    assert missing.status_code == wrong.status_code == 403
    assert missing.json()["error"]["code"] == "csrf_failed"
    assert admin_conn.execute("SELECT count(*) FROM conversations").fetchone()[0] == 0
    # Reads need no token; writes with it succeed.
    assert alice.client.get("/v1/conversations").status_code == 200
    ok = alice.client.post("/v1/conversations", json={"title": "with token"}, headers={"X-CSRF-Token": token})
    assert ok.status_code == 201
    # Logout is a write too.
    assert alice.client.post("/v1/auth/logout").status_code == 403


def test_csrf_token_of_another_session_is_rejected(server: Server, alice: Account, bob: Account):
    r = alice.client.post("/v1/conversations", json={"title": "x"}, headers={"X-CSRF-Token": bob.csrf})
    assert r.status_code == 403


def test_logout_takes_effect_on_the_next_request(alice: Account, admin_conn):
    cookie = alice.client.cookies.get("studio_session")
    assert alice.client.post("/v1/auth/logout").status_code == 204
    # Even a client that kept the cookie is refused from now on.
    alice.client.cookies.set("studio_session", cookie)
    assert alice.client.get("/v1/me").status_code == 401
    assert admin_conn.execute("SELECT count(*) FROM sessions").fetchone()[0] == 0
    assert audit_events(admin_conn, alice.id)[-1] == "logout"


def test_expired_session_is_refused(alice: Account, admin_conn):
    admin_conn.execute("UPDATE sessions SET expires_at = now() - interval '1 second'")
    assert alice.client.get("/v1/me").status_code == 401


def test_api_keys_create_use_list_revoke(server: Server, alice: Account, admin_conn):
    r = alice.client.post("/v1/api-keys", json={"name": "laptop"})
    assert r.status_code == 201
    assert r.headers["cache-control"] == "no-store"  # the secret is shown once, and never cached
    assert alice.client.get("/v1/me").headers["cache-control"] == "no-store"  # it carries the CSRF token
    created = r.json()
    key = created["key"]
    assert key.startswith("sk_studio_") and key.startswith(created["api_key"]["prefix"])
    # Stored hashed only.
    stored = admin_conn.execute("SELECT key_hash FROM api_keys").fetchone()[0]
    assert key.encode() not in bytes(stored) and len(bytes(stored)) == 32

    with server.client() as bearer:
        bearer.headers["Authorization"] = f"Bearer {key}"
        assert bearer.get("/v1/me").json()["user"]["id"] == alice.id
        assert bearer.get("/v1/me").json()["csrf_token"] is None
        # A bearer key needs no CSRF token: browsers never attach it on their own.
        assert bearer.post("/v1/conversations", json={"title": "via key"}).status_code == 201

        listed = alice.client.get("/v1/api-keys").json()
        assert [k["name"] for k in listed["items"]] == ["laptop"]
        assert "key" not in listed["items"][0] and "key_hash" not in listed["items"][0]

        assert alice.client.delete(f"/v1/api-keys/{created['api_key']['id']}").status_code == 204
        assert bearer.get("/v1/me").status_code == 401  # the very next request
        assert alice.client.get("/v1/api-keys").json()["items"] == []
        assert alice.client.delete(f"/v1/api-keys/{created['api_key']['id']}").status_code == 404

    events = audit_events(admin_conn, alice.id)
    assert events[:2] == ["signup", "login.succeeded"]
    assert "api_key.created" in events and events[-1] == "api_key.revoked"


def test_expired_api_key_is_refused(server: Server, alice: Account, admin_conn):
    # A key cannot be born expired: 422, and no key made.
    for past in ("2000-01-01T00:00:00Z", "2026-01-01T00:00:00+02:00"):
        r = alice.client.post("/v1/api-keys", json={"name": "old", "expires_at": past})
        assert r.status_code == 422 and "in the past" in r.json()["error"]["details"][0]["msg"], r.text
    assert alice.client.get("/v1/api-keys").json()["items"] == []

    created = alice.client.post("/v1/api-keys", json={"name": "soon", "expires_at": "2100-01-01T00:00:00Z"})
    assert created.status_code == 201, created.text
    key = created.json()["key"]
    with server.client() as bearer:
        assert bearer.get("/v1/me", headers={"Authorization": f"Bearer {key}"}).status_code == 200
        admin_conn.execute("UPDATE api_keys SET expires_at = now() - interval '1 second'")  # time passes
        assert bearer.get("/v1/me", headers={"Authorization": f"Bearer {key}"}).status_code == 401


def test_other_users_keys_are_invisible_and_unrevocable(alice: Account, bob: Account, admin_conn):
    key_id = alice.client.post("/v1/api-keys", json={"name": "mine"}).json()["api_key"]["id"]
    assert bob.client.get("/v1/api-keys").json()["items"] == []
    assert bob.client.delete(f"/v1/api-keys/{key_id}").status_code == 404
    assert admin_conn.execute("SELECT revoked_at FROM api_keys WHERE id = %s", (key_id,)).fetchone()[0] is None


def test_api_key_pages(alice: Account):
    for i in range(5):
        assert alice.client.post("/v1/api-keys", json={"name": f"k{i}"}).status_code == 201
    names, cursor = [], None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        body = alice.client.get("/v1/api-keys", params=params).json()
        names += [k["name"] for k in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert names == ["k4", "k3", "k2", "k1", "k0"]


def test_failed_logins_are_throttled(server: Server, anon, admin_conn):
    anon.post("/v1/auth/signup", json={"email": "frank@example.org", "password": PASSWORD})
    limit = server.settings.login_max_failures
    for _ in range(limit):
        assert anon.post("/v1/auth/login", json={"email": "frank@example.org", "password": "wrong-wrong"}).status_code == 401
    blocked = anon.post("/v1/auth/login", json={"email": "frank@example.org", "password": PASSWORD})
    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) > 0
    assert blocked.json()["error"]["code"] == "rate_limited"
    # Another account is not locked by frank's failures (the per-address limit is higher),
    # and neither is frank from another address (test_account_defences.py).
    sign_up_and_log_in(server, "grace@example.org")
    # The window passing lifts the block.
    admin_conn.execute("UPDATE rate_limit_counters SET window_start = window_start - interval '1 day'")
    assert anon.post("/v1/auth/login", json={"email": "frank@example.org", "password": PASSWORD}).status_code == 200


def test_patch_me_sets_trims_and_clears_the_display_name(server: Server, alice: Account, bob: Account, admin_conn):
    r = alice.client.patch("/v1/me", json={"display_name": "  Alice A.  "})
    assert r.status_code == 200, r.text
    user = r.json()["user"]
    assert user["id"] == alice.id and user["display_name"] == "Alice A." and user["role"] == "user"
    assert alice.client.get("/v1/me").json()["user"]["display_name"] == "Alice A."
    edge = "é" * 100
    assert alice.client.patch("/v1/me", json={"display_name": edge}).json()["user"]["display_name"] == edge
    cleared = alice.client.patch("/v1/me", json={"display_name": None})
    assert cleared.status_code == 200 and cleared.json()["user"]["display_name"] is None
    # Only the caller's own row changes.
    assert admin_conn.execute("SELECT display_name FROM users WHERE id = %s", (bob.id,)).fetchone()[0] is None
    alice.client.patch("/v1/me", json={"display_name": "Alice"})
    assert bob.client.get("/v1/me").json()["user"]["display_name"] is None


def test_patch_me_rejects_bad_names_with_4xx_json(server: Server, alice: Account, anon):
    for body in ({"display_name": ""}, {"display_name": "   \t\n"}, {"display_name": "x" * 101},
                 {"display_name": 42}, {}, {"display_name": "ok", "role": "admin"}, {"email": "x@example.org"}):
        r = alice.client.patch("/v1/me", json=body)
        assert r.status_code == 422, (body, r.text)
        assert r.json()["error"]["code"] == "validation_error"
    malformed = alice.client.patch("/v1/me", content=b"{", headers={"content-type": "application/json"})
    assert malformed.status_code == 400
    assert alice.client.get("/v1/me").json()["user"]["display_name"] is None
    # Signed out: 401; a cookie without the CSRF token: 403.
    assert anon.patch("/v1/me", json={"display_name": "Mallory"}).status_code == 401
    token = alice.client.headers.pop("X-CSRF-Token")
    assert alice.client.patch("/v1/me", json={"display_name": "Mallory"}).status_code == 403
    alice.client.headers["X-CSRF-Token"] = token


def test_patch_me_with_an_api_key(server: Server, alice: Account):
    key = alice.client.post("/v1/api-keys", json={"name": "script"}).json()["key"]
    with server.client() as bearer:
        bearer.headers["Authorization"] = f"Bearer {key}"
        r = bearer.patch("/v1/me", json={"display_name": "Scripted"})
        assert r.status_code == 200 and r.json()["user"]["display_name"] == "Scripted"
