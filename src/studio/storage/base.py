"""The storage interface. Two buckets (F17): `media` (generation results; public only
through a share, enforced by the API) and `attachments` (private uploads). Keys start
with the owner's id. Limits are enforced while streaming, on the server, and an object
only becomes visible once it is complete (no half-written files)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Bucket = Literal["media", "attachments"]
BUCKETS: tuple[Bucket, ...] = ("media", "attachments")
CHUNK_SIZE = 64 * 1024


class StorageError(Exception):
    """The store failed (I/O, network); the operation had no effect."""


class ObjectTooLarge(StorageError):
    """More bytes than allowed arrived; nothing was stored."""


class ObjectNotFound(StorageError):
    pass


@dataclass(frozen=True)
class StoredObject:
    bucket: Bucket
    key: str
    size: int
    sha256: str          # hex digest of the content, computed while streaming
    content_type: str


class Storage(ABC):
    async def ensure_buckets(self) -> None:
        """Create the buckets if missing; called once at start-up by the API and workers."""

    @abstractmethod
    async def put(self, bucket: Bucket, key: str, chunks: AsyncIterable[bytes], *, content_type: str,
                  max_bytes: int) -> StoredObject:
        """Stream `chunks` into bucket/key. Raises ObjectTooLarge (and stores nothing) as
        soon as more than max_bytes arrive. Overwrites an existing object atomically."""

    async def put_file(self, bucket: Bucket, key: str, path: Path, *, content_type: str,
                       max_bytes: int) -> StoredObject:
        async def chunks() -> AsyncIterator[bytes]:
            with path.open("rb") as handle:
                while block := handle.read(CHUNK_SIZE):
                    yield block
        return await self.put(bucket, key, chunks(), content_type=content_type, max_bytes=max_bytes)

    @abstractmethod
    async def size(self, bucket: Bucket, key: str) -> int:
        """Raises ObjectNotFound."""

    @abstractmethod
    def read(self, bucket: Bucket, key: str, *, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """The bytes start..end (inclusive; end None = to the last byte), in chunks.
        Raises ObjectNotFound on first iteration if the object does not exist."""

    @abstractmethod
    async def delete(self, bucket: Bucket, key: str) -> None:
        """Idempotent: deleting a missing object is not an error."""

    # Point-in-time recovery of media (F1): a file whose row was deleted is retired, not
    # deleted, for as long as a restore of the database could bring the row back; a
    # restore revives the files its rows need. Erasure (an account deleted) deletes
    # for good, retired copies included.

    async def retire(self, bucket: Bucket, key: str) -> None:
        """Hide the object but keep it for recovery until purged. Stores that cannot
        keep it delete it."""
        await self.delete(bucket, key)

    async def revive(self, bucket: Bucket, key: str) -> bool:
        """Bring a retired object back; True when it is (again) there."""
        try:
            await self.size(bucket, key)
            return True
        except ObjectNotFound:
            return False

    async def erase(self, bucket: Bucket, key: str) -> None:
        """Delete the object and every retained copy of it (privacy erasure)."""
        await self.delete(bucket, key)

    @abstractmethod
    async def erase_prefix(self, bucket: Bucket, prefix: str) -> None:
        """Erase every object whose key starts with `prefix` (a key ending in '/'), live
        or retired, retained copies included: an erased account's files (F20)."""

    async def remove_stale_temp(self, older_than_seconds: float) -> int:
        """Leftovers of interrupted uploads older than that; returns how many. (S3 has
        its own: incomplete multipart uploads are aborted by the upload itself, and a
        bucket lifecycle rule can expire the rest.)"""
        return 0

    async def purge_retired(self, older_than_seconds: float) -> int:
        """Delete retired objects retired longer ago than that; returns how many."""
        return 0

    async def presigned_url(self, bucket: Bucket, key: str, *, expires_in: int,
                            content_type: str | None = None) -> str | None:
        """A short-lived URL for direct download, where the store offers one (S3);
        None for stores that must be streamed through the API (local)."""
        return None

    async def aclose(self) -> None:
        ...
