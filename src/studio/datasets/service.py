"""Datasets' rules: how many a user keeps and how many images each holds, what an image
upload must be (a PNG, JPEG or WebP Pillow can read the size of, within the size limit
and the user's storage quota), that the same file twice is one image, and that a
dataset a training run still needs cannot be deleted."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

from PIL import ImageFile

from studio.auth.identity import Credential, RequestContext
from studio.datasets import repository as repo
from studio.db.scopes import ApiDatabase, UserScope
from studio.http.errors import ApiError, not_found
from studio.media import service as media
from studio.storage.base import Storage

IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/webp"})
MAX_SIDE = 16384  # dataset_images' width and height constraints
# How much of a file may pass before Pillow must know the picture's size (a header
# beyond this is no image a trainer can use).
PROBE_BYTES = 1024 * 1024


def check_image_type(declared: str) -> None:
    if declared not in IMAGE_TYPES:
        raise ApiError(415, "unsupported_media_type",
                       f"dataset images may be one of {', '.join(sorted(IMAGE_TYPES))}")


def image_json(row: dict[str, Any]) -> dict[str, Any]:
    return row | {"url": f"/v1/media/{row['media_id']}"}


async def _own_dataset(tx: UserScope, dataset_id: UUID, *, locked: bool = False) -> dict[str, Any]:
    found = await (repo.lock(tx, dataset_id=dataset_id) if locked else repo.get(tx, dataset_id=dataset_id))
    if found is None:
        raise not_found("dataset")
    return found


async def create(tx: UserScope, *, name: str, description: str | None, max_datasets: int) -> dict[str, Any]:
    await repo.lock_user_datasets(tx)
    if await repo.count_datasets(tx) >= max_datasets:
        raise ApiError(409, "dataset_limit", f"you have {max_datasets} datasets, the most one may keep; "
                                             "delete one to make another")
    return await repo.create(tx, name=name, description=description)


async def get(tx: UserScope, dataset_id: UUID) -> dict[str, Any]:
    return await _own_dataset(tx, dataset_id)


async def update(tx: UserScope, dataset_id: UUID, changes: dict[str, Any]) -> dict[str, Any]:
    if not await repo.update(tx, dataset_id=dataset_id, changes=changes):
        raise not_found("dataset")
    return await _own_dataset(tx, dataset_id)


async def delete(tx: UserScope, dataset_id: UUID) -> None:
    """The dataset, its images and their files (through the storage outbox). Runs that
    finished keep their history; a run still queued or training needs the images: 409."""
    await _own_dataset(tx, dataset_id, locked=True)
    active = await repo.active_training_runs(tx, dataset_id=dataset_id)
    if active:
        raise ApiError(409, "dataset_in_use", "a training run on this dataset has not finished; cancel it "
                                              "or wait for it, then delete the dataset")
    await media.delete_files(tx, await repo.delete(tx, dataset_id=dataset_id))


class _ImageProbe:
    """Feeds an upload's first bytes to Pillow until it knows the picture's size."""

    def __init__(self) -> None:
        self._parser = ImageFile.Parser()
        self._seen = 0
        self.size: tuple[int, int] | None = None

    def feed(self, chunk: bytes) -> None:
        if self.size is not None or self._seen > PROBE_BYTES:
            return
        self._seen += len(chunk)
        try:
            self._parser.feed(chunk)
        except Exception as exc:  # Pillow raises many kinds for a corrupt header
            raise ApiError(415, "unreadable_image", "the file is not an image that can be read") from exc
        if self._parser.image is not None:
            self.size = self._parser.image.size


async def add_image(db: ApiDatabase, ctx: RequestContext, cred: Credential, storage: Storage, *,
                    dataset_id: UUID, declared: str, caption: str | None, chunks: AsyncIterator[bytes],
                    max_bytes: int, max_images: int) -> tuple[dict[str, Any], bool]:
    """Streams one image into the dataset: (the image, whether it was a duplicate).

    No transaction is open while the bytes stream: the dataset is checked (404) before
    the first byte; its room and the storage quota under its row lock when the file is
    recorded. A duplicate is checked first, so a retried upload of a file the dataset
    has is answered even when it is full. A file not recorded is deleted again."""
    check_image_type(declared)
    async with db.as_user(cred, ctx) as tx:
        await _own_dataset(tx, dataset_id)
        owner = tx.user.id
    media_id = uuid.uuid4()
    key = f"{owner}/datasets/{dataset_id}/{media_id}"
    probe = _ImageProbe()

    async def probed() -> AsyncIterator[bytes]:
        async for chunk in chunks:
            probe.feed(chunk)
            yield chunk

    stored = await media.store_checked(storage, key=key, declared=declared, chunks=probed(), max_bytes=max_bytes)
    recorded = False
    try:
        if probe.size is None:
            raise ApiError(415, "unreadable_image", "the file is not an image that can be read")
        width, height = probe.size
        if not (1 <= width <= MAX_SIDE and 1 <= height <= MAX_SIDE):
            raise ApiError(422, "image_too_large", f"images may be at most {MAX_SIDE} pixels on a side; "
                                                   f"this one is {width}x{height}")
        async with db.as_user(cred, ctx) as tx:
            locked = await _own_dataset(tx, dataset_id, locked=True)
            existing = await repo.image_by_checksum(tx, dataset_id=dataset_id, sha256=stored.sha256)
            if existing is not None:
                return image_json(existing), True
            _check_room(locked["image_count"], max_images)
            await media.check_storage_quota(tx, adding=stored.size)
            await media.record_file(tx, media_id=media_id, key=key, stored=stored)
            # The row lock makes a same-file race impossible here; the unique index
            # (dataset, checksum) is the guarantee should that ever change.
            image = await repo.add_image(tx, dataset_id=dataset_id, media_id=media_id, caption=caption,
                                         width=width, height=height, sha256=stored.sha256)
            assert image is not None
            await repo.recount(tx, dataset_id=dataset_id)
        # Set only once the transaction has committed: a failed commit leaves no row
        # pointing at the file, so the file goes too.
        recorded = True
        return image_json(image), False
    finally:
        if not recorded:
            await storage.delete("attachments", key)


def _check_room(image_count: int, max_images: int) -> None:
    if image_count >= max_images:
        raise ApiError(409, "dataset_full", f"a dataset holds at most {max_images} images")


async def set_captions(tx: UserScope, dataset_id: UUID, captions: list[tuple[UUID, str | None]]) -> int:
    """All or nothing: 422 (and no change) when any image is not in the dataset."""
    await _own_dataset(tx, dataset_id, locked=True)
    cleaned = [(image_id, clean_caption(caption)) for image_id, caption in captions]
    updated = await repo.set_captions(tx, dataset_id=dataset_id, captions=cleaned)
    if updated != len(captions):
        # The request's transaction rolls back: nothing changed.
        raise ApiError(422, "validation_error", "items: an image is not in this dataset")
    return updated


async def delete_image(tx: UserScope, dataset_id: UUID, image_id: UUID) -> None:
    await _own_dataset(tx, dataset_id, locked=True)
    media_id = await repo.delete_image(tx, dataset_id=dataset_id, image_id=image_id)
    if media_id is None:
        raise not_found("image")
    await media.delete_files(tx, [media_id])
    await repo.recount(tx, dataset_id=dataset_id)


def clean_caption(caption: str | None) -> str | None:
    """Surrounding blanks dropped; an empty caption is no caption."""
    if caption is None:
        return None
    return caption.strip() or None
