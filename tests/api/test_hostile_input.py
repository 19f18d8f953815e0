"""Issue 15, part 1: what the fuzz tier cannot reach from the OpenAPI document, generated
here by hypothesis against the real server: the headers Studio reads (Range,
Last-Event-ID, Authorization, the session cookie, X-CSRF-Token, X-Request-ID,
Content-Type), multipart parts of a transcription, and signed webhook bodies. Whatever
their content, length or encoding, the answer is a 2xx or a 4xx with the error JSON,
never a 5xx."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from studio.config import API_ROLE
from tests.api.conftest import Account, Server, make_settings, serve, sign_up_and_log_in
from tests.api.test_sharing_and_uploads import png
from tests.api.test_webhooks import SECRET, signed

EXAMPLES = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)

# What an HTTP header can carry: latin-1 text without CR/LF (httpx refuses those, as
# every proxy on the way would), from the short to the absurdly long.
header_text = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"),
                      max_size=300)
# Sent as bytes (latin-1). Leading and trailing blanks are no part of a header's value;
# h11 refuses to send them.
header_value = st.one_of(
    header_text,
    st.sampled_from(["", " ", "bytes=", "bytes=0-", "bytes=-0", "bytes=5-1", "bytes=0-0,1-1", "bytes=99999999999999999999-",
                     "bytes=-99999999999999999999", "bytes=1-2-3", "items=0-1", "Bearer", "Bearer ", "Basic Zm9vOmJhcg==",
                     "0", "-1", "99999999999999999999999", "18446744073709551616", "1:2:3", "abc.def", "%00", "\\x00",
                     "../../etc/passwd", "null", "[]", "{}", "'; DROP TABLE users; --"])).map(lambda v: v.strip(" \t").encode("latin-1"))


@pytest.fixture(scope="module")
def hostile(pg, tmp_path_factory) -> Iterator[tuple[Server, Account, str]]:
    """One database and server for the module (hypothesis runs many examples per test),
    one account, and one media item of theirs to ask ranges of."""
    settings_ = make_settings(home=tmp_path_factory.mktemp("hostile"), webhook_secret_replicate=SECRET,
                              rate_limits_enabled=False)
    name = pg.create_database()
    try:
        for server in serve(settings_, pg.conninfo(API_ROLE, name)):
            account = sign_up_and_log_in(server, f"hostile-{uuid.uuid4().hex[:8]}@example.org")
            media = account.client.post("/v1/uploads", content=png(8, 8), headers={"Content-Type": "image/png"})
            assert media.status_code == 201, media.text
            yield server, account, media.json()["id"]
            account.client.close()
    finally:
        pg.drop_database(name)


def assert_no_server_error(response: httpx.Response) -> None:
    assert response.status_code < 500, (response.status_code, response.text[:500])
    if response.status_code >= 400:
        assert response.headers["content-type"].startswith("application/json"), response.headers
        assert isinstance(response.json()["error"]["code"], str)


@EXAMPLES
@given(value=header_value)
def test_any_range_header(hostile, value: bytes) -> None:
    _, account, media_id = hostile
    r = account.client.get(f"/v1/media/{media_id}", headers={"Range": value})
    assert_no_server_error(r)
    assert r.status_code in (200, 206, 416), (value, r.status_code)


@EXAMPLES
@given(value=header_value)
def test_any_last_event_id(hostile, value: bytes) -> None:
    _, account, _ = hostile
    # A valid id opens the stream: its status line is enough; the stream is closed unread.
    with account.client.stream("GET", "/v1/events", headers={"Last-Event-ID": value}) as r:
        if r.status_code >= 400:
            r.read()
        assert_no_server_error(r)
        assert r.status_code in (200, 400), (value, r.status_code)


@EXAMPLES
@given(authorization=header_value, cookie=header_value, csrf=header_value, request_id=header_value)
def test_any_credentials_and_request_id(hostile, authorization: bytes, cookie: bytes, csrf: bytes,
                                        request_id: bytes) -> None:
    server, _, _ = hostile
    with httpx.Client(base_url=server.url, timeout=30) as anonymous:
        for headers in ({"Authorization": authorization, "X-Request-ID": request_id},
                        {"Cookie": b"studio_session=" + cookie, "X-CSRF-Token": csrf},
                        {"Cookie": cookie}):
            assert_no_server_error(anonymous.get("/v1/me", headers=headers))
            r = anonymous.post("/v1/conversations", json={}, headers=headers)
            assert_no_server_error(r)
            assert r.status_code in (401, 403), (headers, r.status_code)


@EXAMPLES
@given(forwarded=header_value)
def test_any_forwarded_client_address(hostile, forwarded: bytes) -> None:
    """The test server believes X-Forwarded-For from 127.0.0.1, as an API behind a trusted
    proxy does (STUDIO_TRUSTED_PROXIES): whatever it names, the request is served (an
    address that is not one is recorded as unknown)."""
    server, account, _ = hostile
    with httpx.Client(base_url=server.url, timeout=30) as anonymous:
        r = anonymous.post("/v1/auth/login", json={"email": account.email, "password": "wrong password"},
                           headers={"X-Forwarded-For": forwarded})
    assert_no_server_error(r)
    assert r.status_code in (401, 429), r.text
    assert_no_server_error(account.client.get("/v1/me", headers={"X-Forwarded-For": forwarded}))


@EXAMPLES
@given(content_type=header_value, body=st.binary(max_size=2048))
def test_any_content_type_and_bytes_of_an_upload(hostile, content_type: bytes, body: bytes) -> None:
    _, account, _ = hostile
    assert_no_server_error(account.client.post("/v1/uploads", content=body, headers={"Content-Type": content_type}))
    assert_no_server_error(account.client.post("/v1/conversations", content=body,
                                               headers={"Content-Type": content_type}))


part_name = st.one_of(st.sampled_from(["file", "model", "language", "prompt", "response_format", "temperature"]),
                      header_text)


@EXAMPLES
@given(parts=st.lists(st.tuples(part_name, st.one_of(st.binary(max_size=512), header_text)), max_size=6),
       filename=header_text, file_type=header_value)
def test_any_multipart_form_of_a_transcription(hostile, parts, filename: str, file_type: bytes) -> None:
    _, account, _ = hostile
    files = [(name, (filename, value, file_type.decode("latin-1"))) if isinstance(value, bytes) else (name, (None, value))
             for name, value in parts]
    for path in ("/v1/transcriptions", "/openai/v1/audio/transcriptions"):
        r = account.client.post(path, files=files or {"file": ("x.wav", b"", "audio/wav")})
        assert_no_server_error(r)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12)


@EXAMPLES
@given(body=st.one_of(st.binary(max_size=1024), json_values.map(lambda v: httpx.Response(200, json=v).content),
                      st.dictionaries(st.sampled_from(["id", "status", "output", "error", "logs", "metrics"]),
                                      json_values).map(lambda v: httpx.Response(200, json=v).content)))
def test_any_signed_webhook_body(hostile, body: bytes) -> None:
    """Signed, so it reaches the parsing and the database (an unsigned one stops at 401)."""
    server, _, _ = hostile
    with httpx.Client(base_url=server.url, timeout=30) as provider:
        r = provider.post("/v1/webhooks/replicate", content=body, headers=signed(body))
    assert_no_server_error(r)
    assert r.status_code in (202, 400, 409, 422), (body[:200], r.status_code, r.text)


@EXAMPLES
@given(delivery_id=header_value, timestamp=header_value, signature=header_value)
def test_any_webhook_signature_headers(hostile, delivery_id: bytes, timestamp: bytes, signature: bytes) -> None:
    server, _, _ = hostile
    with httpx.Client(base_url=server.url, timeout=30) as provider:
        r = provider.post("/v1/webhooks/replicate", content=b'{"id": "x"}', headers={
            "content-type": "application/json", "webhook-id": delivery_id, "webhook-timestamp": timestamp,
            "webhook-signature": signature})
    assert_no_server_error(r)
    assert r.status_code == 401, r.text
