"""Generations over HTTP with a real worker on the same database: the request returns
at once, the worker produces the file with a local provider, the owner downloads it
(with ranges), nobody else can see it, deleting it removes the file."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from studio.config import API_ROLE, WORKER_ROLE
from studio.jobs.worker import Worker, WorkerOptions
from studio.worker import assembled_worker
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


class WorkerThread:
    """A real Worker (queue, providers, storage) on its own event loop in a thread."""

    def __init__(self, settings, conninfo: str, *, retire_deleted_files: bool = False) -> None:
        # Deleted files are deleted at once, unless they are to be retired for the
        # recovery window (the worker's setting when backups are on).
        settings = settings.model_copy(update={"backup_enabled": retire_deleted_files})
        self.options = WorkerOptions(concurrency=2, poll_seconds=0.5, lease_seconds=6, rescue_every=1,
                                     grace_seconds=5)
        self.loop = asyncio.new_event_loop()
        self.worker: Worker | None = None
        self.error: BaseException | None = None

        async def main() -> None:
            async with assembled_worker(settings, conninfo, self.options, cleanup_every=0.5) as worker:
                self.worker = worker
                await worker.run()

        def target() -> None:
            try:
                self.loop.run_until_complete(main())
            except BaseException as exc:  # surfaced by stop()
                self.error = exc

        self.thread = threading.Thread(target=target, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while self.worker is None and time.monotonic() < deadline and self.thread.is_alive():
            time.sleep(0.02)

    def stop(self) -> None:
        if self.worker is not None:
            self.loop.call_soon_threadsafe(self.worker.stop)
        self.thread.join(30)
        assert not self.thread.is_alive(), "the worker did not stop"
        if self.error:
            raise self.error


@pytest.fixture
def worker(server: Server, pg, db) -> Iterator[WorkerThread]:
    running = WorkerThread(server.settings, pg.conninfo(WORKER_ROLE, db))
    try:
        yield running
    finally:
        running.stop()


def model_id(account: Account, slug: str) -> str:
    models = account.client.get("/v1/models").json()["items"]
    return next(m["id"] for m in models if m["slug"] == slug)


def wait_for(account: Account, generation_id: str, statuses: set[str], timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        body = account.client.get(f"/v1/generations/{generation_id}").json()
        if body["status"] in statuses:
            return body
        assert time.monotonic() < deadline, f"still {body['status']} after {timeout}s: {body}"
        time.sleep(0.1)


def disabled_image_model(server: Server, admin_conn) -> None:
    """An admin's image model on a connection that is switched off: listed, but unavailable."""
    admin = make_admin(sign_up_and_log_in(server, f"admin-{uuid.uuid4().hex[:8]}@example.org"), admin_conn)
    connection = add_connection(admin, "openai", "http://127.0.0.1:9/v1", enabled=False)
    add_model(admin, connection["id"], "some-image-model", "image", slug="openai-image")
    add_model(admin, connection["id"], "some-chat-model", "chat", slug="openai-chat")
    admin.client.close()


def test_models_show_availability(server: Server, alice: Account, admin_conn):
    models = {m["slug"]: m for m in alice.client.get("/v1/models").json()["items"]}
    assert set(models) == {"espeak-en", "ffmpeg-video"}  # nothing configured: the local providers only
    assert models["espeak-en"]["available"] is True and models["espeak-en"]["type"] == "audio"
    assert models["ffmpeg-video"]["available"] is True
    disabled_image_model(server, admin_conn)
    openai = {m["slug"]: m for m in alice.client.get("/v1/models").json()["items"]}["openai-image"]
    assert openai["available"] is False and "disabled" in openai["unavailable_reason"]


def test_unavailable_model_is_refused_not_faked(server: Server, alice: Account, admin_conn):
    disabled_image_model(server, admin_conn)
    r = alice.client.post("/v1/generations", json={"type": "image", "model_id": model_id(alice, "openai-image"),
                                                   "prompt": "a cat"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "model_unavailable"
    assert admin_conn.execute("SELECT count(*) FROM generations").fetchone()[0] == 0


def test_bad_generation_requests_change_nothing(alice: Account, admin_conn):
    espeak = model_id(alice, "espeak-en")
    for body in ({"type": "video", "model_id": espeak, "prompt": "x"},                       # wrong type for the model
                 {"type": "audio", "model_id": espeak, "prompt": "x", "params": {"volume": 11}},  # not whitelisted
                 {"type": "audio", "model_id": espeak, "prompt": "x", "params": {"speed": 9999}},
                 {"type": "audio", "model_id": espeak, "prompt": ""},
                 {"type": "audio", "model_id": str(uuid.uuid4()), "prompt": "x"}):
        r = alice.client.post("/v1/generations", json=body)
        assert r.status_code in (404, 422), (body, r.text)
    assert admin_conn.execute("SELECT count(*) FROM generations").fetchone()[0] == 0
    assert admin_conn.execute("SELECT count(*) FROM jobs").fetchone()[0] == 0


def test_speech_end_to_end_with_ranges_and_isolation(alice: Account, bob: Account, worker, admin_conn):
    r = alice.client.post("/v1/generations", json={"type": "audio", "model_id": model_id(alice, "espeak-en"),
                                                   "prompt": "Hello from Studio.", "params": {"speed": 160}})
    assert r.status_code == 202, r.text
    created = r.json()
    assert created["status"] == "queued" and r.headers["location"] == f"/v1/generations/{created['id']}"
    assert admin_conn.execute("SELECT count(*) FROM jobs WHERE generation_id = %s", (created["id"],)).fetchone()[0] == 1

    done = wait_for(alice, created["id"], {"succeeded", "failed"})
    assert done["status"] == "succeeded", done
    assert done["progress"] == 100 and done["attempts"] == 1
    [media] = done["result"]["media"]
    assert media["url"] == f"/v1/media/{media['id']}" and media["content_type"].startswith("audio/")

    whole = alice.client.get(media["url"])
    assert whole.status_code == 200 and whole.content[:4] == b"RIFF" and len(whole.content) == media["size"]
    assert whole.headers["content-type"].startswith("audio/") and whole.headers["accept-ranges"] == "bytes"
    part = alice.client.get(media["url"], headers={"Range": "bytes=4-11"})
    assert part.status_code == 206 and part.content == whole.content[4:12]
    assert part.headers["content-range"] == f"bytes 4-11/{media['size']}"
    tail = alice.client.get(media["url"], headers={"Range": "bytes=-10"})
    assert tail.content == whole.content[-10:]
    assert alice.client.get(media["url"], headers={"Range": f"bytes={media['size']}-"}).status_code == 416

    # Nobody else can see, download, cancel or delete it.
    assert bob.client.get(f"/v1/generations/{created['id']}").status_code == 404
    assert bob.client.get(media["url"]).status_code == 404
    assert bob.client.post(f"/v1/generations/{created['id']}/cancel").status_code == 404
    assert bob.client.delete(f"/v1/generations/{created['id']}").status_code == 404
    assert bob.client.get("/v1/generations").json()["items"] == []
    usage = admin_conn.execute("SELECT user_id::text, kind, provider FROM api_usage").fetchall()
    assert usage == [(alice.id, "audio", "espeak")]


def test_video_from_text(alice: Account, worker):
    r = alice.client.post("/v1/generations", json={"type": "video", "model_id": model_id(alice, "ffmpeg-video"),
                                                   "prompt": "Studio", "params": {"duration_seconds": 2,
                                                                                  "width": 320, "height": 180}})
    done = wait_for(alice, r.json()["id"], {"succeeded", "failed"})
    assert done["status"] == "succeeded", done
    [media] = done["result"]["media"]
    video = alice.client.get(media["url"])
    assert video.headers["content-type"] == "video/mp4" and video.content[4:8] == b"ftyp"


def test_cancel_before_it_runs(alice: Account, admin_conn, pg, db, server):
    r = alice.client.post("/v1/generations", json={"type": "audio", "model_id": model_id(alice, "espeak-en"),
                                                   "prompt": "never spoken"})
    generation = r.json()["id"]
    cancelled = alice.client.post(f"/v1/generations/{generation}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "canceled"
    assert alice.client.post(f"/v1/generations/{generation}/cancel").status_code == 409
    # A worker that claims it afterwards only closes the job.
    running = WorkerThread(server.settings, pg.conninfo(WORKER_ROLE, db))
    try:
        deadline = time.monotonic() + 30
        while admin_conn.execute("SELECT status FROM jobs WHERE generation_id = %s", (generation,)).fetchone()[0] != "canceled":
            assert time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        running.stop()
    assert alice.client.get(f"/v1/generations/{generation}").json()["status"] == "canceled"
    assert admin_conn.execute("SELECT count(*) FROM media_objects").fetchone()[0] == 0


def test_daily_quota(alice: Account, admin_conn):
    admin_conn.execute("INSERT INTO quotas (user_id, jobs_per_day) VALUES (%s, 1)", (alice.id,))
    body = {"type": "audio", "model_id": model_id(alice, "espeak-en"), "prompt": "one"}
    assert alice.client.post("/v1/generations", json=body).status_code == 202
    refused = alice.client.post("/v1/generations", json=body)
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "quota_exceeded"
    assert admin_conn.execute("SELECT count(*) FROM generations").fetchone()[0] == 1


def test_delete_removes_row_and_file(alice: Account, worker, server: Server, admin_conn):
    r = alice.client.post("/v1/generations", json={"type": "audio", "model_id": model_id(alice, "espeak-en"),
                                                   "prompt": "short lived"})
    done = wait_for(alice, r.json()["id"], {"succeeded", "failed"})
    key = admin_conn.execute("SELECT key FROM media_objects").fetchone()[0]
    stored = Path(server.settings.home_dir) / "storage" / "media" / key
    assert stored.is_file()
    assert alice.client.delete(f"/v1/generations/{done['id']}").status_code == 204
    assert alice.client.get(done["result"]["media"][0]["url"]).status_code == 404
    deadline = time.monotonic() + 20
    while stored.exists() or admin_conn.execute("SELECT count(*) FROM storage_deletions").fetchone()[0]:
        assert time.monotonic() < deadline, "the outbox did not delete the file"
        time.sleep(0.1)


def test_list_filters_and_pages(alice: Account):
    espeak, video = model_id(alice, "espeak-en"), model_id(alice, "ffmpeg-video")
    for i in range(3):
        alice.client.post("/v1/generations", json={"type": "audio", "model_id": espeak, "prompt": f"a{i}"})
    alice.client.post("/v1/generations", json={"type": "video", "model_id": video, "prompt": "v"})
    audio = alice.client.get("/v1/generations", params={"type": "audio", "limit": 2}).json()
    assert [g["prompt"] for g in audio["items"]] == ["a2", "a1"] and audio["next_cursor"]
    rest = alice.client.get("/v1/generations", params={"type": "audio", "limit": 2, "cursor": audio["next_cursor"]})
    assert [g["prompt"] for g in rest.json()["items"]] == ["a0"]
    queued = alice.client.get("/v1/generations", params={"status": "queued"}).json()["items"]
    assert len(queued) == 4
    assert alice.client.get("/v1/generations", params={"status": "bogus"}).status_code == 422


def test_cost_cap_reserves_queued_work(alice: Account, admin_conn):
    """The price comes from the model (not the client); queued work reserves it, and a
    cancelled generation gives its reservation back."""
    admin_conn.execute("UPDATE model_registry SET config = '{\"cost_cents\": 40}' WHERE slug = 'espeak-en'")
    admin_conn.execute("INSERT INTO quotas (user_id, cost_cap_cents) VALUES (%s, 100)", (alice.id,))
    body = {"type": "audio", "model_id": model_id(alice, "espeak-en"), "prompt": "priced"}
    first = alice.client.post("/v1/generations", json=body).json()
    assert alice.client.post("/v1/generations", json=body).status_code == 202
    refused = alice.client.post("/v1/generations", json=body)
    assert refused.status_code == 402 and refused.json()["error"]["code"] == "cost_cap_reached"
    assert admin_conn.execute("SELECT array_agg(cost_cents) FROM generations").fetchone()[0] == [40, 40]
    alice.client.post(f"/v1/generations/{first['id']}/cancel")
    assert alice.client.post("/v1/generations", json=body).status_code == 202


@pytest.fixture
def s3_server(pg, db, tmp_path, moto_server) -> Iterator[Server]:
    """The API and (in the test) a worker on an S3-compatible store: a real moto_server."""
    yield from serve(make_settings(home=tmp_path, **moto_server.storage_settings()), pg.conninfo(API_ROLE, db))


def test_speech_through_s3_storage(s3_server: Server, moto_server, pg, db, admin_conn):
    """The worker uploads to the bucket under the owner's id, the API streams it back
    (with ranges), hands out a short-lived direct URL to its owner only, and deleting
    the generation removes the object through the outbox."""
    alice = sign_up_and_log_in(s3_server, "alice@example.org")
    bob = sign_up_and_log_in(s3_server, "bob@example.org")
    worker = WorkerThread(s3_server.settings, pg.conninfo(WORKER_ROLE, db))
    try:
        r = alice.client.post("/v1/generations", json={"type": "audio", "model_id": model_id(alice, "espeak-en"),
                                                       "prompt": "Stored in a bucket."})
        done = wait_for(alice, r.json()["id"], {"succeeded", "failed"})
        assert done["status"] == "succeeded", done
        [media] = done["result"]["media"]
        bucket = s3_server.settings.s3_bucket_prefix + "media"
        [(key,)] = admin_conn.execute("SELECT key FROM media_objects WHERE id = %s", (media["id"],)).fetchall()
        assert key.startswith(f"{alice.id}/generations/{done['id']}/")
        stored = moto_server.client.get_object(Bucket=bucket, Key=key)["Body"].read()
        assert stored[:4] == b"RIFF" and len(stored) == media["size"]

        assert alice.client.get(media["url"]).content == stored
        part = alice.client.get(media["url"], headers={"Range": "bytes=100-199"})
        assert part.status_code == 206 and part.content == stored[100:200]

        direct = alice.client.get(f"{media['url']}/url")
        assert direct.status_code == 200 and direct.json()["expires_in"] == s3_server.settings.s3_presign_seconds
        assert direct.json()["url"].startswith(moto_server.url)
        assert httpx.get(direct.json()["url"], timeout=10, trust_env=False).content == stored
        assert bob.client.get(f"{media['url']}/url").status_code == 404
        assert bob.client.get(media["url"]).status_code == 404

        assert alice.client.delete(f"/v1/generations/{done['id']}").status_code == 204
        deadline = time.monotonic() + 20
        while moto_server.client.list_objects_v2(Bucket=bucket).get("KeyCount", 0):
            assert time.monotonic() < deadline, "the outbox did not delete the object"
            time.sleep(0.1)
        assert admin_conn.execute("SELECT count(*) FROM storage_deletions").fetchone() == (0,)
    finally:
        worker.stop()
        alice.client.close()
        bob.client.close()


# --------------------------------------------------------------------------- parameters


def test_models_describe_their_parameters_as_json_schema(server: Server, alice: Account, anon, admin_conn):
    disabled_image_model(server, admin_conn)
    models = {m["slug"]: m for m in alice.client.get("/v1/models").json()["items"]}
    assert models["espeak-en"]["parameters"] == {
        "type": "object", "additionalProperties": False,
        "properties": {
            "voice": {"type": "string", "maxLength": 32, "pattern": "^[a-z]{2,3}(-[a-z0-9]+)*$", "default": None,
                      "description": "an eSpeak NG voice such as en or en-us (default: the model's)"},
            "speed": {"type": "integer", "minimum": 80, "maximum": 450, "default": None,
                      "description": "words per minute (default 175)"},
            "pitch": {"type": "integer", "minimum": 0, "maximum": 99, "default": None,
                      "description": "voice pitch (default 50)"},
            "format": {"type": "string", "enum": ["wav", "ogg"], "default": None,
                       "description": "the audio file's format (default wav)"},
        },
    }
    assert models["openai-chat"]["parameters"] == {"type": "object", "properties": {}, "additionalProperties": False}
    ffmpeg = models["ffmpeg-video"]["parameters"]["properties"]
    assert ffmpeg["width"] | {"description": ""} == {"type": "integer", "minimum": 64, "maximum": 1920,
                                                    "multipleOf": 2, "default": None, "description": ""}
    assert ffmpeg["duration_seconds"]["type"] == "number"
    image = models["openai-image"]["parameters"]["properties"]  # shown even where a model cannot run
    assert image["size"]["enum"][0] == "256x256" and image["negative_prompt"]["maxLength"] == 2000
    assert (image["guidance_scale"]["type"], image["guidance_scale"]["maximum"]) == ("number", 30)
    for model in models.values():
        schema = model["parameters"]
        # Self-contained, and flat: one plain schema per property, nothing to resolve.
        text = json.dumps(schema)
        assert "$ref" not in text and "$defs" not in text and "anyOf" not in text, model["slug"]
        assert schema["type"] == "object" and schema["additionalProperties"] is False
        for name, prop in schema["properties"].items():
            assert prop["type"] in ("string", "integer", "number") and prop["default"] is None, (model["slug"], name)
            assert prop["description"], (model["slug"], name)
    # The OpenAPI document says so too.
    spec = anon.get("/openapi.json").json()
    model_schema = spec["components"]["schemas"]["Model"]
    assert "parameters" in model_schema["required"] and model_schema["properties"]["parameters"]["type"] == "object"


def test_the_schema_is_what_the_generation_endpoint_accepts(alice: Account, admin_conn):
    espeak = model_id(alice, "espeak-en")
    schema = next(m for m in alice.client.get("/v1/models").json()["items"] if m["slug"] == "espeak-en")["parameters"]
    props = schema["properties"]

    def create(params: dict) -> httpx.Response:
        return alice.client.post("/v1/generations", json={"type": "audio", "model_id": espeak, "prompt": "hi",
                                                          "params": params})

    edge = {"voice": "en-us", "speed": props["speed"]["maximum"], "pitch": props["pitch"]["minimum"],
            "format": props["format"]["enum"][-1]}
    r = create(edge)
    assert r.status_code == 202, r.text
    assert r.json()["params"] == edge
    assert create({"speed": None, "format": None}).status_code == 202  # null: the provider's default
    generations = admin_conn.execute("SELECT count(*) FROM generations").fetchone()[0]

    for params, named in (({"speed": props["speed"]["maximum"] + 1}, "params.speed"),
                          ({"pitch": props["pitch"]["minimum"] - 1}, "params.pitch"),
                          ({"format": "mp3"}, "params.format"),
                          ({"voice": "EN"}, "params.voice"),
                          ({"voice": "e" * (props["voice"]["maxLength"] + 1)}, "params.voice")):
        r = create(params)
        assert r.status_code == 422, (params, r.text)
        assert r.json()["error"]["code"] == "validation_error" and named in r.json()["error"]["message"]

    # An unknown parameter: named, with the ones this model takes (the schema's).
    r = create({"speed": 100, "volume": 11})
    assert r.status_code == 422
    message = r.json()["error"]["message"]
    assert message == ("params.volume: unknown parameter for espeak audio; allowed: "
                       + ", ".join(props)), message
    assert "Extra inputs" not in message
    assert admin_conn.execute("SELECT count(*) FROM generations").fetchone()[0] == generations


def test_a_fresh_installation_says_what_to_configure(server: Server, alice: Account, admin_conn):
    listed = alice.client.get("/v1/models").json()
    assert "/admin/connections" in listed["setup_hint"] and "docs/providers.md" in listed["setup_hint"]
    conversation = alice.client.post("/v1/conversations", json={"title": "first"}).json()
    r = alice.client.post(f"/v1/conversations/{conversation['id']}/messages",
                          json={"role": "user", "content": "hello?", "generate": True})
    assert r.status_code == 422 and "/admin/connections" in r.json()["error"]["message"]
    # Once a chat model can run, the hint is gone.
    admin = make_admin(sign_up_and_log_in(server, "admin-hint@example.org"), admin_conn)
    connection = add_connection(admin, "ollama", "http://127.0.0.1:9")
    add_model(admin, connection["id"], "llama3.2", "chat")
    assert alice.client.get("/v1/models").json()["setup_hint"] is None
