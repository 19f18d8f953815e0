"""The admins' catalog over HTTP: provider connections (keys stored encrypted and never
shown again), discovering and registering the models a connection's server offers, and
what users see and may run once an admin disables something. Vendor servers are fakes
speaking their protocols on 127.0.0.1; the app and PostgreSQL are the real ones."""

from __future__ import annotations

import base64
import contextlib
import io
import json
import logging
import time
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from psycopg import sql
from pydantic import SecretStr

from studio.catalog.crypto import CredentialCipher, UndecryptableKey
from studio.config import API_ROLE
from tests.api.conftest import (
    Account,
    Server,
    add_connection,
    add_model,
    make_admin,
    make_settings,
    serve,
    sign_up_and_log_in,
)
from tests.conftest import free_port
from tests.providers.fakes import FakeComfyUI, FakeElevenLabs, FakeOllama, FakeOpenAI, FakeReplicate, Reply

# Distinctive enough that finding it anywhere is a leak, not a coincidence.
API_KEY = "sk-catalog-Q7vXz2LmT9pRw4KbN8yD"
OTHER_KEY = "sk-catalog-replaced-H3jF6sWq1Ze5"
CREDENTIALS_KEY = "c" * 40  # make_settings' credentials_key


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def openai_fake() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI()
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture(scope="module")
def ollama_fake() -> Iterator[FakeOllama]:
    fake = FakeOllama()
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture(autouse=True)
def fresh_fakes(openai_fake: FakeOpenAI, ollama_fake: FakeOllama) -> None:
    openai_fake.reset()
    ollama_fake.reset()


def settings_for(tmp_path, **overrides):
    # Nothing listens on the probe port unless a test says so: a real Ollama on this
    # machine must not change what the suggestions say.
    values = {"home": tmp_path, "provider_timeout": 5, "provider_max_retries": 0,
              "ollama_probe_url": f"http://127.0.0.1:{free_port()}", **overrides}
    return make_settings(**values)


@pytest.fixture
def server(pg, db, tmp_path) -> Iterator[Server]:
    yield from serve(settings_for(tmp_path), pg.conninfo(API_ROLE, db))


@pytest.fixture
def admin(server: Server, admin_conn) -> Iterator[Account]:
    account = make_admin(sign_up_and_log_in(server, "admin@example.org"), admin_conn)
    yield account
    account.client.close()


@pytest.fixture
def user(server: Server) -> Iterator[Account]:
    account = sign_up_and_log_in(server, "user@example.org")
    yield account
    account.client.close()


@dataclass
class Responses:
    """Every response a client received, its body read, for scanning."""

    seen: list[tuple[str, int, bytes]] = field(default_factory=list)

    def follow(self, client: httpx.Client) -> None:
        def record(response: httpx.Response) -> None:
            response.read()
            headers = "\n".join(f"{k}: {v}" for k, v in response.headers.items()).encode()
            self.seen.append((f"{response.request.method} {response.request.url.path}", response.status_code,
                              headers + b"\n\n" + response.content))

        client.event_hooks["response"].append(record)

    def containing(self, needle: str) -> list[str]:
        return [what for what, _, body in self.seen if needle.encode() in body]


def read_events(response: httpx.Response) -> list[tuple[str, dict]]:
    events, name = [], None
    for line in response.iter_lines():
        if line.startswith("event: "):
            name = line.removeprefix("event: ")
        elif line.startswith("data: "):
            events.append((name, json.loads(line.removeprefix("data: "))))
    return events


def chat(account: Account, model_id: str, content: str = "Say hello") -> httpx.Response:
    """A new conversation with the model, and a question to it (generate: true); the
    response comes whole (the SSE stream to its end when it was accepted)."""
    conversation = account.client.post("/v1/conversations", json={"model_id": model_id})
    assert conversation.status_code == 201, conversation.text
    return account.client.post(f"/v1/conversations/{conversation.json()['id']}/messages",
                               json={"role": "user", "content": content, "generate": True})


def user_model(account: Account, slug: str) -> dict | None:
    return next((m for m in account.client.get("/v1/models").json()["items"] if m["slug"] == slug), None)


def count(admin_conn, query: str, *params: object) -> int:
    return admin_conn.execute(query, params).fetchone()[0]


# --------------------------------------------------------------------------- connections


def test_a_connection_shows_its_key_only_by_its_last_4(admin: Account, openai_fake: FakeOpenAI, admin_conn):
    r = admin.client.post("/v1/admin/connections",
                          json={"kind": "openai", "name": "lab", "base_url": f"{openai_fake.url}/v1/",
                                "api_key": API_KEY})
    assert r.status_code == 201, r.text
    created = r.json()
    assert API_KEY not in r.text and "api_key" not in created
    assert created["api_key_last4"] == API_KEY[-4:]
    assert created["name"] == "lab" and created["kind"] == "openai" and created["enabled"] is True
    assert created["base_url"] == f"{openai_fake.url}/v1"  # the trailing slash goes
    assert created["model_count"] == 0 and created["status"] is None
    assert r.headers["location"] == f"/v1/admin/connections/{created['id']}"
    url = f"/v1/admin/connections/{created['id']}"

    listed = admin.client.get("/v1/admin/connections")
    fetched = admin.client.get(url)
    for response in (listed, fetched):
        assert response.status_code == 200 and API_KEY not in response.text
        assert response.headers["cache-control"] == "no-store"
    assert [c["id"] for c in listed.json()["items"]] == [created["id"]]
    assert fetched.json()["api_key_last4"] == API_KEY[-4:]

    # The stored key is the one the server is called with.
    assert admin.client.post(f"{url}/test").json()["ok"] is True
    assert openai_fake.received("GET", "/v1/models")[-1].headers["authorization"] == f"Bearer {API_KEY}"

    replaced = admin.client.patch(url, json={"api_key": OTHER_KEY})
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["api_key_last4"] == OTHER_KEY[-4:]
    assert API_KEY not in replaced.text and OTHER_KEY not in replaced.text
    assert admin.client.post(f"{url}/test").json()["ok"] is True
    assert openai_fake.received("GET", "/v1/models")[-1].headers["authorization"] == f"Bearer {OTHER_KEY}"

    # Leaving the key out keeps it.
    renamed = admin.client.patch(url, json={"name": "lab-2"}).json()
    assert renamed["name"] == "lab-2" and renamed["api_key_last4"] == OTHER_KEY[-4:]

    removed = admin.client.patch(url, json={"api_key": None})
    assert removed.status_code == 200 and removed.json()["api_key_last4"] is None
    assert count(admin_conn, "SELECT count(*) FROM public.provider_connections WHERE api_key_encrypted IS NULL"
                             " AND api_key_last4 IS NULL") == 1
    assert admin.client.post(f"{url}/test").json()["ok"] is True
    assert "authorization" not in openai_fake.received("GET", "/v1/models")[-1].headers  # none is sent


def test_invalid_connections_are_refused_and_nothing_is_stored(admin: Account, openai_fake: FakeOpenAI, admin_conn):
    first = add_connection(admin, "openai", f"{openai_fake.url}/v1")
    assert first["name"] == "openai" and first["api_key_last4"] is None  # the kind names it; a key is optional
    assert add_connection(admin, "openai", f"{openai_fake.url}/v1")["name"] == "openai-2"
    stored = count(admin_conn, "SELECT count(*) FROM public.provider_connections")

    refusals = [
        ({"kind": "openai", "name": "openai", "base_url": f"{openai_fake.url}/v1"}, 409, "conflict"),
        ({"kind": "anthropic", "name": "claude"}, 422, "validation_error"),               # a key is required
        ({"kind": "anthropic", "name": "claude", "api_key": ""}, 422, "validation_error"),
        ({"kind": "openai", "name": "ftp", "base_url": "ftp://127.0.0.1/v1"}, 422, "validation_error"),
        ({"kind": "openai", "name": "bare", "base_url": "127.0.0.1:8080"}, 422, "validation_error"),
        ({"kind": "openai", "name": "spaced", "base_url": "http://exa mple.org"}, 422, "validation_error"),
        ({"kind": "openai", "name": "Not A Slug"}, 422, "validation_error"),
        ({"kind": "openai", "name": "extra", "secret": "x"}, 422, "validation_error"),   # unknown field
        ({"kind": "mystery", "name": "mystery"}, 422, "validation_error"),
        ({"kind": "openai", "name": "spacey-key", "api_key": "sk has spaces"}, 422, "validation_error"),
    ]
    for body, status, code in refusals:
        r = admin.client.post("/v1/admin/connections", json=body)
        assert (r.status_code, r.json()["error"]["code"]) == (status, code), (body, r.text)
    assert "api_key" in admin.client.post("/v1/admin/connections", json={"kind": "anthropic"}).json()["error"][
        "message"]

    url = f"/v1/admin/connections/{first['id']}"
    patch_refusals = [
        ({"name": "openai-2"}, 409, "conflict"),
        ({"base_url": "not a url"}, 422, "validation_error"),
        ({"enabled": None}, 422, "validation_error"),
        ({"kind": "anthropic"}, 422, "validation_error"),   # the kind is not changed: unknown here
        ({"api_key_last4": "1234"}, 422, "validation_error"),
    ]
    for body, status, code in patch_refusals:
        r = admin.client.patch(url, json=body)
        assert (r.status_code, r.json()["error"]["code"]) == (status, code), (body, r.text)
    anthropic = add_connection(admin, "anthropic", api_key=API_KEY)
    r = admin.client.patch(f"/v1/admin/connections/{anthropic['id']}", json={"api_key": None})
    assert (r.status_code, r.json()["error"]["code"]) == (422, "validation_error")
    assert admin.client.get(f"/v1/admin/connections/{anthropic['id']}").json()["api_key_last4"] == API_KEY[-4:]

    missing = f"/v1/admin/connections/{uuid.uuid4()}"
    assert admin.client.get(missing).status_code == 404
    assert admin.client.patch(missing, json={"enabled": False}).status_code == 404
    assert admin.client.delete(missing).status_code == 404
    assert count(admin_conn, "SELECT count(*) FROM public.provider_connections") == stored + 1
    assert admin.client.get(url).json()["name"] == "openai" and admin.client.get(url).json()["enabled"] is True


def test_a_disabled_connection_stops_its_models_and_deleting_it_removes_them(
        server: Server, admin: Account, user: Account, openai_fake: FakeOpenAI, admin_conn):
    connection = add_connection(admin, "openai", f"{openai_fake.url}/v1", API_KEY, name="lab")
    chat_model = add_model(admin, connection["id"], "gpt-test", "chat")
    image_model = add_model(admin, connection["id"], "image-test", "image")
    assert (chat_model["slug"], image_model["slug"]) == ("lab/gpt-test", "lab/image-test-image")
    assert user_model(user, "lab/gpt-test")["available"] is True
    conversation = user.client.post("/v1/conversations", json={"model_id": chat_model["id"]}).json()
    url = f"/v1/admin/connections/{connection['id']}"

    disabled = admin.client.patch(url, json={"enabled": False})
    assert disabled.status_code == 200, disabled.text
    assert disabled.json()["enabled"] is False and "disabled" in disabled.json()["status"]
    for slug in ("lab/gpt-test", "lab/image-test-image"):
        shown = user_model(user, slug)
        assert shown is not None and shown["available"] is False  # still listed, saying why not
        assert "disabled" in shown["unavailable_reason"] and "lab" in shown["unavailable_reason"]
    admin_view = {m["slug"]: m for m in admin.client.get("/v1/admin/models").json()["items"]}
    assert admin_view["lab/gpt-test"]["enabled"] is True and admin_view["lab/gpt-test"]["available"] is False

    refused = chat(user, chat_model["id"])
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "model_unavailable", refused.text
    again = user.client.post(f"/v1/conversations/{conversation['id']}/messages",
                             json={"role": "user", "content": "hi", "generate": True})
    assert again.status_code == 409 and again.json()["error"]["code"] == "model_unavailable"
    generation = user.client.post("/v1/generations", json={"type": "image", "model_id": image_model["id"],
                                                           "prompt": "a lighthouse"})
    assert generation.status_code == 409 and generation.json()["error"]["code"] == "model_unavailable"
    assert openai_fake.requests == []
    assert count(admin_conn, "SELECT count(*) FROM public.jobs") == 0
    assert count(admin_conn, "SELECT count(*) FROM public.generations") == 0
    assert count(admin_conn, "SELECT count(*) FROM public.messages") == 0

    # Enabled again, the same models run.
    assert admin.client.patch(url, json={"enabled": True}).json()["status"] is None
    assert user_model(user, "lab/gpt-test")["available"] is True
    answered = chat(user, chat_model["id"])
    assert answered.status_code == 200 and read_events(answered)[-1][0] == "done"

    deleted = admin.client.delete(url)
    assert deleted.status_code == 200 and deleted.json() == {"deleted": True, "models_removed": 2}
    assert count(admin_conn, "SELECT count(*) FROM public.model_registry WHERE slug LIKE 'lab/%%'") == 0
    assert user_model(user, "lab/gpt-test") is None
    assert admin.client.get(url).status_code == 404
    assert admin.client.delete(url).status_code == 404
    # Past conversations stay, without a model.
    kept = user.client.get(f"/v1/conversations/{conversation['id']}")
    assert kept.status_code == 200 and kept.json()["model_id"] is None


# --------------------------------------------------------------------------- key secrecy


def test_the_key_is_never_shown_stored_in_clear_logged_or_exported(
        server: Server, admin: Account, user: Account, openai_fake: FakeOpenAI, admin_conn, caplog):
    responses = Responses()
    responses.follow(admin.client)
    responses.follow(user.client)
    # Uvicorn's loggers do not propagate to the root (its own logging config): caplog's
    # handler joins them directly, with the access log on, so requests are seen too.
    uvicorn_loggers = [logging.getLogger(name) for name in ("uvicorn", "uvicorn.error", "uvicorn.access")]
    for logger in uvicorn_loggers:
        logger.addHandler(caplog.handler)
    caplog.set_level(logging.DEBUG)
    for name in ("studio", "uvicorn", "uvicorn.error", "uvicorn.access", "httpx", "httpcore"):
        caplog.set_level(logging.DEBUG, logger=name)
    try:
        connection = add_connection(admin, "openai", f"{openai_fake.url}/v1", API_KEY, name="secret-lab")
        model = add_model(admin, connection["id"], "gpt-test", "chat")
        url = f"/v1/admin/connections/{connection['id']}"
        admin.client.get("/v1/admin/connections")
        admin.client.get(url)
        admin.client.get("/v1/admin/models")
        admin.client.get(f"{url}/upstream-models")
        assert admin.client.post(f"{url}/test").json()["ok"] is True

        # The vendor answers 401 and, as OpenAI does, quotes the key it was given.
        vendor_message = f"Incorrect API key provided: {API_KEY}. You can find your API key at example.org."
        refusal = {"error": {"message": vendor_message, "type": "invalid_request_error", "code": "invalid_api_key"}}
        openai_fake.queue("GET", "/v1/models", Reply(401, json=refusal))
        failed_test = admin.client.post(f"{url}/test").json()
        assert failed_test["ok"] is False and "Incorrect API key provided" in failed_test["message"]
        openai_fake.queue("POST", "/v1/chat/completions", Reply(401, json=refusal))
        answer = chat(user, model["id"])
        assert answer.status_code == 200
        events = read_events(answer)
        assert events[-1][0] == "error" and "Incorrect API key provided" in events[-1][1]["message"]
        assert openai_fake.received("POST", "/v1/chat/completions")[0].headers["authorization"] == f"Bearer {API_KEY}"
    finally:
        for logger in uvicorn_loggers:
            logger.removeHandler(caplog.handler)

    # (a) no response, to the admin or the user, holds it.
    assert len(responses.seen) >= 10
    assert responses.containing(API_KEY) == []

    # (b) the database holds it only encrypted: not in the row, not in its JSON, not in
    # any row of any table.
    row_text = admin_conn.execute("SELECT c::text FROM public.provider_connections c").fetchone()[0]
    row_json = admin_conn.execute("SELECT to_jsonb(c)::text FROM public.provider_connections c").fetchone()[0]
    (stored,) = admin_conn.execute("SELECT api_key_encrypted FROM public.provider_connections").fetchone()
    stored = bytes(stored)
    for text in (row_text, row_json):
        assert API_KEY not in text and API_KEY.encode().hex() not in text
    assert API_KEY.encode() not in stored and API_KEY.encode() not in base64.urlsafe_b64decode(stored)
    assert CredentialCipher(CREDENTIALS_KEY).decrypt(stored) == API_KEY  # ...and it is the key, encrypted
    tables = admin_conn.execute(
        "SELECT table_schema, table_name FROM information_schema.tables"
        " WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')").fetchall()
    assert len(tables) > 10
    for schema, table in tables:
        query = sql.SQL("SELECT count(*) FROM {}.{} t WHERE strpos(t::text, %s) > 0").format(
            sql.Identifier(schema), sql.Identifier(table))
        assert admin_conn.execute(query, (API_KEY,)).fetchone()[0] == 0, f"the API key in clear in {schema}.{table}"

    # (c) no log line of the server's holds it.
    assert any("/v1/admin/connections" in record.getMessage() for record in caplog.records), \
        "the access log was not captured: the check below would be vacuous"
    for record in caplog.records:
        assert API_KEY not in record.getMessage(), record
        assert API_KEY not in repr(record.args), record
        if record.exc_info:
            assert API_KEY not in logging.Formatter().formatException(record.exc_info), record
    assert API_KEY not in caplog.text

    # (d) the admin's data export holds neither the key nor the connection.
    with admin.client.stream("GET", "/v1/me/export") as r:
        assert r.status_code == 200
        archive_bytes = r.read()
    archive = zipfile.ZipFile(io.BytesIO(archive_bytes))
    contents = [*(name.encode() for name in archive.namelist()), *(archive.read(name) for name in archive.namelist())]
    assert any(b"admin@example.org" in content for content in contents)  # it is the admin's export
    for needle in (API_KEY, API_KEY[-4:], connection["id"], "secret-lab"):
        assert not any(needle.encode() in content for content in contents), needle
    assert not [name for name in archive.namelist() if "connection" in name]


@contextlib.contextmanager
def another_process(pg, db, tmp_path, admin: Account, **overrides: object) -> Iterator[httpx.Client]:
    """Another API process on the same database, with other settings, and a client of
    it signed in as the admin (the same session)."""
    process = serve(settings_for(tmp_path, **overrides), pg.conninfo(API_ROLE, db))
    with contextlib.closing(process), next(process).client() as client:
        client.cookies = admin.client.cookies
        client.headers["X-CSRF-Token"] = admin.csrf
        yield client


def test_rotating_the_credentials_key(pg, db, tmp_path, server: Server, admin: Account, user: Account,
                                      openai_fake: FakeOpenAI, admin_conn):
    connection = add_connection(admin, "openai", f"{openai_fake.url}/v1", API_KEY, name="lab")
    model = add_model(admin, connection["id"], "gpt-test", "chat")
    url = f"/v1/admin/connections/{connection['id']}"
    old, new = CREDENTIALS_KEY, "n" * 40

    def stored() -> bytes:
        return bytes(admin_conn.execute("SELECT api_key_encrypted FROM public.provider_connections").fetchone()[0])

    # The new value first, the old one still given: the stored key still works...
    with another_process(pg, db, tmp_path, admin, credentials_key=SecretStr(f"{new},{old}")) as rotated:
        assert rotated.get(url).json()["status"] is None
        assert rotated.post(f"{url}/test").json()["ok"] is True
        assert openai_fake.received("GET", "/v1/models")[-1].headers["authorization"] == f"Bearer {API_KEY}"
        # ...and saved again, it is encrypted under the new value only.
        assert rotated.patch(url, json={"api_key": API_KEY}).json()["api_key_last4"] == API_KEY[-4:]
    assert CredentialCipher(new).decrypt(stored()) == API_KEY
    with pytest.raises(UndecryptableKey):
        CredentialCipher(old).decrypt(stored())
    with another_process(pg, db, tmp_path, admin, credentials_key=SecretStr(new)) as renewed:
        assert renewed.post(f"{url}/test").json()["ok"] is True

    # A process without the value it was stored under cannot use it, and says so.
    with another_process(pg, db, tmp_path, admin, credentials_key=SecretStr("x" * 40)) as lost:
        status = lost.get(url).json()["status"]
        assert "enter the key again" in status and API_KEY not in status
        checked = lost.post(f"{url}/test").json()
        assert checked["ok"] is False and "enter the key again" in checked["message"]
        lost.cookies, lost.headers["X-CSRF-Token"] = user.client.cookies, user.csrf  # now as the user
        shown = next(m for m in lost.get("/v1/models").json()["items"] if m["id"] == model["id"])
        assert shown["available"] is False and "enter the key again" in shown["unavailable_reason"]
        conversation = lost.post("/v1/conversations", json={"model_id": model["id"]}).json()
        refused = lost.post(f"/v1/conversations/{conversation['id']}/messages",
                            json={"role": "user", "content": "hi", "generate": True})
        assert refused.status_code == 409 and refused.json()["error"]["code"] == "model_unavailable"
        lost.cookies, lost.headers["X-CSRF-Token"] = admin.client.cookies, admin.csrf
        # Entering the key again mends it.
        assert lost.patch(url, json={"api_key": API_KEY}).json()["status"] is None
        assert lost.post(f"{url}/test").json()["ok"] is True

    # Without any value, a key cannot be stored at all; a connection without one can.
    with another_process(pg, db, tmp_path, admin, credentials_key=None) as keyless:
        r = keyless.post("/v1/admin/connections", json={"kind": "openai", "name": "keyed", "api_key": API_KEY})
        assert r.status_code == 503 and r.json()["error"]["code"] == "credentials_key_missing"
        assert "STUDIO_CREDENTIALS_KEY" in r.json()["error"]["message"] and API_KEY not in r.text
        r = keyless.post("/v1/admin/connections", json={"kind": "openai", "name": "keyless",
                                                        "base_url": f"{openai_fake.url}/v1"})
        assert r.status_code == 201 and r.json()["status"] is None
        assert keyless.patch(url, json={"api_key": OTHER_KEY}).status_code == 503
        assert "cannot be used" in keyless.get(url).json()["status"]
    assert count(admin_conn, "SELECT count(*) FROM public.provider_connections WHERE name = 'keyed'") == 0


# --------------------------------------------------------------------------- admins only


def test_anyone_but_an_admin_finds_no_admin_api(server: Server, admin: Account, user: Account,
                                                openai_fake: FakeOpenAI, admin_conn):
    connection = add_connection(admin, "openai", f"{openai_fake.url}/v1", API_KEY, name="lab")
    model = add_model(admin, connection["id"], "gpt-test", "chat")
    c, m = f"/v1/admin/connections/{connection['id']}", f"/v1/admin/models/{model['id']}"
    routes: list[tuple[str, str, dict | None]] = [
        ("GET", "/v1/admin/connection-kinds", None),
        ("GET", "/v1/admin/connections", None),
        ("GET", "/v1/admin/connections/suggestions", None),
        ("POST", "/v1/admin/connections", {"kind": "openai", "name": "mine", "base_url": f"{openai_fake.url}/v1"}),
        ("GET", c, None),
        ("POST", f"{c}/test", None),
        ("GET", f"{c}/upstream-models", None),
        ("POST", f"{c}/models", {"models": [{"provider_model": "llama3"}]}),
        ("GET", "/v1/admin/models", None),
        ("GET", f"/v1/admin/models?connection_id={connection['id']}", None),
        ("POST", "/v1/admin/models", {"connection_id": connection["id"], "provider_model": "other", "type": "chat"}),
        ("PATCH", m, {"enabled": False}),
        ("PATCH", c, {"enabled": False}),
        ("DELETE", m, None),
        ("DELETE", c, None),
    ]
    for method, path, body in routes:
        r = user.client.request(method, path, json=body)
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found", (method, path, r.text)
        assert API_KEY[-4:] not in r.text and "lab" not in r.text
    with server.client() as anon:
        for method, path, body in routes:
            assert anon.request(method, path, json=body).status_code == 401, (method, path)
    # Nothing changed, and the vendor was never called on their behalf.
    assert openai_fake.requests == []
    assert admin.client.get(c).json() == {**connection, "model_count": 1}
    assert count(admin_conn, "SELECT count(*) FROM public.model_registry WHERE connection_id IS NOT NULL") == 1
    # The same requests reach the routes for the admin: the 404s were not for want of them.
    for method, path, body in routes:
        r = admin.client.request(method, path, json=body)
        assert r.status_code < 300, (method, path, r.text)


def test_users_see_only_enabled_models(admin: Account, user: Account, openai_fake: FakeOpenAI):
    connection = add_connection(admin, "openai", f"{openai_fake.url}/v1", name="lab")
    kept = add_model(admin, connection["id"], "kept", "chat")
    hidden = add_model(admin, connection["id"], "hidden", "chat")
    assert {"lab/kept", "lab/hidden"} <= {m["slug"] for m in user.client.get("/v1/models").json()["items"]}

    r = admin.client.patch(f"/v1/admin/models/{hidden['id']}", json={"enabled": False})
    assert r.status_code == 200 and r.json()["enabled"] is False and r.json()["unavailable_reason"] == "disabled"
    seen = {m["slug"]: m for m in user.client.get("/v1/models").json()["items"]}
    assert "lab/hidden" not in seen and seen["lab/kept"]["available"] is True
    assert "connection_id" not in seen["lab/kept"]  # the admins' business
    listed = {m["slug"]: m for m in admin.client.get("/v1/admin/models").json()["items"]}
    assert listed["lab/hidden"]["enabled"] is False and listed["lab/hidden"]["available"] is False
    assert listed["lab/kept"]["enabled"] is True and listed["lab/kept"]["connection_name"] == "lab"
    by_connection = admin.client.get("/v1/admin/models", params={"connection_id": connection["id"]}).json()["items"]
    assert sorted(m["slug"] for m in by_connection) == ["lab/hidden", "lab/kept"]
    assert kept["id"] in {m["id"] for m in by_connection}


def test_a_disabled_model_cannot_be_used(server: Server, admin: Account, user: Account, openai_fake: FakeOpenAI,
                                         admin_conn):
    connection = add_connection(admin, "openai", f"{openai_fake.url}/v1", API_KEY, name="lab")
    chat_model = add_model(admin, connection["id"], "gpt-test", "chat")
    image_model = add_model(admin, connection["id"], "image-test", "image")
    conversation = user.client.post("/v1/conversations", json={"model_id": chat_model["id"]}).json()
    for model in (chat_model, image_model):
        r = admin.client.patch(f"/v1/admin/models/{model['id']}", json={"enabled": False})
        assert r.status_code == 200 and r.json()["enabled"] is False

    generation = user.client.post("/v1/generations", json={"type": "image", "model_id": image_model["id"],
                                                           "prompt": "a lighthouse"})
    assert generation.status_code == 404, generation.text
    # The conversation's own model, which the user may no longer see: there is no chat
    # model to answer with (422, saying to choose one); the model named: it does not
    # exist for them (404, like the generation's).
    asked = user.client.post(f"/v1/conversations/{conversation['id']}/messages",
                             json={"role": "user", "content": "hi", "generate": True})
    named = user.client.post(f"/v1/conversations/{conversation['id']}/messages",
                             json={"role": "user", "content": "hi", "generate": True, "model_id": chat_model["id"]})
    assert asked.status_code == 422 and asked.json()["error"]["code"] == "validation_error", asked.text
    assert named.status_code == 404 and named.json()["error"]["code"] == "not_found", named.text
    # Not even the admin runs it.
    by_admin = admin.client.post("/v1/generations", json={"type": "image", "model_id": image_model["id"],
                                                          "prompt": "a lighthouse"})
    assert by_admin.status_code == 404
    assert count(admin_conn, "SELECT count(*) FROM public.jobs") == 0
    assert count(admin_conn, "SELECT count(*) FROM public.generations") == 0
    assert count(admin_conn, "SELECT count(*) FROM public.messages") == 0
    assert openai_fake.requests == []


# --------------------------------------------------------------------------- discovery


def test_discovering_and_importing_an_openai_compatible_servers_models(admin: Account, user: Account,
                                                                     openai_fake: FakeOpenAI, admin_conn):
    openai_fake.state["models"] = ["zeta-coder", "qwen2.5:7b", "Alpha_Large"]
    connection = add_connection(admin, "openai", f"{openai_fake.url}/v1", API_KEY)
    assert connection["name"] == "openai"
    url = f"/v1/admin/connections/{connection['id']}"
    found = admin.client.get(f"{url}/upstream-models")
    assert found.status_code == 200, found.text
    assert [m["name"] for m in found.json()["items"]] == ["Alpha_Large", "qwen2.5:7b", "zeta-coder"]
    assert all(m["registered_types"] == [] for m in found.json()["items"])

    r = admin.client.post(f"{url}/models", json={"models": [{"provider_model": "qwen2.5:7b"},
                                                            {"provider_model": "Alpha_Large", "display_name": "Alpha"}]})
    assert r.status_code == 201, r.text
    imported = {m["provider_model"]: m for m in r.json()["items"]}
    assert imported["qwen2.5:7b"]["slug"] == "openai/qwen2.5-7b"
    assert imported["Alpha_Large"]["slug"] == "openai/alpha_large"  # "_" is fine in a slug
    assert imported["Alpha_Large"]["display_name"] == "Alpha" and imported["qwen2.5:7b"]["display_name"] == "qwen2.5:7b"
    for model in imported.values():
        assert model["type"] == "chat" and model["capabilities"] == ["chat"] and model["provider"] == "openai"
        assert model["connection_id"] == connection["id"] and model["connection_name"] == "openai"
        assert model["enabled"] is True and model["available"] is True
    registered = {m["name"]: m["registered_types"] for m in admin.client.get(f"{url}/upstream-models").json()["items"]}
    assert registered == {"Alpha_Large": ["chat"], "qwen2.5:7b": ["chat"], "zeta-coder": []}
    assert admin.client.get(url).json()["model_count"] == 2

    # One of them again: all or none.
    again = admin.client.post(f"{url}/models", json={"models": [{"provider_model": "zeta-coder"},
                                                                {"provider_model": "qwen2.5:7b"}]})
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict", again.text
    assert "qwen2.5:7b" in again.json()["error"]["message"]
    assert count(admin_conn, "SELECT count(*) FROM public.model_registry WHERE connection_id = %s",
                 connection["id"]) == 2
    # The same upstream model as another type is another model.
    other_type = admin.client.post(f"{url}/models", json={"models": [{"provider_model": "qwen2.5:7b",
                                                                      "type": "image"}]})
    assert other_type.status_code == 201 and other_type.json()["items"][0]["slug"] == "openai/qwen2.5-7b-image"
    assert admin.client.post(f"{url}/models", json={"models": []}).status_code == 422

    served = user_model(user, "openai/qwen2.5-7b")
    assert served is not None and served["available"] is True
    answer = chat(user, served["id"])
    assert read_events(answer)[-1][0] == "done"
    assert openai_fake.received("POST", "/v1/chat/completions")[0].json()["model"] == "qwen2.5:7b"

    # A disabled connection is not asked.
    admin.client.patch(url, json={"enabled": False})
    before = len(openai_fake.received("GET", "/v1/models"))
    refused = admin.client.get(f"{url}/upstream-models")
    assert refused.status_code == 409 and "disabled" in refused.json()["error"]["message"]
    assert len(openai_fake.received("GET", "/v1/models")) == before


def test_discovering_and_chatting_with_an_ollama_servers_models(admin: Account, user: Account,
                                                               ollama_fake: FakeOllama):
    ollama_fake.state["key"] = API_KEY  # behind an authenticating proxy: the optional key is sent
    connection = add_connection(admin, "ollama", ollama_fake.url, API_KEY, name="local")
    url = f"/v1/admin/connections/{connection['id']}"
    found = admin.client.get(f"{url}/upstream-models")
    assert found.status_code == 200, found.text
    items = {m["name"]: m for m in found.json()["items"]}
    assert list(items) == ["llama3.2-vision:11b", "llama3.2:latest", "llava:7b", "qwen2.5:0.5b"]
    assert items["llava:7b"]["capabilities"] == ["chat", "vision"]
    assert items["llama3.2:latest"]["capabilities"] == ["chat"]
    assert ollama_fake.received("GET", "/api/tags")[0].headers["authorization"] == f"Bearer {API_KEY}"

    r = admin.client.post(f"{url}/models", json={"models": [
        {"provider_model": "llama3.2:latest"},
        {"provider_model": "llava:7b", "capabilities": ["chat", "vision"]}]})
    assert r.status_code == 201, r.text
    slugs = {m["provider_model"]: m["slug"] for m in r.json()["items"]}
    assert slugs == {"llama3.2:latest": "local/llama3.2-latest", "llava:7b": "local/llava-7b"}
    assert {m["provider_model"]: m["capabilities"] for m in r.json()["items"]}["llava:7b"] == ["chat", "vision"]
    again = admin.client.post(f"{url}/models", json={"models": [{"provider_model": "qwen2.5:0.5b"},
                                                                {"provider_model": "llava:7b"}]})
    assert again.status_code == 409
    assert {m["name"]: m["registered_types"] for m in admin.client.get(f"{url}/upstream-models").json()["items"]} == {
        "llama3.2-vision:11b": [], "llama3.2:latest": ["chat"], "llava:7b": ["chat"], "qwen2.5:0.5b": []}

    model = user_model(user, "local/llama3.2-latest")
    assert model is not None and model["available"] is True
    answer = chat(user, model["id"])
    assert answer.status_code == 200
    events = read_events(answer)
    assert [name for name, _ in events][-1] == "done" and events[-1][1]["content"] == "Hello, world"
    assert events[-1][1]["model"] == "local/llama3.2-latest"
    [sent] = ollama_fake.received("POST", "/api/chat")
    assert sent.json()["model"] == "llama3.2:latest"  # the upstream name exactly as registered
    assert sent.headers["authorization"] == f"Bearer {API_KEY}"


# --------------------------------------------------------------------------- testing a connection


def test_the_connection_test_reports_what_the_server_says(admin: Account, openai_fake: FakeOpenAI):
    openai_fake.state["models"] = ["a", "b", "c"]
    connection = add_connection(admin, "openai", f"{openai_fake.url}/v1", API_KEY)
    url = f"/v1/admin/connections/{connection['id']}/test"

    working = admin.client.post(url)
    assert working.status_code == 200
    assert working.json() == {"ok": True, "message": "connected: the server offers 3 models", "models": 3}

    openai_fake.queue("GET", "/v1/models", Reply(401, json={"error": {
        "message": "Incorrect API key provided: sk-wr***ng.", "type": "invalid_request_error"}}))
    refused = admin.client.post(url)
    assert refused.status_code == 200  # a failure is the answer, not an error
    body = refused.json()
    assert body["ok"] is False and body["models"] is None
    assert "401" in body["message"] and "Incorrect API key provided: sk-wr***ng." in body["message"]

    openai_fake.queue("GET", "/v1/models", Reply(200, json={"unexpected": True}))
    malformed = admin.client.post(url).json()
    assert malformed["ok"] is False and "data" in malformed["message"]

    admin.client.patch(f"/v1/admin/connections/{connection['id']}", json={"enabled": False})
    asked = len(openai_fake.requests)
    disabled = admin.client.post(url).json()
    assert disabled["ok"] is False and "disabled" in disabled["message"]
    assert len(openai_fake.requests) == asked  # a disabled connection is not called

    closed = add_connection(admin, "openai", f"http://127.0.0.1:{free_port()}/v1", name="gone")
    unreachable = admin.client.post(f"/v1/admin/connections/{closed['id']}/test").json()
    assert unreachable["ok"] is False and "connection failed" in unreachable["message"]



def test_media_connections_are_tested_with_one_cheap_request(admin: Account):
    fakes = [FakeReplicate(), FakeElevenLabs(), FakeComfyUI()]
    with contextlib.ExitStack() as stack:
        for fake in fakes:
            fake.start()
            stack.callback(fake.stop)
        replicate, elevenlabs, comfyui = fakes

        def test(kind: str, fake, **extra) -> dict:
            connection = add_connection(admin, kind, f"{fake.url}/v1" if kind == "replicate" else fake.url, **extra)
            r = admin.client.post(f"/v1/admin/connections/{connection['id']}/test")
            assert r.status_code == 200, r.text
            return r.json()

        assert test("replicate", replicate, api_key=API_KEY) == {
            "ok": True, "message": "connected as studio-tester", "models": None}
        [asked] = replicate.received("GET", "/v1/account")
        assert asked.headers["authorization"] == f"Bearer {API_KEY}"
        replicate.queue("GET", "/v1/account", Reply(401, json={"title": "Unauthenticated",
                                                                "detail": "You did not pass a valid token", "status": 401}))
        refused = test("replicate", replicate, api_key="r8_wrong-key-0000", name="replicate-wrong")
        assert refused["ok"] is False and "401" in refused["message"] and "valid token" in refused["message"]
        assert "r8_wrong-key-0000" not in refused["message"]

        assert test("elevenlabs", elevenlabs, api_key=API_KEY) == {
            "ok": True, "message": "connected: the account has 2 voices", "models": None}
        assert elevenlabs.received("GET", "/v1/voices")[0].headers["xi-api-key"] == API_KEY

        assert test("comfyui", comfyui) == {"ok": True, "message": "connected to ComfyUI 0.3.27 on cpu", "models": None}
        comfyui.queue("GET", "/system_stats", Reply(200, json=["not", "comfyui"]))
        assert test("comfyui", comfyui, name="comfyui-odd")["ok"] is False


# --------------------------------------------------------------------------- suggestions


def test_a_running_ollama_is_suggested_until_it_is_added(pg, db, tmp_path, server: Server, admin: Account,
                                                         ollama_fake: FakeOllama):
    # Nothing at the probe URL: nothing to suggest, and quickly.
    started = time.monotonic()
    nothing = admin.client.get("/v1/admin/connections/suggestions")
    assert nothing.status_code == 200 and nothing.json() == {"items": []}
    assert time.monotonic() - started < 1.5

    # Another API process, probing where the fake Ollama listens.
    with another_process(pg, db, tmp_path, admin, ollama_probe_url=ollama_fake.url) as client:
        offered = client.get("/v1/admin/connections/suggestions")
        assert offered.status_code == 200, offered.text
        [suggestion] = offered.json()["items"]
        assert suggestion["kind"] == "ollama" and suggestion["base_url"] == ollama_fake.url
        assert "4 models" in suggestion["message"]
        assert ollama_fake.received("GET", "/api/tags")

        # Taken up (as the suggestion gives it, plus a trailing slash): not offered again.
        r = client.post("/v1/admin/connections", json={"kind": suggestion["kind"], "name": suggestion["name"],
                                                       "base_url": suggestion["base_url"] + "/"})
        assert r.status_code == 201, r.text
        assert client.get("/v1/admin/connections/suggestions").json() == {"items": []}

        # A server that answers something else is not taken for an Ollama.
        ollama_fake.queue("GET", "/api/tags", Reply(200, json={"unexpected": True}))
        client.delete(f"/v1/admin/connections/{r.json()['id']}")
        assert client.get("/v1/admin/connections/suggestions").json() == {"items": []}
        assert len(client.get("/v1/admin/connections/suggestions").json()["items"]) == 1


# --------------------------------------------------------------------------- default parameters


def test_a_models_default_params_go_to_the_vendor(admin: Account, user: Account, openai_fake: FakeOpenAI):
    connection = add_connection(admin, "openai", f"{openai_fake.url}/v1", API_KEY)
    model = add_model(admin, connection["id"], "gpt-test", "chat", default_params={"temperature": 0.3})
    assert model["default_params"] == {"temperature": 0.3}
    assert read_events(chat(user, model["id"]))[-1][0] == "done"
    sent = openai_fake.received("POST", "/v1/chat/completions")[-1].json()
    assert sent["temperature"] == 0.3 and sent["model"] == "gpt-test" and sent["stream"] is True

    changed = admin.client.patch(f"/v1/admin/models/{model['id']}",
                                 json={"default_params": {"temperature": 0.9, "max_tokens": 64}})
    assert changed.status_code == 200 and changed.json()["default_params"] == {"temperature": 0.9, "max_tokens": 64}
    assert read_events(chat(user, model["id"]))[-1][0] == "done"
    sent = openai_fake.received("POST", "/v1/chat/completions")[-1].json()
    assert sent["temperature"] == 0.9 and sent["max_tokens"] == 64
    # Defaults never replace what the request is made of.
    admin.client.patch(f"/v1/admin/models/{model['id']}",
                       json={"default_params": {"model": "another", "stream": False, "temperature": 0.5}})
    assert read_events(chat(user, model["id"]))[-1][0] == "done"
    sent = openai_fake.received("POST", "/v1/chat/completions")[-1].json()
    assert (sent["model"], sent["stream"], sent["temperature"]) == ("gpt-test", True, 0.5)
    assert admin.client.patch(f"/v1/admin/models/{model['id']}",
                              json={"default_params": ["temperature"]}).status_code == 422


def test_a_non_admin_cannot_learn_the_admin_api_from_a_bad_request(server):
    user = sign_up_and_log_in(server, "curious@example.org")
    for method, path, body in (("POST", "/v1/admin/connections", {"kind": "nope"}),
                               ("PATCH", "/v1/admin/connections/not-a-uuid", {"enabled": "maybe"}),
                               ("POST", "/v1/admin/models", {}),
                               ("GET", "/v1/admin/models?connection_id=zzz", None)):
        r = user.client.request(method, path, json=body)
        assert r.status_code == 404 and "kind" not in r.text, (method, path, r.status_code, r.text)
    user.client.close()


def test_a_speech_model_lists_its_voices_and_takes_only_those(admin: Account, user: Account,
                                                               openai_fake: FakeOpenAI, admin_conn):
    connection = add_connection(admin, "openai", f"{openai_fake.url}/v1", API_KEY)
    tts = add_model(admin, connection["id"], "kokoro", "audio")
    assert tts["voices"] == []

    def voice_schema() -> dict:
        [model] = [m for m in user.client.get("/v1/models").json()["items"] if m["id"] == tts["id"]]
        return model["parameters"]["properties"]["voice"]

    def generate(voice: str) -> httpx.Response:
        return user.client.post("/v1/generations", json={"type": "audio", "model_id": tts["id"], "prompt": "Hello",
                                                         "params": {"voice": voice}})

    # No list: OpenAI's voices as examples, and any voice the server may know is taken.
    assert "alloy" in voice_schema()["examples"] and "enum" not in voice_schema()
    assert generate("af_bella").status_code == 202

    changed = admin.client.patch(f"/v1/admin/models/{tts['id']}", json={"voices": ["af_bella", "am_adam", "af_bella"]})
    assert changed.status_code == 200 and changed.json()["voices"] == ["af_bella", "am_adam"]
    assert voice_schema()["enum"] == ["af_bella", "am_adam"] and "examples" not in voice_schema()
    before = count(admin_conn, "SELECT count(*) FROM generations")
    refused = generate("alloy")
    assert refused.status_code == 422
    assert refused.json()["error"]["message"] == ("params.voice: 'alloy' is not one of this model's voices; "
                                                  "allowed: af_bella, am_adam")
    assert count(admin_conn, "SELECT count(*) FROM generations") == before
    assert generate("am_adam").status_code == 202

    # Only speech has voices; an empty list lifts the restriction.
    chat_model = add_model(admin, connection["id"], "gpt-test", "chat")
    r = admin.client.patch(f"/v1/admin/models/{chat_model['id']}", json={"voices": ["x"]})
    assert r.status_code == 422 and "only a speech" in r.json()["error"]["message"]
    assert admin.client.patch(f"/v1/admin/models/{tts['id']}", json={"voices": []}).json()["voices"] == []
    assert "enum" not in voice_schema() and generate("alloy").status_code == 202
