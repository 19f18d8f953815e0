"""The shared provider HTTP client: Retry-After, backoff, error mapping, redaction, caps."""

from __future__ import annotations

import asyncio
import socket
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest

from studio.providers.base import ProviderError
from studio.providers.http import (
    BACKOFF_BASE,
    BACKOFF_MAX,
    RETRY_AFTER_CAP,
    ProviderHTTP,
    backoff_seconds,
    error_detail,
    extension_for,
    media_type,
    retry_after_seconds,
)
from tests.providers.conftest import make_settings
from tests.providers.fakes import KEY, PNG, Reply

IMAGES = ("POST", "/v1/images/generations")


def call(client_settings: dict[str, Any], base_url: str, action) -> Any:
    async def scenario() -> Any:
        http = ProviderHTTP("test", make_settings(**client_settings), base_url=base_url,
                            auth_headers={"Authorization": f"Bearer {KEY}"})
        try:
            return await action(http)
        finally:
            await http.aclose()

    return asyncio.run(scenario())


def test_retry_after_forms():
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert retry_after_seconds("3") == 3.0
    assert retry_after_seconds(" 1.5 ") == 1.5
    assert retry_after_seconds(format_datetime(now + timedelta(seconds=20), usegmt=True), now=now) == 20.0
    assert retry_after_seconds(format_datetime(now - timedelta(seconds=20), usegmt=True), now=now) == 0.0
    assert retry_after_seconds("-4") == 0.0
    for unreadable in (None, "", "soon", "inf", "nan"):
        assert retry_after_seconds(unreadable) is None


def test_backoff_grows_with_full_jitter_and_a_cap():
    for attempt in range(8):
        bound = min(BACKOFF_MAX, BACKOFF_BASE * 2 ** attempt)
        assert all(0 <= backoff_seconds(attempt) <= bound for _ in range(50))


def test_a_retry_after_beyond_the_cap_fails_at_once(openai_fake):
    openai_fake.queue(*IMAGES, Reply(429, json={"error": {"message": "quota"}},
                                     headers={"Retry-After": str(int(RETRY_AFTER_CAP * 10))}))

    with pytest.raises(ProviderError, match=r"HTTP 429 .*asked to wait 300s") as info:
        call({}, openai_fake.url, lambda http: http.json("POST", f"{openai_fake.url}/v1/images/generations",
                                                         json={}))

    assert info.value.retryable is True
    assert len(openai_fake.received(*IMAGES)) == 1


def test_connection_refused_is_retryable_and_bounded():
    with socket.socket() as s:  # a port nobody listens on once this closes
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}"

    with pytest.raises(ProviderError, match=r"connection failed .*gave up after 2 attempts") as info:
        call({"provider_max_retries": 1}, url, lambda http: http.json("GET", f"{url}/x"))

    assert info.value.retryable is True and str(info.value).startswith("test: ")


def test_unsupported_scheme_is_final():
    with pytest.raises(ProviderError, match="request failed") as info:
        call({}, "ftp://example.invalid", lambda http: http.json("GET", "ftp://example.invalid/x"))

    assert info.value.retryable is False


def test_credentials_only_go_to_the_providers_origin(openai_fake, tmp_path: Path):
    other_origin = openai_fake.url.replace("127.0.0.1", "localhost")

    async def both(http: ProviderHTTP) -> None:
        await http.download(f"{openai_fake.url}/files/a.png", tmp_path, "same")
        await http.download(f"{other_origin}/files/b.png", tmp_path, "other")

    call({}, openai_fake.url, both)

    same, other = openai_fake.received("GET", "/files/{name}")
    assert same.headers["authorization"] == f"Bearer {KEY}"
    assert "authorization" not in other.headers
    assert (tmp_path / "other.png").read_bytes() == PNG


def test_declared_length_over_the_cap_is_refused_before_reading(openai_fake, tmp_path: Path):
    with pytest.raises(ProviderError, match="over the 100-byte limit") as info:
        call({"max_result_bytes": 100}, openai_fake.url,
             lambda http: http.download(f"{openai_fake.url}/files/a.png", tmp_path, "big"))

    assert info.value.retryable is False
    assert list(tmp_path.iterdir()) == []


def test_redaction_covers_the_header_and_the_bare_token():
    http = ProviderHTTP("test", make_settings(), base_url="http://x", auth_headers={"Authorization": f"Bearer {KEY}"})
    assert http.redact(f"got Bearer {KEY} and {KEY}") == "got [redacted] and [redacted]"
    assert KEY not in str(http.error(f"echo {KEY}"))
    asyncio.run(http.aclose())


@pytest.mark.parametrize(("body", "detail"), [
    (b'{"error": {"message": "bad size", "type": "invalid_request_error"}}', "bad size"),  # OpenAI
    (b'{"detail": {"status": "quota_exceeded", "message": "No credits"}}', "No credits"),  # ElevenLabs
    (b'{"title": "Invalid version", "detail": "version does not exist", "status": 422}',
     "version does not exist"),                                                            # Replicate
    (b'{"error": "model not found"}', "model not found"),                                  # Ollama
    (b"<html>\n  Bad   Gateway\n</html>", "<html> Bad Gateway </html>"),
    (b"x" * 1000, "x" * 300 + "..."),
    (b"", ""),
])
def test_error_detail(body, detail):
    assert error_detail(body) == detail


def test_media_type_and_extension():
    assert media_type("image/png; charset=binary") == "image/png"
    assert media_type("application/octet-stream", "https://cdn/x/out.mp4?sig=1") == "video/mp4"
    assert media_type(None, "no-extension") == "application/octet-stream"
    assert extension_for("image/jpeg") == ".jpg"
    assert extension_for("application/octet-stream", "clip.webm") == ".webm"
    assert extension_for("application/octet-stream", "../../evil.sh/..") == ".bin"
