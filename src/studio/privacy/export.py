"""The export archive (F20): a ZIP written while it streams, never whole in memory.

zipfile writes into `_Sink`, which has no tell() or seek(): zipfile then puts each
member's sizes and CRC in a data descriptor after its bytes and never goes back, so
whatever it has written can be sent at once. Rows are read in pages, each page in a
short transaction of its own (the credential is checked again every time, so a logout
or a revoked key stops the export); files are copied chunk by chunk from the storage.
Between pages nothing holds a database connection while the client downloads.

Layout (docs/privacy.md): README.txt, data/<schema>.<table>.json (a JSON array of the
user's rows), media/<bucket>/<key> (their files, byte for byte), and
missing-media.json when a file could not be read.
"""

from __future__ import annotations

import ipaddress
import logging
import stat
import zipfile
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import orjson

from studio.auth.identity import Credential, RequestContext
from studio.db.scopes import ApiDatabase
from studio.privacy import repository as repo
from studio.storage.base import ObjectNotFound, Storage

log = logging.getLogger("studio.privacy")

PAGE_ROWS = 500
# Bytes gathered before they are handed to the client: fewer, larger writes.
FLUSH_BYTES = 64 * 1024
# Members this large need ZIP64 sizes; JSON members always get them, as their size is
# unknown when they start.
ZIP64_THRESHOLD = zipfile.ZIP64_LIMIT
FILE_MODE = stat.S_IFREG | 0o600  # a regular file, readable by its owner only

README = """\
Studio: everything of yours
===========================

Account {user_id}, exported {exported_at} (UTC).

data/<schema>.<table>.json
    Every row of that table that belongs to you: a JSON array of objects, one key per
    column. Times are ISO 8601, ids are UUIDs. Secrets are left out: your password
    hash and the hashes of your session tokens and API keys.

media/<bucket>/<key>
    Your files, byte for byte: generation results (media) and uploads (attachments).
    data/public.media_objects.json describes each one (type, size, SHA-256).

missing-media.json
    Only there if some file could not be read while the archive was written.

The rows are read while the archive is written: a change you make meanwhile may or
may not be in it.
"""


class _Sink:
    """What zipfile writes into; the stream empties it as it goes."""

    def __init__(self) -> None:
        self.buffer = bytearray()

    def write(self, data: bytes) -> int:
        self.buffer += data
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass  # zipfile leaves a file it was handed open; kept for its protocol

    def take(self) -> bytes:
        data = bytes(self.buffer)
        self.buffer.clear()
        return data


def _member(name: str, *, compress: bool) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=datetime.now(UTC).timetuple()[:6])
    info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    info.external_attr = FILE_MODE << 16
    return info


_IP_TYPES = (ipaddress.IPv4Address, ipaddress.IPv6Address, ipaddress.IPv4Interface, ipaddress.IPv6Interface,
             ipaddress.IPv4Network, ipaddress.IPv6Network)


def _json_default(value: Any) -> Any:
    """What orjson does not know: numeric (as the exact number) and inet."""
    if isinstance(value, Decimal):
        return orjson.Fragment(str(value)) if value.is_finite() else str(value)
    if isinstance(value, _IP_TYPES):
        return str(value)
    raise TypeError(f"cannot export a value of type {type(value).__name__}")


async def archive(db: ApiDatabase, cred: Credential, ctx: RequestContext, storage: Storage, *,
                  user_id: UUID, columns: dict[str, list[str]]) -> AsyncIterator[bytes]:
    """The archive's bytes, as they are written. `columns` are the readable columns of
    each exported table (repository.readable_columns). The helpers below are closed
    explicitly (aclosing) when the client goes away, so no ZIP member is left open."""
    sink = _Sink()
    with zipfile.ZipFile(sink, "w") as zf:
        zf.writestr(_member("README.txt", compress=True),
                    README.format(user_id=user_id, exported_at=datetime.now(UTC).isoformat(timespec="seconds")))
        yield sink.take()
        for owned in repo.EXPORTED:
            pages = _pages(db, cred, ctx, owned, columns[owned.table], user_id)
            async with aclosing(_write_table(zf, sink, owned, pages)) as writing:
                async for data in writing:
                    yield data
        missing: list[dict[str, Any]] = []
        media = _pages(db, cred, ctx, repo.MEDIA_OBJECTS, ["id", "bucket", "key", "size_bytes"], user_id)
        async with aclosing(media) as files:
            async for page in files:
                for item in page:
                    async with aclosing(_copy_file(zf, sink, storage, item, missing)) as copying:
                        async for data in copying:
                            yield data
        if missing:
            zf.writestr(_member("missing-media.json", compress=True),
                        orjson.dumps(missing, option=orjson.OPT_INDENT_2))
    yield sink.take()  # the central directory


async def _write_table(zf: zipfile.ZipFile, sink: _Sink, owned: repo.Owned,
                       pages: AsyncGenerator[list[dict[str, Any]], None]) -> AsyncGenerator[bytes, None]:
    """data/<schema>.<table>.json: a JSON array, written row by row."""
    with zf.open(_member(f"data/{owned.table}.json", compress=True), "w", force_zip64=True) as member:
        first = True
        async with aclosing(pages):
            async for rows in pages:
                for row in rows:
                    member.write((b"[\n" if first else b",\n") + orjson.dumps(row, default=_json_default))
                    first = False
                if len(sink.buffer) >= FLUSH_BYTES:
                    yield sink.take()
        member.write(b"[]\n" if first else b"\n]\n")
    yield sink.take()


async def _pages(db: ApiDatabase, cred: Credential, ctx: RequestContext, owned: repo.Owned, columns: list[str],
                 user_id: UUID) -> AsyncGenerator[list[dict[str, Any]], None]:
    after = None
    while True:
        async with db.as_user(cred, ctx) as tx:
            if tx.user.id != user_id:  # cannot happen: the same credential, the same user
                raise RuntimeError("the export's credential changed hands")
            rows = await repo.rows_page(tx, owned, columns=columns, after=after, limit=PAGE_ROWS)
        if rows:
            yield rows
        if len(rows) < PAGE_ROWS:
            return
        after = rows[-1]["id"]


async def _copy_file(zf: zipfile.ZipFile, sink: _Sink, storage: Storage, item: dict[str, Any],
                     missing: list[dict[str, Any]]) -> AsyncGenerator[bytes, None]:
    """One stored file into media/<bucket>/<key>, stored as it is (media are compressed
    already). A file that is gone is listed in `missing` instead of an empty member."""
    bucket, key, size = item["bucket"], item["key"], int(item["size_bytes"])
    info = _member(f"media/{bucket}/{key}", compress=False)
    if size == 0:
        zf.writestr(info, b"")
        yield sink.take()
        return
    # Storage.read is typed AsyncIterator; both stores return async generators, which close.
    async with aclosing(storage.read(bucket, key)) as chunks:  # type: ignore[type-var]
        try:
            head = await anext(chunks, b"")  # the member starts only once the file is there
        except ObjectNotFound:
            log.warning("export: %s/%s is missing from the storage", bucket, key)
            missing.append({"media_id": str(item["id"]), "bucket": bucket, "key": key})
            return
        with zf.open(info, "w", force_zip64=size >= ZIP64_THRESHOLD) as member:
            member.write(head)
            async for chunk in chunks:
                member.write(chunk)
                if len(sink.buffer) >= FLUSH_BYTES:
                    yield sink.take()
    yield sink.take()
