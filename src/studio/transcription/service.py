"""Transcription's rules: which audio is accepted (the declared type, checked against the
file's first bytes as uploads are), how the form is received (authenticated first,
counted while it streams), which model transcribes (the one asked for, else the first
that can), and what a vendor failure becomes.

Runs in the API process, synchronously like chat: the person waits for the text of
their voice message, and nothing is stored (no media, no generation, no usage row)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar
from uuid import UUID

import filetype
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from studio.auth.identity import Credential, RequestContext
from studio.config import Settings
from studio.db.scopes import ApiDatabase, UserScope
from studio.http.errors import ApiError, not_found
from studio.providers.base import AudioClip, ProviderError, Transcriber
from studio.providers.registry import ADMIN_HINT, Providers
from studio.ratelimit import service as ratelimit
from studio.transcription import form
from studio.transcription import repository as repo

FieldsT = TypeVar("FieldsT", bound=BaseModel)


@dataclass(frozen=True)
class AudioFormat:
    family: str         # what a declared type must agree with
    extension: str      # the vendor reads the format from the file name's
    content_type: str   # sent with the file


# What filetype finds in the bytes -> the format. Opus is always in an Ogg container here.
_SNIFFED = {
    "audio/x-wav": AudioFormat("wav", "wav", "audio/wav"),
    "audio/mpeg": AudioFormat("mp3", "mp3", "audio/mpeg"),
    "audio/ogg": AudioFormat("ogg", "ogg", "audio/ogg"),
    "video/webm": AudioFormat("webm", "webm", "audio/webm"),     # browsers record voice as WebM/Opus
    "audio/mp4": AudioFormat("mp4", "m4a", "audio/mp4"),
    "video/mp4": AudioFormat("mp4", "mp4", "audio/mp4"),         # Safari records voice as MP4/AAC
    "audio/x-flac": AudioFormat("flac", "flac", "audio/flac"),
}
# The names clients declare those formats by (several per format in the wild).
_DECLARED = {
    **dict.fromkeys(("audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave"), "wav"),
    **dict.fromkeys(("audio/mpeg", "audio/mp3", "audio/mpeg3", "audio/x-mpeg-3", "audio/mpga"), "mp3"),
    **dict.fromkeys(("audio/ogg", "audio/opus", "application/ogg"), "ogg"),
    **dict.fromkeys(("audio/webm", "video/webm"), "webm"),
    **dict.fromkeys(("audio/mp4", "audio/m4a", "audio/x-m4a", "video/mp4"), "mp4"),
    **dict.fromkeys(("audio/flac", "audio/x-flac"), "flac"),
}
# Declared by clients that do not know (a bare byte string, an unknown file name).
_GENERIC = frozenset({"", "application/octet-stream", "binary/octet-stream"})
ACCEPTED = "wav, mp3, ogg/opus, webm, m4a/mp4 or flac"
# Room for the text fields and the part headers around the file.
FORM_OVERHEAD = 256 * 1024
NO_MODEL = (f"No model can turn speech into text here yet: {ADMIN_HINT}, for example whisper-1 on an "
            "OpenAI-compatible connection, with the 'transcription' capability")


def audio_format(head: bytes, declared: str) -> AudioFormat:
    """The format of audio starting with `head`; 415 when it is none Studio accepts or
    not what the client declared (a generic declaration agrees with any)."""
    if not head:
        raise ApiError(422, "validation_error", "the audio file is empty")
    kind = filetype.guess(head)
    actual = kind.mime if kind else None
    found = _SNIFFED.get(actual or "")
    if found is None:
        raise ApiError(415, "unsupported_media_type",
                       f"the file is {actual or 'of no recognised type'}, not audio Studio can transcribe; "
                       f"send {ACCEPTED}")
    if declared not in _GENERIC and _DECLARED.get(declared) != found.family:
        raise ApiError(415, "unsupported_media_type", f"the file's content is {actual}, not {declared}")
    return found


async def receive(request: Request, db: ApiDatabase, ctx: RequestContext, cred: Credential,
                  settings: Settings) -> form.Form:
    """The request's form, once its type and declared length pass (415, 413), the caller
    is within the chat rate limit and authenticated: no byte is read before. The file is
    counted as it streams (413 on the byte over settings.max_upload_bytes) and its type
    checked on its first bytes (415)."""
    content_type = request.headers.get("content-type", "")
    form.boundary_of(content_type)
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > settings.max_upload_bytes + FORM_OVERHEAD:
        raise ApiError(413, "payload_too_large", f"the audio file exceeds {settings.max_upload_bytes} bytes")
    await ratelimit.check(request, ratelimit.CHAT, cred)
    async with db.as_user(cred, ctx):  # authenticated even with rate limits off
        pass
    return await form.read_form(request.stream(), content_type, file_field="file",
                                max_file_bytes=settings.max_upload_bytes,
                                check_head=_check_audio)


def _check_audio(head: bytes, declared: str) -> None:
    audio_format(head, declared)


def fields(schema: type[FieldsT], values: dict[str, str]) -> FieldsT:
    """The form's text fields validated as `schema`: 422 with the details, like a JSON body."""
    try:
        return schema.model_validate(values)
    except ValidationError as exc:
        raise RequestValidationError([{**error, "loc": ("body", *error["loc"])}
                                      for error in exc.errors(include_input=False, include_url=False)]) from None


def clip(upload: form.Form) -> AudioClip:
    if upload.file is None:
        raise ApiError(422, "validation_error", f"the form has no 'file' part: send the recording ({ACCEPTED})")
    found = audio_format(upload.file.data[:form.SNIFF_BYTES], upload.file.content_type)
    return AudioClip(upload.file.data, f"audio.{found.extension}", found.content_type)


async def model_by_id(tx: UserScope, providers: Providers, model_id: UUID | None) -> tuple[dict[str, Any], Transcriber]:
    """The model asked for, else the first that transcribes and can run here (409 when
    none does, saying what an admin does about it)."""
    if model_id is None:
        for row in await repo.transcription_models(tx):
            adapter = _transcriber(providers, row)
            if adapter is not None:
                return row, adapter
        raise ApiError(409, "no_transcription_model", NO_MODEL)
    chosen = await repo.model_by_id(tx, model_id=model_id)
    if chosen is None or not chosen["enabled"]:
        raise not_found("model")  # not one the caller can see (RLS), or switched off
    return chosen, _usable(providers, chosen)


async def model_by_slug(tx: UserScope, providers: Providers, slug: str) -> tuple[dict[str, Any], Transcriber]:
    """The model an OpenAI client names by its slug."""
    row = await repo.model_by_slug(tx, slug=slug)
    if row is None or not row["enabled"]:
        raise ApiError(404, "model_not_found", f"the model {slug!r} does not exist or is not enabled; "
                                               "GET /openai/v1/models lists the ones you can use")
    return row, _usable(providers, row)


def _usable(providers: Providers, row: dict[str, Any]) -> Transcriber:
    if "transcription" not in row["capabilities"]:
        raise ApiError(422, "validation_error", f"the model {row['slug']!r} does not turn speech into text "
                                                "(it lacks the 'transcription' capability)")
    if reason := providers.unavailable_reason(row):
        raise ApiError(409, "model_unavailable", f"the model {row['slug']!r} cannot run here: {reason}")
    adapter = _transcriber(providers, row)
    if adapter is None:
        raise ApiError(409, "model_unavailable", f"the model {row['slug']!r} cannot run here: its connection's "
                                                 "kind has no speech-to-text API (an OpenAI-compatible one has)")
    return adapter


def _transcriber(providers: Providers, row: dict[str, Any]) -> Transcriber | None:
    """The adapter of the model's connection when it can transcribe now. Transcription
    is the connection's API beside chat, so it is the connection's chat adapter,
    whatever the model's type."""
    if row["connection_id"] is None or providers.unavailable_reason(row) is not None:
        return None
    adapter, problem = providers.connection_chat(row["connection_id"])
    return adapter if problem is None and isinstance(adapter, Transcriber) else None


async def transcribe(adapter: Transcriber, row: dict[str, Any], audio: AudioClip, *, language: str | None,
                     prompt: str | None, temperature: float | None = None) -> str:
    """The text, from the vendor, by the model's upstream name; the model's default
    parameters (language, prompt, temperature) under what the request sets. A vendor
    failure is 502 with the vendor's own message (keys redacted by ProviderHTTP)."""
    defaults = row["default_params"] or {}
    default_language, default_prompt = defaults.get("language"), defaults.get("prompt")
    default_temperature = defaults.get("temperature")
    try:
        return await adapter.transcribe(
            model=row["provider_model"], audio=audio,
            language=language or (default_language if isinstance(default_language, str) else None),
            prompt=prompt or (default_prompt if isinstance(default_prompt, str) else None),
            temperature=temperature if temperature is not None else (
                default_temperature if isinstance(default_temperature, int | float) else None))
    except ProviderError as exc:
        raise ApiError(502, "provider_error", str(exc)) from None
