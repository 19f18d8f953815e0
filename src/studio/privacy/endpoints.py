"""Privacy (F20): everything of yours, as one streamed archive; and your account erased,
after you confirm with your password. docs/privacy.md describes both."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request
from pydantic import Field
from starlette.responses import Response, StreamingResponse

from studio.auth import tokens
from studio.auth.endpoints import reauthenticate
from studio.auth.identity import Unauthenticated
from studio.auth.schemas import PASSWORD_MAX, Strict
from studio.http.deps import Cred, Ctx, Db, SettingsDep
from studio.privacy import export
from studio.privacy import repository as repo
from studio.ratelimit import service as ratelimit

router = APIRouter(prefix="/v1", tags=["privacy"])


class AccountDeletion(Strict):
    password: str = Field(min_length=1, max_length=PASSWORD_MAX,
                          description="your password, also when you call with an API key")


@router.get("/me/export", response_class=StreamingResponse,
            responses={200: {"content": {"application/zip": {}}, "description": "a ZIP, streamed"}})
async def export_my_data(request: Request, db: Db, ctx: Ctx, cred: Cred) -> Response:
    """Every row that belongs to you (JSON) and every file of yours, as a ZIP streamed
    while it is written. Recorded in your audit log as data.exported."""
    await ratelimit.check(request, ratelimit.EXPORTS, cred)
    async with db.as_user(cred, ctx) as tx:
        columns = await repo.readable_columns(tx)
        await repo.record_export(tx)
        user_id = tx.user.id
    filename = f"studio-export-{datetime.now(UTC):%Y%m%d-%H%M%S}.zip"
    body = export.archive(db, cred, ctx, request.app.state.storage, user_id=user_id, columns=columns)
    return StreamingResponse(body, media_type="application/zip", headers={
        "Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff"})


@router.delete("/me", status_code=204, responses={401: {"description": "the password is wrong"}})
async def delete_my_account(body: AccountDeletion, db: Db, ctx: Ctx, cred: Cred, settings: SettingsDep) -> Response:
    """Erases your account: every row and file of yours, your sessions and API keys. Only
    an anonymous record that an account was deleted remains. Not reversible."""
    async with db.as_user(cred, ctx) as tx:
        user_id, email = tx.user.id, tx.user.email
    await reauthenticate(db, ctx, settings, user_id=user_id, email=email, password=body.password)
    async with db.as_user(cred, ctx) as tx:
        if tx.user.id != user_id or not await repo.delete_account(tx):
            raise Unauthenticated  # gone meanwhile (a concurrent deletion)
    response = Response(status_code=204)
    response.delete_cookie(tokens.SESSION_COOKIE, path="/")
    return response

