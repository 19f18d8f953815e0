"""The HTTP client every provider adapter uses: one `httpx.AsyncClient` with a per-call
timeout, a bounded retry budget, error mapping to ProviderError, and size-capped
downloads into the task's workdir.

Retried (exponential backoff with full jitter, at most `provider_max_retries` times):
connect errors, dropped connections, timeouts, 429 (after its Retry-After when given)
and 5xx. Not retried: other 4xx, malformed replies, oversized bodies.

Credentials are attached only to URLs on the provider's own origin (never to a CDN an
output URL points at), and every error message passes through `redact`, so neither an
API key nor an Authorization header can end up in an exception or a log line.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import functools
import logging
import math
import mimetypes
import random
import re
import ssl
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
import orjson

from studio.config import Settings
from studio.providers.base import ChatProvider, Connection, MediaOutput, ProviderError

log = logging.getLogger("studio.providers.http")

T = TypeVar("T")

BACKOFF_BASE = 0.25         # seconds: the first retry waits up to this, then 2x per attempt
BACKOFF_MAX = 8.0
RETRY_AFTER_CAP = 30.0      # a 429 asking for a longer pause fails now (retryable) rather than hold a worker
JSON_MAX_BYTES = 256 * 1024 * 1024  # API replies; generated images may arrive inline as base64
DETAIL_MAX_CHARS = 300      # how much of an error body goes into a message
MAX_STREAM_LINE = 1024 * 1024  # a streamed event line longer than this is not a chat delta
# The connection pool to one provider. A streamed chat answer holds its connection for as
# long as it streams, so a cap on connections would make the chats beyond it wait for
# others to finish before their first token (httpx's default cap is 100: bench/results/stream.md);
# the requests this process serves are the bound. Idle connections are kept for the next
# requests up to KEEPALIVE_CONNECTIONS (httpx's default, 20, made every chat beyond the
# 20th open a new connection, and a TLS handshake with a cloud provider).
KEEPALIVE_CONNECTIONS = 1000
DRAIN_SECONDS = 0.05        # how long a finished stream's end may take to arrive (see `drain`)

_GENERIC_TYPES = {"", "application/octet-stream", "binary/octet-stream"}
# Preferred file extensions; mimetypes' choices vary by platform (.jpe, .mpga, ...).
_EXTENSIONS = {
    "image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp", "image/gif": ".gif",
    "audio/mpeg": ".mp3", "audio/wav": ".wav", "audio/x-wav": ".wav", "audio/ogg": ".ogg",
    "audio/flac": ".flac", "audio/aac": ".aac", "video/mp4": ".mp4", "video/webm": ".webm",
}
_SAFE_SUFFIX = re.compile(r"\.[a-z0-9]{1,8}")


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """httpx's default verification context, built once: loading the CA bundle takes
    ~40 ms, and one context can serve every client."""
    return httpx.create_ssl_context()


def retry_after_seconds(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date);
    None when absent or unreadable."""
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return max(0.0, seconds) if math.isfinite(seconds) else None


def backoff_seconds(attempt: int) -> float:
    """Full jitter: uniform in [0, base * 2^attempt], so workers retrying after a shared
    outage do not come back in lockstep."""
    return random.uniform(0, min(BACKOFF_MAX, BACKOFF_BASE * 2 ** attempt))


def media_type(header: str | None, name: str = "") -> str:
    """The content type of a downloaded file: the response header unless it is generic,
    else a guess from the file or URL name."""
    content_type = (header or "").split(";")[0].strip().lower()
    if content_type in _GENERIC_TYPES:
        content_type = mimetypes.guess_type(urlsplit(name).path)[0] or "application/octet-stream"
    return content_type


def extension_for(content_type: str, name: str = "") -> str:
    suffix = PurePosixPath(urlsplit(name).path).suffix.lower()
    return (_EXTENSIONS.get(content_type)
            or (suffix if _SAFE_SUFFIX.fullmatch(suffix) else None)
            or mimetypes.guess_extension(content_type)
            or ".bin")


def error_detail(body: bytes) -> str:
    """A short human message from an error body: the `message`/`error`/`detail` of a JSON
    body when there is one (OpenAI, ElevenLabs, Replicate and ComfyUI all nest it
    differently), else the start of the text."""
    try:
        text = _message_in(orjson.loads(body)) or body.decode("utf-8", "replace")
    except orjson.JSONDecodeError:
        text = body.decode("utf-8", "replace")
    text = " ".join(text.split())
    return text[:DETAIL_MAX_CHARS] + ("..." if len(text) > DETAIL_MAX_CHARS else "")


def _message_in(data: Any) -> str | None:
    if not isinstance(data, dict):
        return None
    for key in ("message", "error", "detail", "title"):
        value = data.get(key)
        if isinstance(value, str) and value:
            return value
        if (nested := _message_in(value)) is not None:
            return nested
    return None


class ProviderHTTP:
    """One provider's HTTP client. `auth_headers` go only to `base_url`'s origin; their
    values (and the token after "Bearer ") are redacted from every error message."""

    def __init__(self, provider: str, settings: Settings, *, base_url: str | None,
                 auth_headers: Mapping[str, str] | None = None) -> None:
        self.provider = provider
        self.base_url = (base_url or "").rstrip("/")
        self.timeout = settings.provider_timeout
        self.max_retries = settings.provider_max_retries
        self.max_result_bytes = settings.max_result_bytes
        self._auth_headers = dict(auth_headers or {})
        secrets = {part for value in self._auth_headers.values() for part in (value, value.split(" ", 1)[-1])}
        # Longest first, so a header value is replaced whole before its token part.
        self._secrets = sorted((s for s in secrets if s), key=len, reverse=True)
        # Redirects are followed only where no credentials were sent (see _attempts).
        self._client = httpx.AsyncClient(timeout=settings.provider_timeout, follow_redirects=False,
                                         verify=_tls_context(),
                                         limits=httpx.Limits(max_connections=None,
                                                             max_keepalive_connections=KEEPALIVE_CONNECTIONS))

    async def aclose(self) -> None:
        await self._client.aclose()

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "[redacted]")
        return text

    def error(self, message: str, *, retryable: bool = False) -> ProviderError:
        """A ProviderError naming the provider, with secrets redacted."""
        return ProviderError(self.redact(f"{self.provider}: {message}"), retryable=retryable)

    # -- calls ---------------------------------------------------------------------------

    async def json(self, method: str, url: str, **kwargs: Any) -> Any:
        """Send a request and return its decoded JSON reply."""
        what = _describe(method, url)

        async def decode(response: httpx.Response) -> Any:
            body = await self.read(response, JSON_MAX_BYTES, what)
            try:
                return orjson.loads(body)
            except orjson.JSONDecodeError:
                raise self.error(f"malformed JSON in the reply to {what}") from None

        return await self._attempts(method, url, decode, **kwargs)

    async def call(self, method: str, url: str, **kwargs: Any) -> None:
        """Send a request whose reply body does not matter (cancellations)."""
        what = _describe(method, url)

        async def discard(response: httpx.Response) -> None:
            await self.read(response, 64 * 1024, what, truncate=True)

        await self._attempts(method, url, discard, **kwargs)

    async def to_file(self, method: str, url: str, dest: Path, *, expect: str | None = None,
                      **kwargs: Any) -> str:
        """Stream a response body into `dest` (at most settings.max_result_bytes) and
        return its Content-Type header. `expect` (e.g. "audio/") rejects a reply whose
        declared type is neither that nor generic: an error page served with 200."""
        what = _describe(method, url)

        async def save(response: httpx.Response) -> str:
            declared = response.headers.get("content-type", "")
            if expect and media_type(declared) not in _GENERIC_TYPES and not media_type(declared).startswith(expect):
                detail = error_detail(await self.read(response, 4096, what, truncate=True))
                raise self.error(f"expected {expect}* from {what}, got {declared}: {detail}")
            await self._save(response, dest, what)
            return declared

        return await self._attempts(method, url, save, **kwargs)

    async def download(self, url: str, workdir: Path, stem: str, *, name: str = "",
                       expect: str | None = None, **kwargs: Any) -> MediaOutput:
        """GET a generated file into `workdir/<stem><ext>`; the content type comes from the
        response header, else from `name` (a file name hint) or the URL."""
        part = workdir / f"{stem}.part"
        header = await self.to_file("GET", url, part, expect=expect, **kwargs)
        content_type = media_type(header, name or url)
        path = part.with_name(stem + extension_for(content_type, name or url))
        part.replace(path)
        return MediaOutput(path=path, content_type=content_type)

    @asynccontextmanager
    async def stream(self, method: str, url: str, **kwargs: Any) -> AsyncIterator[httpx.Response]:
        """An open 2xx response whose body the caller reads incrementally. Retries happen
        only until the status line arrives: once the caller has consumed part of the body,
        a failure is a (retryable) ProviderError for the caller to handle."""
        what = _describe(method, url)
        response: httpx.Response = await self._attempts(method, url, None, **kwargs)
        try:
            yield response
        except httpx.HTTPError as exc:
            raise self._transport_error(exc, f"while reading the reply to {what}") from exc
        finally:
            await response.aclose()

    # -- internals -----------------------------------------------------------------------

    async def _attempts(self, method: str, url: str,
                        consume: Callable[[httpx.Response], Awaitable[T]] | None,
                        *, headers: Mapping[str, str] | None = None, **kwargs: Any) -> T:
        """Send the request, retrying within the budget, and hand a 2xx response to
        `consume` (inside the attempt, so a body cut short is retried too); with no
        `consume`, return the open response."""
        what = _describe(method, url)
        credentials = bool(self._auth_headers) and _origin(url) == _origin(self.base_url)
        all_headers = {**(self._auth_headers if credentials else {}), **(headers or {})}
        attempts = self.max_retries + 1
        for attempt in range(attempts):
            wait: float | None = None
            cause: Exception | None = None
            try:
                request = self._client.build_request(method, url, headers=all_headers, **kwargs)
                response = await self._client.send(request, stream=True, follow_redirects=not credentials)
                if response.is_success and consume is None:
                    return response  # type: ignore[return-value]  # without `consume`, T is the response
                try:
                    if response.is_success:
                        return await consume(response)  # type: ignore[misc]  # not None: checked above
                    error, wait = await self._status_error(response, what)
                finally:
                    await response.aclose()
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                error, cause = self._transport_error(exc, f"on {what}"), exc
            if not error.retryable:
                raise error from cause
            if wait is not None and wait > RETRY_AFTER_CAP:
                raise ProviderError(f"{error} (asked to wait {wait:.0f}s, over the {RETRY_AFTER_CAP:g}s cap)",
                                    retryable=True) from cause
            if attempt == attempts - 1:
                message = error.args[0] + (f" (gave up after {attempts} attempts)" if attempts > 1 else "")
                raise ProviderError(message, retryable=True) from cause
            wait = backoff_seconds(attempt) if wait is None else wait
            log.warning("%s; retry %d/%d in %.2fs", error, attempt + 1, self.max_retries, wait)
            await asyncio.sleep(wait)
        raise AssertionError("unreachable")  # the loop always returns or raises

    async def _status_error(self, response: httpx.Response, what: str) -> tuple[ProviderError, float | None]:
        status = response.status_code
        detail = error_detail(await self.read(response, 4096, what, truncate=True))
        retryable = status == 429 or status >= 500
        error = self.error(f"HTTP {status} from {what}" + (f": {detail}" if detail else ""), retryable=retryable)
        wait = retry_after_seconds(response.headers.get("retry-after")) if status == 429 else None
        return error, wait

    def _transport_error(self, exc: Exception, where: str) -> ProviderError:
        if isinstance(exc, ProviderError):
            return exc
        if isinstance(exc, httpx.TimeoutException):
            return self.error(f"no answer within {self.timeout:g}s {where}", retryable=True)
        if isinstance(exc, httpx.NetworkError | httpx.RemoteProtocolError):
            # Refused, reset or cut off mid-reply: the provider or the path to it is unwell.
            return self.error(f"connection failed {where} ({type(exc).__name__}: {exc})", retryable=True)
        # Unsupported scheme, invalid URL, too many redirects...: retrying will not help.
        return self.error(f"request failed {where} ({type(exc).__name__}: {exc})")

    async def read(self, response: httpx.Response, cap: int, what: str, *, truncate: bool = False) -> bytes:
        """The body of an open response, at most `cap` bytes: beyond that an error, or
        with `truncate` just the start. `what` names the request in the error."""
        if not truncate:
            self._check_length(response, cap, what)
        chunks, size = [], 0
        async for chunk in response.aiter_bytes():
            chunks.append(chunk)
            size += len(chunk)
            if size > cap:
                if truncate:
                    return b"".join(chunks)[:cap]
                raise self.error(f"the reply to {what} exceeds {cap} bytes")
        return b"".join(chunks)

    async def _save(self, response: httpx.Response, dest: Path, what: str) -> None:
        cap = self.max_result_bytes
        self._check_length(response, cap, what)
        size = 0
        try:
            # Plain file writes: chunks are small, and a thread hop per chunk costs more.
            with dest.open("wb") as out:
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > cap:
                        raise self.error(f"the reply to {what} exceeds {cap} bytes")
                    out.write(chunk)
            if size == 0:
                raise self.error(f"empty reply to {what}")
        except BaseException:
            dest.unlink(missing_ok=True)
            raise

    def _check_length(self, response: httpx.Response, cap: int, what: str) -> None:
        """Refuse early when the declared length is already over the cap."""
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap:
            raise self.error(f"the reply to {what} is {declared} bytes, over the {cap}-byte limit")


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def _describe(method: str, url: str) -> str:
    """How a request appears in messages: method and path, never the query or userinfo."""
    return f"{method} {urlsplit(url).path or '/'}"


async def sse_data(response: httpx.Response, http: ProviderHTTP) -> AsyncGenerator[str, None]:
    """The `data` of each server-sent event, as soon as its blank line arrives. Lines are
    split on \\n only (str.splitlines would also split on U+2028 inside JSON strings)."""
    buffer, data = "", list[str]()
    async for text in response.aiter_text():
        buffer += text
        *lines, buffer = buffer.split("\n")
        if len(buffer) > MAX_STREAM_LINE:
            raise http.error("a stream line is too long")
        for line in lines:
            line = line.removesuffix("\r")
            if not line:
                if data:
                    yield "\n".join(data)
                    data = []
            elif line.startswith("data:"):
                data.append(line[5:].removeprefix(" "))
            # Comments (":" keep-alives) and other fields (event:, id:) carry no text.
    if buffer.removesuffix("\r").startswith("data:"):
        data.append(buffer.removesuffix("\r")[5:].removeprefix(" "))
    if data:
        yield "\n".join(data)


async def drain(events: AsyncIterator[Any], seconds: float = DRAIN_SECONDS) -> None:
    """After a streamed reply's last event (OpenAI's [DONE], Anthropic's message_stop,
    Ollama's done): read the end of its body, which follows at once, so that the
    connection goes back to the pool. A response closed half-read closes its connection,
    and the next chat would open a new one (a TCP and TLS handshake with a cloud provider,
    bench/results/stream.md). A server that sends more, or not its end within `seconds`,
    loses its connection as before; the answer is complete either way."""
    with contextlib.suppress(TimeoutError, ProviderError, httpx.HTTPError):
        async with asyncio.timeout(seconds):
            async for _ in events:
                return  # more after the end: not worth reading


async def json_lines(response: httpx.Response, http: ProviderHTTP) -> AsyncGenerator[Any, None]:
    """Each value of a newline-delimited JSON stream (Ollama's native API), decoded as
    soon as its newline arrives; blank lines are skipped. Split as bytes: a JSON text
    never holds a raw newline, and a character cut between two network chunks is then
    decoded whole."""

    def decode(line: bytes) -> Any:
        try:
            return orjson.loads(line)
        except orjson.JSONDecodeError:
            raise http.error("malformed JSON in the stream") from None

    buffer = b""
    async for chunk in response.aiter_bytes():
        buffer += chunk
        *lines, buffer = buffer.split(b"\n")
        if len(buffer) > MAX_STREAM_LINE:
            raise http.error("a stream line is too long")
        for line in lines:
            if line.strip():
                yield decode(line)
    if buffer.strip():  # the server closed right after a last line without its newline
        yield decode(buffer)


class KeyedChat(ChatProvider):
    """A chat vendor whose API takes a key in one header (Anthropic, Gemini): the setup,
    the missing-key answer and the cleanup each such adapter shares. Subclasses say
    where the API is and how the key is sent."""

    def __init__(self, settings: Settings, connection: Connection) -> None:
        self._settings = settings
        self._connection = connection
        key = connection.api_key or ""
        self._http = ProviderHTTP(self.name, settings, base_url=self.base_url(connection),
                                  auth_headers=self.auth_headers(key) if key else None)

    @staticmethod
    def base_url(connection: Connection) -> str:
        raise NotImplementedError

    @staticmethod
    def auth_headers(key: str) -> dict[str, str]:
        raise NotImplementedError

    def unavailable_reason(self) -> str | None:
        return None if self._connection.api_key else f"the connection {self._connection.name!r} has no API key"

    async def aclose(self) -> None:
        await self._http.aclose()


def stop_sequences(value: Any) -> list[str]:
    """The OpenAI-style `stop` parameter (a string or a list) as a list."""
    return [value] if isinstance(value, str) else [str(v) for v in value]
