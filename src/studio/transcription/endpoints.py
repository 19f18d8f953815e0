"""POST /v1/transcriptions: a recording in, its text out, while the person waits."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from studio.http.deps import Cred, Ctx, Db, ProvidersDep, SettingsDep
from studio.http.responses import json_response
from studio.transcription import service
from studio.transcription.schemas import Transcription, TranscriptionFields, multipart_request_body

router = APIRouter(prefix="/v1", tags=["transcription"])


@router.post("/transcriptions", response_model=Transcription,
             openapi_extra=multipart_request_body(TranscriptionFields),
             responses={404: {"description": "no such model for this caller"},
                        409: {"description": "no model can transcribe here, or this one cannot run (and why)"},
                        413: {"description": "the file is over STUDIO_MAX_UPLOAD_BYTES"},
                        415: {"description": "not multipart/form-data, or the file is not accepted audio, "
                                             "or not the type it declares"},
                        422: {"description": "a field is invalid, the file is missing, or the model does "
                                             "not transcribe"},
                        429: {"description": "rate limit (the chat one)"},
                        502: {"description": "the vendor failed; its message says why"}})
async def transcribe(request: Request, db: Db, ctx: Ctx, cred: Cred, providers: ProvidersDep,
                     settings: SettingsDep) -> Response:
    """A multipart form: `file` (the recording), optional `model_id` (default: the first
    model with the transcription capability that can run), `language`, `prompt`.
    Nothing is stored: not the audio, not the text."""
    upload = await service.receive(request, db, ctx, cred, settings)
    audio = service.clip(upload)
    body = service.fields(TranscriptionFields, upload.fields)
    async with db.as_user(cred, ctx) as tx:
        row, adapter = await service.model_by_id(tx, providers, body.model_id)
    # The vendor is called with no transaction open: it may take as long as the recording.
    text = await service.transcribe(adapter, row, audio, language=body.language, prompt=body.prompt)
    return json_response({"text": text, "model": row["slug"]})
