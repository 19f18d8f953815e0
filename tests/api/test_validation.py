"""Bad input gets a clear 4xx JSON error and changes nothing (K4, F8, F16)."""

from __future__ import annotations

import pytest

from tests.api.conftest import Account, add_connection, add_model, make_admin


def row_counts(admin_conn) -> tuple[int, int, int]:
    return admin_conn.execute(
        "SELECT (SELECT count(*) FROM conversations), (SELECT count(*) FROM messages),"
        " (SELECT count(*) FROM api_keys)").fetchone()


def assert_error(response, status: int, code: str | None = None) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert isinstance(error["message"], str) and error["message"]
    if code:
        assert error["code"] == code


@pytest.mark.parametrize("body, status, code", [
    ('{"title": "unterminated', 400, "malformed_json"),
    ("[1, 2, 3]", 422, "validation_error"),
    ('{"title": 123}', 422, "validation_error"),
    ('{"title": "x", "owner": "someone-else"}', 422, "validation_error"),  # unknown field
    ('{"title": "' + "t" * 201 + '"}', 422, "validation_error"),             # over the 200-char limit
    ('{"title": ""}', 422, "validation_error"),
    ('{"model_id": "not-a-uuid"}', 422, "validation_error"),
])
def test_bad_conversation_bodies(alice: Account, admin_conn, body: str, status: int, code: str):
    before = row_counts(admin_conn)
    r = alice.client.post("/v1/conversations", content=body, headers={"Content-Type": "application/json"})
    assert_error(r, status, code)
    assert row_counts(admin_conn) == before


@pytest.mark.parametrize("body", [
    {"role": "wizard", "content": "x"},
    {"role": "user", "content": ""},
    {"role": "user", "content": "x" * 100_001},
    {"role": "user", "content": "x", "parent_id": "123"},
    {"role": "user"},
    {"role": "user", "content": ["not", "text"]},
])
def test_bad_message_bodies(alice: Account, admin_conn, body: dict):
    conv = alice.client.post("/v1/conversations", json={}).json()["id"]
    before = row_counts(admin_conn)
    r = alice.client.post(f"/v1/conversations/{conv}/messages", json=body)
    assert_error(r, 422, "validation_error")
    assert row_counts(admin_conn) == before


def test_limits_match_the_database(alice: Account, admin_conn):
    """The API's limits and the CHECK constraints agree: the longest value the API
    accepts is stored, one more character is refused before reaching the database."""
    conv = alice.client.post("/v1/conversations", json={"title": "t" * 200, "system_prompt": "s" * 10_000})
    assert conv.status_code == 201
    ok = alice.client.post(f"/v1/conversations/{conv.json()['id']}/messages",
                           json={"role": "user", "content": "x" * 100_000})
    assert ok.status_code == 201
    checks = dict(admin_conn.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
        " WHERE conname IN ('conversations_title_length', 'messages_content_length',"
        "                   'conversations_system_prompt_length', 'api_keys_name_length')").fetchall())
    assert "200" in checks["conversations_title_length"]
    assert "100000" in checks["messages_content_length"]
    assert "10000" in checks["conversations_system_prompt_length"]
    assert "100" in checks["api_keys_name_length"]


def test_bad_path_and_query_parameters(alice: Account):
    assert_error(alice.client.get("/v1/conversations/not-a-uuid"), 422, "validation_error")
    assert_error(alice.client.get("/v1/conversations", params={"limit": 0}), 422)
    assert_error(alice.client.get("/v1/conversations", params={"limit": 101}), 422)
    assert_error(alice.client.get("/v1/conversations", params={"cursor": "garbage!"}), 400, "invalid_cursor")
    assert_error(alice.client.delete("/v1/api-keys/12345"), 422)


def test_body_limit_and_content_type(server, alice: Account, admin_conn):
    before = row_counts(admin_conn)
    big = '{"title": "' + "x" * (server.settings.max_body_bytes + 1) + '"}'
    assert_error(alice.client.post("/v1/conversations", content=big,
                                   headers={"Content-Type": "application/json"}), 413, "payload_too_large")

    def chunks():  # no Content-Length: the limit is enforced while streaming
        yield b'{"title": "'
        for _ in range(server.settings.max_body_bytes // 65536 + 2):
            yield b"x" * 65536
        yield b'"}'

    assert_error(alice.client.post("/v1/conversations", content=chunks(),
                                   headers={"Content-Type": "application/json"}), 413, "payload_too_large")
    assert_error(alice.client.post("/v1/conversations", content="title=x",
                                   headers={"Content-Type": "application/x-www-form-urlencoded"}),
                 415, "unsupported_media_type")
    assert row_counts(admin_conn) == before


def test_signup_validation(anon, admin_conn):
    for body in ({"email": "not-an-email", "password": "long enough pw"},
                 {"email": "a@example.org", "password": "short"},
                 {"email": "a@example.org", "password": "p" * 129},
                 {"email": "a@example.org", "password": "long enough pw", "role": "admin"},
                 {"email": ("x" * 250) + "@example.org", "password": "long enough pw"}):
        assert_error(anon.post("/v1/auth/signup", json=body), 422, "validation_error")
    assert admin_conn.execute("SELECT count(*) FROM users").fetchone()[0] == 0


def test_unknown_route_and_method_are_json(alice: Account):
    assert_error(alice.client.get("/v1/nothing-here"), 404, "not_found")
    assert_error(alice.client.put("/v1/conversations", json={}), 405, "method_not_allowed")


def test_openapi_describes_the_api(anon):
    spec = anon.get("/openapi.json").json()
    for path in ("/v1/auth/signup", "/v1/auth/login", "/v1/me", "/v1/api-keys", "/v1/conversations",
                 "/v1/conversations/{conversation_id}/messages", "/readyz", "/v1/generations", "/v1/models",
                 "/v1/generations/{generation_id}/events", "/v1/events", "/v1/media/{media_id}", "/v1/uploads",
                 "/v1/shares", "/v1/webhooks/{provider}"):
        assert path in spec["paths"], path


def test_the_nul_character_is_refused_wherever_it_comes_in(alice: Account, admin_conn):
    """PostgreSQL cannot store NUL in text (nor \\u0000 in jsonb): any field that reaches
    it answers 422, one rule for every endpoint, and nothing is written. Found by the
    fuzz tier (a dataset's name); the rule is in http/errors.py, not per field."""
    nul = "a\u0000b"
    conversation = alice.client.post("/v1/conversations", json={"title": "ok"}).json()["id"]
    attempts = [
        ("POST", "/v1/datasets", {"name": nul}),
        ("POST", "/v1/conversations", {"title": nul}),
        ("PATCH", f"/v1/conversations/{conversation}", {"title": nul}),
        ("PATCH", "/v1/me", {"display_name": nul}),
        ("POST", "/v1/api-keys", {"name": nul}),
    ]
    for method, path, body in attempts:
        r = alice.client.request(method, path, json=body)
        assert r.status_code == 422, (path, r.text)
        assert r.json()["error"] == {"code": "validation_error",
                                     "message": "text cannot contain the NUL character (\\u0000)"}, r.text
    assert admin_conn.execute("SELECT count(*) FROM datasets").fetchone() == (0,)
    assert admin_conn.execute("SELECT title FROM conversations").fetchall() == [("ok",)]
    assert admin_conn.execute("SELECT count(*) FROM api_keys").fetchone() == (0,)


def test_numbers_postgresql_keeps_whole_come_back_as_json(alice: Account, admin_conn):
    """A free-form JSON document may hold numbers no 64-bit integer holds: 1.3e58 (which
    jsonb keeps as its 59 digits), 10**30, 1e400. Each is stored or refused with a 4xx,
    and reading it back never fails. Found by the fuzz tier (a model's default_params
    answered 500 on the way out); the rule is in studio/db (how every connection reads
    json), not per field."""
    admin = make_admin(alice, admin_conn)
    connection = add_connection(admin, "openai", "http://127.0.0.1:9/v1", "sk-test-0000")
    model = add_model(admin, connection["id"], "gpt-test", "chat")
    url = f"/v1/admin/models/{model['id']}"
    body = b'{"default_params": {"big": 1.2955134648073188e+58, "huge": 1000000000000000000000000000000}}'
    r = admin.client.patch(url, content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 200, r.text
    assert r.json()["default_params"] == {"big": 1.2955134648073188e+58, "huge": 1e30}
    listed = {m["id"]: m for m in admin.client.get("/v1/admin/models").json()["items"]}
    assert listed[model["id"]]["default_params"] == {"big": 1.2955134648073188e+58, "huge": 1e30}

    r = admin.client.patch(url, content=b'{"default_params": {"inf": 1e400}}',
                           headers={"Content-Type": "application/json"})
    assert r.status_code == 422, r.text
    stored = admin_conn.execute("SELECT default_params->>'huge' FROM model_registry WHERE id = %s", (model["id"],))
    assert stored.fetchone() == (str(10**30),)  # the 1e400 changed nothing


def test_every_operation_documents_its_errors_with_the_error_schema(anon):
    """Issue 15, part 3: each operation lists the error statuses the shared machinery
    can answer (http/openapi.py), each with the one error shape; none keeps FastAPI's
    own validation shape, which Studio never sends."""
    spec = anon.get("/openapi.json").json()
    error_ref = {"$ref": "#/components/schemas/ErrorBody"}
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            where = f"{method.upper()} {path}"
            for status, response in responses.items():
                if status[0] in "45":
                    assert response["content"]["application/json"]["schema"] == error_ref, (where, status)
                    assert response["description"] and response["description"] != "Validation Error", (where, status)
            if "{" in path:
                assert "404" in responses and "422" in responses, where
            if "requestBody" in operation and method in ("post", "put", "patch", "delete"):
                assert {"400", "413", "415", "422"} <= responses.keys(), where
            if any(p["name"] == "cursor" for p in operation.get("parameters", [])):
                assert "400" in responses, where
    ops = spec["paths"]
    assert {"401", "403", "404", "503"} <= ops["/v1/conversations/{conversation_id}"]["patch"]["responses"].keys()
    assert {"401", "429"} <= ops["/v1/auth/login"]["post"]["responses"].keys()
    assert "429" in ops["/v1/generations"]["post"]["responses"]
    assert "401" not in ops["/healthz"]["get"]["responses"]


def test_a_method_a_path_does_not_take_is_405_with_every_method_it_takes(alice: Account):
    """Allow lists what the path takes across all its routes (Starlette's own names one
    route's), and a literal path is not mistaken for an id of the template next to it."""
    conversation = alice.client.post("/v1/conversations", json={}).json()["id"]
    r = alice.client.put(f"/v1/conversations/{conversation}", json={})
    assert_error(r, 405, "method_not_allowed")
    assert r.headers["allow"] == "DELETE, GET, HEAD, PATCH"
    r = alice.client.delete("/v1/notifications/read-all")
    assert_error(r, 405, "method_not_allowed")
    assert r.headers["allow"] == "POST"
    r = alice.client.request("OPTIONS", "/v1/datasets")
    assert r.status_code == 405 and r.headers["allow"] == "GET, HEAD, POST"


@pytest.mark.parametrize("path, body", [
    ("/v1/conversations", {"title_auto": 0}),
    ("/v1/conversations", {"title": "x", "title_auto": "true"}),
    ("/v1/api-keys", {"name": 5}),
    ("/v1/shares", {"generation_id": 7}),
])
def test_json_types_are_kept_not_coerced(alice: Account, admin_conn, path: str, body: dict):
    """0 is not false and "true" is not true: a body gets the types the document
    promises (http/schemas.RequestBody), or 422 and nothing is written."""
    before = row_counts(admin_conn)
    assert_error(alice.client.post(path, json=body), 422, "validation_error")
    assert row_counts(admin_conn) == before


def test_a_day_is_only_yyyy_mm_dd(alice: Account):
    assert_error(alice.client.get("/v1/me/usage", params={"until": "0"}), 422, "validation_error")
    assert alice.client.get("/v1/me/usage", params={"until": "2026-01-31"}).json()["until"] == "2026-01-31"


def test_a_body_naming_a_missing_resource_is_422_not_404(alice: Account, admin_conn):
    """The addressed conversation exists; the model the body names does not: the body is
    what is wrong (and another user's model gets the same answer)."""
    conversation = alice.client.post("/v1/conversations", json={}).json()["id"]
    r = alice.client.patch(f"/v1/conversations/{conversation}",
                           json={"model_id": "e0511471-7eaf-3796-90bf-64d589897ee0"})
    assert_error(r, 422, "validation_error")
    assert admin_conn.execute("SELECT model_id FROM conversations").fetchone() == (None,)


def test_a_malformed_multipart_form_is_a_documented_400(alice: Account, anon):
    """Found by the long fuzz run: a form the multipart parser cannot read is 400
    malformed_form, which the document must declare for the endpoints that take forms."""
    boundary = "b07390251213ae087e0bb574e4ff03b8"
    r = alice.client.post("/v1/transcriptions", content=f"--{boundary}\r\n-6.9e+16--{boundary}--\r\n",
                          headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert_error(r, 400, "malformed_form")
    paths = anon.get("/openapi.json").json()["paths"]
    for path in ("/v1/transcriptions", "/openai/v1/audio/transcriptions"):
        assert "400" in paths[path]["post"]["responses"], path
