"""`/v1/notifications`: the caller's notifications, newest first, with the unread count
(the web app's bell); mark one or all read; delete one; which kinds they want
(`/preferences`). Another user's notification
answers 404 like a missing one."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query
from starlette.responses import Response

from studio.http.deps import Cred, Ctx, Db
from studio.http.errors import not_found
from studio.http.responses import decode_cursor, json_response, page
from studio.notifications import repository as repo
from studio.notifications.schemas import MarkedRead, NotificationPage, NotificationPreferences

router = APIRouter(prefix="/v1/notifications", tags=["notifications"])


@router.get("", response_model=NotificationPage)
async def list_notifications(db: Db, ctx: Ctx, cred: Cred, limit: Annotated[int, Query(ge=1, le=100)] = 50,
                             cursor: str | None = None,
                             unread: Annotated[bool, Query(description="only the unread ones")] = False) -> Response:
    after = decode_cursor(cursor)
    async with db.as_user(cred, ctx) as tx:
        rows = await repo.list_notifications(tx, unread_only=unread, after=after, limit=limit)
        unread_count = await repo.unread_count(tx)
    return json_response(page(rows, limit) | {"unread_count": unread_count})


@router.get("/preferences", response_model=NotificationPreferences)
async def get_preferences(db: Db, ctx: Ctx, cred: Cred) -> Response:
    async with db.as_user(cred, ctx) as tx:
        muted = await repo.muted_kinds(tx)
    return json_response({"muted": muted})


@router.put("/preferences", response_model=NotificationPreferences)
async def set_preferences(body: NotificationPreferences, db: Db, ctx: Ctx, cred: Cred) -> Response:
    """Replaces the muted kinds; notifications of those kinds are no longer written for
    the caller (the ones already there stay)."""
    async with db.as_user(cred, ctx) as tx:
        muted = await repo.set_muted_kinds(tx, muted=body.muted)
    return json_response({"muted": muted})


@router.post("/read-all", response_model=MarkedRead)
async def mark_all_read(db: Db, ctx: Ctx, cred: Cred) -> Response:
    async with db.as_user(cred, ctx) as tx:
        marked = await repo.mark_all_read(tx)
    return json_response({"marked": marked})


@router.post("/{notification_id}/read", status_code=204)
async def mark_read(notification_id: UUID, db: Db, ctx: Ctx, cred: Cred) -> Response:
    async with db.as_user(cred, ctx) as tx:
        found = await repo.mark_read(tx, notification_id=notification_id)
    if not found:
        raise not_found("notification")
    return Response(status_code=204)


@router.delete("/{notification_id}", status_code=204)
async def delete_notification(notification_id: UUID, db: Db, ctx: Ctx, cred: Cred) -> Response:
    async with db.as_user(cred, ctx) as tx:
        found = await repo.delete(tx, notification_id=notification_id)
    if not found:
        raise not_found("notification")
    return Response(status_code=204)
