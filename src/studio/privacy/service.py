"""Privacy's rules (F20): an export is recorded before its first byte and read with the
caller's own credential page by page (export.py); an erasure needs the password again,
checked as login checks it. docs/privacy.md describes both."""

from __future__ import annotations

from collections.abc import AsyncIterator

from studio.auth import service as auth_service
from studio.auth.identity import Credential, RequestContext, Unauthenticated
from studio.config import Settings
from studio.db.scopes import ApiDatabase
from studio.privacy import export
from studio.privacy import repository as repo
from studio.storage.base import Storage


async def export_archive(db: ApiDatabase, ctx: RequestContext, cred: Credential,
                         storage: Storage) -> AsyncIterator[bytes]:
    """Records data.exported and returns the archive's bytes, to be streamed: nothing
    is read until the stream is, and no transaction stays open in between."""
    async with db.as_user(cred, ctx) as tx:
        columns = await repo.readable_columns(tx)
        await repo.record_export(tx)
        user_id = tx.user.id
    return export.archive(db, cred, ctx, storage, user_id=user_id, columns=columns)


async def delete_account(db: ApiDatabase, ctx: RequestContext, settings: Settings, cred: Credential, *,
                         password: str) -> None:
    """Erases the caller's account once their password is confirmed (a wrong one counts
    as a failed login). Raises Unauthenticated when the account is gone meanwhile."""
    user_id = await auth_service.confirm_password(db, ctx, settings, cred, password=password)
    async with db.as_user(cred, ctx) as tx:
        if tx.user.id != user_id or not await repo.delete_account(tx):
            raise Unauthenticated  # gone meanwhile (a concurrent deletion)
