"""Speech to text: POST /v1/transcriptions and /openai/v1/audio/transcriptions, served by
the real app, on a vendor server (a fake speaking OpenAI's Whisper API on 127.0.0.1)
that an admin connected. The vendor receives the recording byte for byte, the
registry's upstream name and the connection's key; wrong types, oversized files,
missing or unsuitable models and vendor failures are clear errors, and the official
`openai` package works against the gateway."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from tests.api.conftest import (
    Account,
    Server,
    add_model,
    early_in_a_window,
    sign_up_and_log_in,
    studio_with_vendor,
)
from tests.providers.conftest import serve_fake
from tests.providers.fakes import KEY, MP3, MP4, PNG, WAV, FakeOpenAI, Reply

TRANSCRIPTIONS = ("POST", "/v1/audio/transcriptions")
# The first bytes of each accepted container, as recorders write them, then filler.
WEBM = (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\xf2\x81\x04\x42\xf3\x81\x08"
        b"\x42\x82\x84webm\x42\x87\x81\x04" + bytes(range(256)) * 8)
OGG = b"OggS\x00\x02" + b"\x00" * 20 + b"OpusHead" + bytes(range(256)) * 8
FLAC = b"fLaC\x00\x00\x00\x22" + bytes(range(256)) * 8
M4A = b"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00M4A isomiso2" + bytes(range(256)) * 8


@pytest.fixture(scope="module")
def vendor() -> Iterator[FakeOpenAI]:
    yield from serve_fake(FakeOpenAI())


class Studio:
    """A running Studio whose admin connected the fake vendor."""

    def __init__(self, server: Server, admin: Account, connection: dict[str, Any]) -> None:
        self.server, self.admin, self.connection = server, admin, connection

    def model(self, upstream: str, slug: str, capabilities: list[str], type_: str = "audio") -> dict[str, Any]:
        return add_model(self.admin, self.connection["id"], upstream, type_, slug=slug, capabilities=capabilities)


def start(pg, db, tmp_path, vendor: FakeOpenAI, admin_conn, **settings: Any) -> Iterator[Studio]:
    with studio_with_vendor(pg, db, tmp_path, vendor, admin_conn, worker=False, **settings) as studio:
        yield Studio(studio, studio.admin, studio.connection)


@pytest.fixture
def studio(pg, db, tmp_path, vendor: FakeOpenAI, admin_conn) -> Iterator[Studio]:
    yield from start(pg, db, tmp_path, vendor, admin_conn)


@pytest.fixture
def user(studio: Studio) -> Iterator[Account]:
    account = sign_up_and_log_in(studio.server, "dev@example.org")
    yield account
    account.client.close()


def post(account: Account, data: bytes, name: str = "voice.wav", content_type: str | None = "audio/wav",
         **fields: str) -> httpx.Response:
    files = {"file": (name, data, content_type) if content_type else (name, data)}
    return account.client.post("/v1/transcriptions", files=files, data=fields or None)


def assert_error(response: httpx.Response, status: int, code: str, *words: str) -> str:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code, error
    for word in words:
        assert word in error["message"], error
    return error["message"]


def test_speech_becomes_text(studio: Studio, user: Account, vendor: FakeOpenAI):
    whisper = studio.model("whisper-large-v3", "stt", ["transcription"])
    vendor.state["transcript"] = "Remind me to water the plants."

    r = post(user, WAV, language="EN", prompt="plants, watering", model_id=whisper["id"])

    assert r.status_code == 200, r.text
    assert r.json() == {"text": "Remind me to water the plants.", "model": "stt"}
    [call] = vendor.received(*TRANSCRIPTIONS)
    assert call.headers["authorization"] == f"Bearer {KEY}"  # the connection's key
    [form] = vendor.state["transcriptions"]
    assert form["file"].data == WAV  # byte for byte
    assert (form["file"].filename, form["file"].content_type) == ("audio.wav", "audio/wav")
    assert {name: part.text for name, part in form.items() if name != "file"} == {
        "model": "whisper-large-v3", "response_format": "json", "language": "en", "prompt": "plants, watering"}


def test_every_accepted_format_under_any_declared_name(studio: Studio, user: Account, vendor: FakeOpenAI):
    studio.model("whisper-1", "stt", ["transcription"])
    cases = [(WAV, "audio/x-wav", "wav"), (MP3, "audio/mpeg", "mp3"), (OGG, "audio/ogg", "ogg"),
             (OGG, "audio/opus", "ogg"), (WEBM, "audio/webm", "webm"), (WEBM, "video/webm", "webm"),
             (M4A, "audio/x-m4a", "m4a"), (MP4, "audio/mp4", "mp4"), (FLAC, "audio/flac", "flac"),
             (WEBM, "application/octet-stream", "webm"), (FLAC, None, "flac")]
    for data, declared, extension in cases:
        r = post(user, data, name="recording", content_type=declared)
        assert r.status_code == 200, (declared, r.text)
        assert r.json()["model"] == "stt"  # the default: the only transcription model
        sent = vendor.state["transcriptions"][-1]["file"]
        assert (sent.data, sent.filename) == (data, f"audio.{extension}"), declared


def test_wrong_types_are_refused_before_the_vendor(studio: Studio, user: Account, vendor: FakeOpenAI):
    studio.model("whisper-1", "stt", ["transcription"])

    assert_error(post(user, PNG, content_type="audio/wav"), 415, "unsupported_media_type", "image/png")
    assert_error(post(user, b"just some text" * 50, content_type="application/octet-stream"), 415,
                 "unsupported_media_type", "no recognised type", "wav, mp3")
    assert_error(post(user, WAV, content_type="audio/mpeg"), 415, "unsupported_media_type",
                 "audio/x-wav", "audio/mpeg")
    assert_error(post(user, MP4, content_type="video/webm"), 415, "unsupported_media_type")
    assert_error(user.client.post("/v1/transcriptions", json={"file": "not a file"}), 415, "unsupported_media_type",
                 "multipart/form-data")
    no_file = user.client.post("/v1/transcriptions", files={"notes": ("notes.txt", b"hello", "text/plain")},
                               data={"prompt": "no file"})
    assert_error(no_file, 422, "validation_error", "'file'")
    assert_error(post(user, b""), 422, "validation_error", "empty")
    assert_error(post(user, WAV, language="english"), 422, "validation_error")
    assert_error(post(user, WAV, prompt="x" * 1001), 422, "validation_error")
    assert_error(post(user, WAV, model="stt"), 422, "validation_error")  # /v1 takes model_id
    assert vendor.received(*TRANSCRIPTIONS) == []


def test_too_large_is_refused_while_streaming(studio: Studio, user: Account, vendor: FakeOpenAI):
    studio.model("whisper-1", "stt", ["transcription"])
    limit = studio.server.settings.max_upload_bytes
    big = WAV + b"\x00" * (limit - len(WAV) + 1)

    # Declared too long: refused before a byte of the body is read.
    assert_error(post(user, big + b"\x00" * 300_000), 413, "payload_too_large", str(limit))

    # No length declared (chunked): refused on the byte over the limit.
    request = httpx.Request("POST", "/", files={"file": ("voice.wav", big, "audio/wav")})
    body = request.read()

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), 65536):
            yield body[start:start + 65536]

    r = user.client.post("/v1/transcriptions", content=chunks(),
                         headers={"Content-Type": request.headers["content-type"]})
    assert_error(r, 413, "payload_too_large", str(limit))

    # One byte less is accepted.
    assert post(user, big[:-1]).status_code == 200
    assert [form["file"].data for form in vendor.state["transcriptions"]] == [big[:-1]]


def test_no_transcription_model_says_what_an_admin_does(studio: Studio, user: Account, vendor: FakeOpenAI):
    studio.model("gpt-4.1-mini", "chat", ["chat"], type_="chat")

    message = assert_error(post(user, WAV), 409, "no_transcription_model")
    assert "/admin/connections" in message and "docs/providers.md" in message and "transcription" in message

    # A transcription model on a disabled connection does not count either.
    studio.model("whisper-1", "stt", ["transcription"])
    r = studio.admin.client.patch(f"/v1/admin/connections/{studio.connection['id']}", json={"enabled": False})
    assert r.status_code == 200, r.text
    assert_error(post(user, WAV), 409, "no_transcription_model")
    assert vendor.received(*TRANSCRIPTIONS) == []


def test_the_default_is_the_first_model_that_can_run(studio: Studio, user: Account, vendor: FakeOpenAI):
    first = studio.model("whisper-first", "z-stt", ["transcription"])
    studio.model("whisper-second", "a-stt", ["transcription"])

    assert post(user, WAV).json()["model"] == "z-stt"  # the first set up, not the first by name
    r = studio.admin.client.patch(f"/v1/admin/models/{first['id']}", json={"enabled": False})
    assert r.status_code == 200, r.text
    assert post(user, WAV).json()["model"] == "a-stt"
    assert [form["model"].text for form in vendor.state["transcriptions"]] == ["whisper-first", "whisper-second"]


def test_models_that_cannot_transcribe(studio: Studio, user: Account, vendor: FakeOpenAI):
    chat = studio.model("gpt-4.1-mini", "chat", ["chat"], type_="chat")
    tts = studio.model("tts-1", "tts", ["speech"])
    hidden = studio.model("whisper-1", "stt", ["transcription"])
    r = studio.admin.client.patch(f"/v1/admin/models/{hidden['id']}", json={"enabled": False})
    assert r.status_code == 200, r.text

    assert_error(post(user, WAV, model_id=chat["id"]), 422, "validation_error", "'transcription' capability")
    assert_error(post(user, WAV, model_id=tts["id"]), 422, "validation_error", "'transcription' capability")
    # A disabled model is invisible to users (RLS), like one that does not exist.
    assert_error(post(user, WAV, model_id=hidden["id"]), 404, "not_found")
    assert_error(post(user, WAV, model_id="00000000-0000-4000-8000-000000000000"), 404, "not_found")
    assert vendor.received(*TRANSCRIPTIONS) == []


def test_a_vendor_failure_is_a_502_with_its_message_and_no_key(studio: Studio, user: Account, vendor: FakeOpenAI):
    studio.model("whisper-1", "stt", ["transcription"])
    vendor.queue(*TRANSCRIPTIONS, Reply(500, json={"error": {"message": f"the GPU caught fire (key {KEY})"}}))

    r = post(user, WAV)

    message = assert_error(r, 502, "provider_error", "the GPU caught fire", "HTTP 500")
    assert KEY not in r.text and "[redacted]" in message


def test_rate_limited_like_chat(pg, db, tmp_path, vendor: FakeOpenAI, admin_conn):
    for studio in start(pg, db, tmp_path, vendor, admin_conn, rate_limit_chat_per_minute=2):
        studio.model("whisper-1", "stt", ["transcription"])
        user = sign_up_and_log_in(studio.server)
        try:
            early_in_a_window()
            assert [post(user, WAV).status_code for _ in range(2)] == [200, 200]
            r = post(user, WAV)
            assert_error(r, 429, "rate_limited")
            assert r.headers["retry-after"]
            # The chat budget is the same one.
            conversation = user.client.post("/v1/conversations", json={"title": "t"}).json()
            r = user.client.post(f"/v1/conversations/{conversation['id']}/messages",
                                 json={"role": "user", "content": "hi", "generate": True})
            assert r.status_code == 429
        finally:
            user.client.close()
        assert len(vendor.received(*TRANSCRIPTIONS)) == 2


def test_the_official_client_transcribes(studio: Studio, user: Account, vendor: FakeOpenAI):
    studio.model("whisper-large-v3", "stt", ["transcription"])
    studio.model("gpt-4.1-mini", "chat", ["chat"], type_="chat")
    created = user.client.post("/v1/api-keys", json={"name": "dictation"}).json()
    client = openai.OpenAI(base_url=f"{studio.server.url}/openai/v1", api_key=created["key"], max_retries=0,
                           timeout=30)
    vendor.state["transcript"] = "Meeting at noon."

    reply = client.audio.transcriptions.create(model="stt", file=("memo.webm", WEBM), language="en",
                                               temperature=0.1)
    assert reply.text == "Meeting at noon."
    [form] = vendor.state["transcriptions"]
    assert form["file"].data == WEBM and form["file"].filename == "audio.webm"
    assert (form["model"].text, form["language"].text, form["temperature"].text) == ("whisper-large-v3", "en", "0.1")
    assert vendor.received(*TRANSCRIPTIONS)[0].headers["authorization"] == f"Bearer {KEY}"

    assert client.audio.transcriptions.create(model="stt", file=("memo.mp3", MP3), response_format="text") \
        .strip() == "Meeting at noon."
    verbose = client.audio.transcriptions.create(model="stt", file=("memo.wav", WAV), response_format="verbose_json",
                                                 language="en")
    assert (verbose.text, verbose.language) == ("Meeting at noon.", "en")

    with pytest.raises(openai.UnprocessableEntityError, match="transcription"):
        client.audio.transcriptions.create(model="chat", file=("memo.wav", WAV))
    with pytest.raises(openai.NotFoundError):
        client.audio.transcriptions.create(model="no-such-model", file=("memo.wav", WAV))
    with pytest.raises(openai.APIStatusError, match="unsupported_media_type|not audio"):
        client.audio.transcriptions.create(model="stt", file=("picture.png", PNG))
    vendor.queue(*TRANSCRIPTIONS, Reply(500, json={"error": {"message": "out of memory"}}))
    with pytest.raises(openai.InternalServerError, match="out of memory") as failed:
        client.audio.transcriptions.create(model="stt", file=("memo.wav", WAV))
    assert failed.value.status_code == 502
