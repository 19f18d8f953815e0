"""Provider webhooks (F15), over HTTP against the real server and database: only a
correctly signed, recent, first-time delivery from a configured provider is stored."""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Iterator

import httpx
import orjson
import pytest

from studio.config import API_ROLE
from studio.webhooks.endpoints import MAX_WEBHOOK_BYTES
from studio.webhooks.signatures import decode_secret, sign
from tests.api.conftest import Server, make_settings, serve

SECRET = "whsec_" + base64.b64encode(b"replicate-test-signing-key-32byt").decode()
KEY = decode_secret(SECRET)
JOB_ID = "pred-abc123"
URL = "/v1/webhooks/replicate"


@pytest.fixture
def hooks(pg, db, tmp_path) -> Iterator[Server]:
    """The API with a Replicate signing secret (comfyui deliberately not configured).
    The global body limit is raised well above 1 MiB, so the 413s seen here come from
    the webhook's own cap."""
    settings = make_settings(home=tmp_path, max_body_bytes=8 * MAX_WEBHOOK_BYTES, webhook_secret_replicate=SECRET)
    yield from serve(settings, pg.conninfo(API_ROLE, db))


@pytest.fixture
def client(hooks: Server) -> Iterator[httpx.Client]:
    with hooks.client() as c:
        yield c


@pytest.fixture
def generation(admin_conn) -> str:
    """A Replicate generation whose prediction id is JOB_ID, arranged from outside RLS."""
    user = admin_conn.execute("INSERT INTO users (email) VALUES ('hook@example.org') RETURNING id").fetchone()[0]
    return str(admin_conn.execute(
        "INSERT INTO generations (user_id, type, provider, prompt, provider_job_id, status)"
        " VALUES (%s, 'image', 'replicate', 'a cat', %s, 'running') RETURNING id", (user, JOB_ID)).fetchone()[0])


def prediction(job_id: str = JOB_ID) -> bytes:
    return orjson.dumps({"id": job_id, "status": "succeeded", "output": ["https://replicate.delivery/x.png"]})


def signed(body: bytes, *, delivery_id: str | None = None, timestamp: int | None = None,
           key: bytes = KEY) -> dict[str, str]:
    delivery_id = delivery_id or f"msg_{uuid.uuid4().hex}"
    timestamp = int(time.time()) if timestamp is None else timestamp
    return {"webhook-id": delivery_id, "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(key, delivery_id, timestamp, body), "content-type": "application/json"}


def deliveries(admin_conn) -> list[tuple]:
    return admin_conn.execute(
        "SELECT provider, delivery_id, provider_job_id, generation_id::text, payload FROM webhook_deliveries"
    ).fetchall()


def assert_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code


def test_valid_delivery_is_stored_once_and_wakes_the_generation(client, admin_conn, generation):
    admin_conn.execute("LISTEN studio_webhooks")
    body = prediction()
    headers = signed(body, delivery_id="msg_first")
    r = client.post(URL, content=body, headers=headers)
    assert r.status_code == 202, r.text
    assert r.json() == {"received": True}
    assert deliveries(admin_conn) == [("replicate", "msg_first", JOB_ID, generation, orjson.loads(body))]
    [note] = list(admin_conn.notifies(timeout=5, stop_after=1))
    assert note.channel == "studio_webhooks" and note.payload == generation

    # A replay, as sent, or re-signed with a fresh timestamp (the id is what counts).
    assert_error(client.post(URL, content=body, headers=headers), 409, "webhook_replayed")
    assert_error(client.post(URL, content=body, headers=signed(body, delivery_id="msg_first")),
                 409, "webhook_replayed")
    assert len(deliveries(admin_conn)) == 1


def test_unmatched_delivery_gets_the_same_answer(client, admin_conn, generation):
    body = prediction("pred-nobody-knows")
    r = client.post(URL, content=body, headers=signed(body))
    assert r.status_code == 202 and r.json() == {"received": True}
    [row] = deliveries(admin_conn)
    assert row[2] == "pred-nobody-knows" and row[3] is None


def test_bad_signatures_are_401_and_store_nothing(client, admin_conn, generation):
    body = prediction()
    unsigned = client.post(URL, content=body, headers={"content-type": "application/json"})
    assert_error(unsigned, 401, "invalid_signature")
    assert_error(client.post(URL, content=body, headers=signed(body, key=b"w" * 32)), 401, "invalid_signature")
    tampered = signed(body)
    assert_error(client.post(URL, content=body.replace(b"succeeded", b"failed"), headers=tampered),
                 401, "invalid_signature")
    six_minutes_ago = int(time.time()) - 360
    assert_error(client.post(URL, content=body, headers=signed(body, timestamp=six_minutes_ago)),
                 401, "invalid_signature")
    in_six_minutes = int(time.time()) + 360
    assert_error(client.post(URL, content=body, headers=signed(body, timestamp=in_six_minutes)),
                 401, "invalid_signature")
    assert deliveries(admin_conn) == []


def test_unknown_provider_is_404_before_the_body_is_read(client, admin_conn):
    def endless():  # would be a 413 if the body were read at all
        for _ in range(3 * MAX_WEBHOOK_BYTES // 65536):
            yield b"x" * 65536

    for provider in ("comfyui", "elevenlabs", "Replicate", "nope"):  # comfyui: known, no secret here
        body = prediction()
        assert_error(client.post(f"/v1/webhooks/{provider}", content=body, headers=signed(body)), 404, "not_found")
    assert_error(client.post("/v1/webhooks/nope", content=endless(), headers={"content-type": "application/json"}),
                 404, "not_found")
    assert deliveries(admin_conn) == []


def padded(size: int) -> bytes:
    """A valid prediction body of exactly `size` bytes."""
    head, tail = b'{"id": "' + JOB_ID.encode() + b'", "pad": "', b'"}'
    return head + b"x" * (size - len(head) - len(tail)) + tail


def test_body_limit_is_counted_while_streaming(client, admin_conn, generation):
    at_limit = padded(MAX_WEBHOOK_BYTES)
    r = client.post(URL, content=at_limit, headers=signed(at_limit))
    assert r.status_code == 202, r.text

    over = padded(MAX_WEBHOOK_BYTES + 1)
    headers = signed(over)

    def chunks():  # no Content-Length: chunked transfer, the cap must count
        for start in range(0, len(over), 65536):
            yield over[start:start + 65536]

    for r in (client.post(URL, content=chunks(), headers=headers),
              client.post(URL, content=over, headers=signed(over))):  # declared Content-Length
        assert_error(r, 413, "payload_too_large")
        assert "webhook" in r.json()["error"]["message"]  # our cap, not the global one
    assert len(deliveries(admin_conn)) == 1


@pytest.mark.parametrize("body", [b"not json", b'{"id": "unterminated', b"[1, 2]", b'"just a string"',
                                  b'{"id": "x", "bad": "\\u0000"}'])
def test_signed_but_not_a_json_object_is_400(client, admin_conn, body):
    assert_error(client.post(URL, content=body, headers=signed(body)), 400, "malformed_json")
    assert deliveries(admin_conn) == []
