"""Privacy (F20): everything of yours, as one streamed archive; and your account erased,
after you confirm with your password. docs/privacy.md describes both."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request
from starlette.responses import Response, StreamingResponse

from studio.auth import tokens
from studio.http.deps import Cred, Ctx, Db, SettingsDep, StorageDep
from studio.privacy import service
from studio.privacy.schemas import AccountDeletion
from studio.http.openapi import RATE_LIMITED
from studio.ratelimit import service as ratelimit

router = APIRouter(prefix="/v1", tags=["privacy"])


@router.get("/me/export", response_class=StreamingResponse,
            responses={200: {"content": {"application/zip": {}}, "description": "a ZIP, streamed"}, **RATE_LIMITED})
async def export_my_data(request: Request, db: Db, ctx: Ctx, cred: Cred, storage: StorageDep) -> Response:
    """Every row that belongs to you (JSON) and every file of yours, as a ZIP streamed
    while it is written. Recorded in your audit log as data.exported."""
    await ratelimit.check(request, ratelimit.EXPORTS, cred)
    body = await service.export_archive(db, ctx, cred, storage)
    filename = f"studio-export-{datetime.now(UTC):%Y%m%d-%H%M%S}.zip"
    return StreamingResponse(body, media_type="application/zip", headers={
        "Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff"})


@router.delete("/me", status_code=204, responses={401: {"description": "the password is wrong"},
                                                  429: {"description": "too many wrong passwords: wait for Retry-After"}})
async def delete_my_account(body: AccountDeletion, db: Db, ctx: Ctx, cred: Cred, settings: SettingsDep) -> Response:
    """Erases your account: every row and file of yours, your sessions and API keys. Only
    an anonymous record that an account was deleted remains. Not reversible."""
    await service.delete_account(db, ctx, settings, cred, password=body.password)
    response = Response(status_code=204)
    response.delete_cookie(tokens.SESSION_COOKIE, path="/")
    return response
