"""The behaviour every backend shares, run against LocalStorage and S3Storage alike."""

from __future__ import annotations

import asyncio
import hashlib
import random
from pathlib import Path

import pytest

from studio.storage.base import CHUNK_SIZE, ObjectNotFound, ObjectTooLarge, StoredObject
from studio.storage.s3 import PART_SIZE

from .conftest import Backend, blocks, collect, stream

MiB = 1024 * 1024


def payload(size: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(size)


def test_round_trip(backend: Backend) -> None:
    storage = backend.storage
    data = b"hello, studio"

    async def scenario() -> None:
        stored = await storage.put("media", "u1/hello.txt", stream(data), content_type="text/plain",
                                   max_bytes=1000)
        assert stored == StoredObject(bucket="media", key="u1/hello.txt", size=len(data),
                                      sha256=hashlib.sha256(data).hexdigest(), content_type="text/plain")
        assert await storage.size("media", "u1/hello.txt") == len(data)
        assert await collect(storage.read("media", "u1/hello.txt")) == data

    asyncio.run(scenario())


def test_empty_object(backend: Backend) -> None:
    storage = backend.storage

    async def scenario() -> None:
        stored = await storage.put("attachments", "u1/empty", blocks([]), content_type="text/plain", max_bytes=10)
        assert (stored.size, stored.sha256) == (0, hashlib.sha256(b"").hexdigest())
        assert await storage.size("attachments", "u1/empty") == 0
        assert await collect(storage.read("attachments", "u1/empty")) == b""

    asyncio.run(scenario())


def test_large_object_spans_several_parts(backend: Backend) -> None:
    """17 MiB is three S3 parts (8 + 8 + 1 MiB). Chunks of an odd size make part
    boundaries fall inside chunks."""
    storage = backend.storage
    data = payload(17 * MiB)
    assert len(data) > 2 * PART_SIZE

    async def scenario() -> None:
        stored = await storage.put("media", "u1/big.bin", stream(data, 100_003),
                                   content_type="application/octet-stream", max_bytes=20 * MiB)
        assert (stored.size, stored.sha256) == (len(data), hashlib.sha256(data).hexdigest())
        assert await storage.size("media", "u1/big.bin") == len(data)
        chunks = [chunk async for chunk in storage.read("media", "u1/big.bin")]
        assert max(len(chunk) for chunk in chunks) <= CHUNK_SIZE
        assert hashlib.sha256(b"".join(chunks)).hexdigest() == stored.sha256

    asyncio.run(scenario())


def test_put_file(backend: Backend, tmp_path: Path) -> None:
    source = tmp_path / "upload.bin"
    source.write_bytes(payload(200_000, seed=1))

    async def scenario() -> None:
        stored = await backend.storage.put_file("attachments", "u1/upload.bin", source,
                                                content_type="application/pdf", max_bytes=1 * MiB)
        assert stored.sha256 == hashlib.sha256(source.read_bytes()).hexdigest()
        assert await collect(backend.storage.read("attachments", "u1/upload.bin")) == source.read_bytes()

    asyncio.run(scenario())


# Ranges are inclusive, like HTTP's. An end past the last byte is clamped to it (as an
# HTTP Range is); a start at or past the size is refused with ValueError; so are a
# negative start and an end before the start, the latter two already when read() is called.
DATA = payload(200_000, seed=2)  # several CHUNK_SIZE chunks


@pytest.mark.parametrize(("start", "end", "expected"), [
    (0, 0, DATA[:1]),                          # first byte
    (1_000, 70_000, DATA[1_000:70_001]),       # middle, across a chunk boundary
    (150_000, None, DATA[150_000:]),           # suffix to the end
    (199_999, None, DATA[-1:]),                # last byte
    (199_990, 10**9, DATA[199_990:]),          # end beyond the size: clamped
    (0, None, DATA),                           # the default: everything
])
def test_read_range(backend: Backend, start: int, end: int | None, expected: bytes) -> None:
    async def scenario() -> bytes:
        await backend.storage.put("media", "u1/r", stream(DATA), content_type="application/octet-stream",
                                  max_bytes=len(DATA))
        return await collect(backend.storage.read("media", "u1/r", start=start, end=end))

    assert asyncio.run(scenario()) == expected


@pytest.mark.parametrize(("start", "end"), [(200_000, None), (200_005, 300_000), (0, 0)])
def test_read_range_not_satisfiable(backend: Backend, start: int, end: int | None) -> None:
    """(0, 0) is asked of an empty object: not even the first byte exists."""
    data = DATA if start else b""

    async def scenario() -> None:
        await backend.storage.put("media", "u1/r", stream(data), content_type="application/octet-stream",
                                  max_bytes=len(DATA))
        with pytest.raises(ValueError, match="not satisfiable"):
            await collect(backend.storage.read("media", "u1/r", start=start, end=end))

    asyncio.run(scenario())


@pytest.mark.parametrize(("start", "end"), [(-1, None), (10, 9)])
def test_read_range_invalid_arguments(backend: Backend, start: int, end: int | None) -> None:
    with pytest.raises(ValueError):
        backend.storage.read("media", "u1/r", start=start, end=end)


@pytest.mark.parametrize("yielded_before_limit", [1_000, 9 * MiB])
def test_too_large_stops_streaming_and_stores_nothing(backend: Backend, yielded_before_limit: int) -> None:
    """Small: refused before anything was sent. Large: refused after S3 received a part,
    so the multipart upload has to be aborted. The source never ends: put must stop
    reading it by itself."""
    storage = backend.storage
    max_bytes = yielded_before_limit + 10
    block = payload(256 * 1024, seed=3)
    yielded = 0

    async def endless() -> object:
        nonlocal yielded
        while True:
            yielded += len(block)
            yield block

    async def scenario() -> None:
        with pytest.raises(ObjectTooLarge):
            await storage.put("attachments", "u1/huge", endless(), content_type="video/mp4", max_bytes=max_bytes)
        with pytest.raises(ObjectNotFound):
            await storage.size("attachments", "u1/huge")

    asyncio.run(scenario())
    assert yielded <= max_bytes + len(block)
    assert backend.leftovers("attachments") == []


def test_failing_source_stores_nothing(backend: Backend) -> None:
    """Any error, not only ObjectTooLarge, aborts the put; the source's exception comes
    through unchanged."""
    async def failing() -> object:
        for _ in range(10):  # 10 MiB: more than one part
            yield payload(MiB)
        raise ConnectionResetError("client went away")

    async def scenario() -> None:
        with pytest.raises(ConnectionResetError):
            await backend.storage.put("media", "u1/cut", failing(), content_type="video/mp4", max_bytes=100 * MiB)
        with pytest.raises(ObjectNotFound):
            await backend.storage.size("media", "u1/cut")

    asyncio.run(scenario())
    assert backend.leftovers("media") == []


def test_overwrite_replaces_whole_object_and_failed_overwrite_keeps_it(backend: Backend) -> None:
    storage = backend.storage
    first, second = payload(100_000, seed=4), payload(30_000, seed=5)

    async def scenario() -> None:
        await storage.put("media", "u1/o", stream(first), content_type="image/png", max_bytes=MiB)
        await storage.put("media", "u1/o", stream(second), content_type="image/png", max_bytes=MiB)
        assert await storage.size("media", "u1/o") == len(second)
        assert await collect(storage.read("media", "u1/o")) == second
        with pytest.raises(ObjectTooLarge):
            await storage.put("media", "u1/o", stream(first), content_type="image/png", max_bytes=50_000)
        assert await collect(storage.read("media", "u1/o")) == second

    asyncio.run(scenario())
    assert backend.leftovers("media") == []


def test_concurrent_puts_leave_one_complete_object(backend: Backend) -> None:
    contents = [payload(300_000, seed=seed) for seed in range(4)]

    async def scenario() -> bytes:
        await asyncio.gather(*(backend.storage.put("media", "u1/race", stream(data, 10_000),
                                                   content_type="image/png", max_bytes=MiB)
                               for data in contents))
        return await collect(backend.storage.read("media", "u1/race"))

    assert asyncio.run(scenario()) in contents


def test_delete_is_idempotent(backend: Backend) -> None:
    storage = backend.storage

    async def scenario() -> None:
        await storage.put("media", "u1/d", stream(b"x"), content_type="text/plain", max_bytes=10)
        await storage.delete("media", "u1/d")
        await storage.delete("media", "u1/d")
        await storage.delete("media", "u1/never-existed")
        with pytest.raises(ObjectNotFound):
            await storage.size("media", "u1/d")

    asyncio.run(scenario())


def test_missing_object(backend: Backend) -> None:
    async def scenario() -> None:
        with pytest.raises(ObjectNotFound):
            await backend.storage.size("media", "u1/missing")
        reader = backend.storage.read("media", "u1/missing")  # raises on first iteration only
        with pytest.raises(ObjectNotFound):
            await collect(reader)
        with pytest.raises(ObjectNotFound):
            await collect(backend.storage.read("media", "u1/missing", start=5, end=10))

    asyncio.run(scenario())


def test_buckets_are_separate(backend: Backend) -> None:
    async def scenario() -> None:
        await backend.storage.put("media", "u1/same", stream(b"m"), content_type="text/plain", max_bytes=10)
        with pytest.raises(ObjectNotFound):
            await backend.storage.size("attachments", "u1/same")
        with pytest.raises(ValueError, match="unknown bucket"):
            await backend.storage.size("other", "u1/same")  # type: ignore[arg-type]

    asyncio.run(scenario())


@pytest.mark.parametrize("key", ["../x", "/abs", "a/../../b", "a\\b", "a/./b", "a//b", "", "a/", ".hidden",
                                 "nul\x00byte", "k" * 1025])
def test_invalid_keys_rejected_by_every_backend(backend: Backend, key: str) -> None:
    """The same rules everywhere, so a key never works in development and fails in production."""
    storage = backend.storage

    async def scenario() -> None:
        with pytest.raises(ValueError):
            await storage.put("media", key, stream(b"x"), content_type="text/plain", max_bytes=10)
        with pytest.raises(ValueError):
            await storage.size("media", key)
        with pytest.raises(ValueError):
            storage.read("media", key)
        with pytest.raises(ValueError):
            await storage.delete("media", key)
        with pytest.raises(ValueError):
            await storage.presigned_url("media", key, expires_in=60)

    asyncio.run(scenario())


def test_erase_prefix_leaves_nothing_under_the_prefix(backend: Backend) -> None:
    """An erased account (F20): every object under its prefix goes, live, retired or an
    older version, and nothing under any other prefix."""
    storage = backend.storage
    gone = ("u1/a", "u1/deep/b", "u1/retired/c")

    async def scenario() -> None:
        for key in (*gone, "u10/other", "u2/d"):
            await storage.put("media", key, stream(b"x"), content_type="text/plain", max_bytes=100)
        await storage.put("media", "u1/a", stream(b"second version"), content_type="text/plain", max_bytes=100)
        await storage.retire("media", "u1/retired/c")
        await storage.put("attachments", "u1/e", stream(b"y"), content_type="text/plain", max_bytes=100)

        await storage.erase_prefix("media", "u1/")
        await storage.erase_prefix("media", "u1/")  # idempotent
        for key in gone:
            with pytest.raises(ObjectNotFound):
                await storage.size("media", key)
            assert not await storage.revive("media", key)
        assert await storage.size("media", "u10/other") == 1
        assert await storage.size("media", "u2/d") == 1
        assert await storage.size("attachments", "u1/e") == 1  # another bucket
        for prefix in ("u1", "../", "/", "a//"):
            with pytest.raises(ValueError):
                await storage.erase_prefix("media", prefix)

    asyncio.run(scenario())
    if backend.root is not None:
        paths = [p.relative_to(backend.root).parts for p in backend.root.rglob("*")]
        assert [p for p in paths if "u1" in p[:3] and p[0] != "attachments"] == []
    else:
        listing = backend.s3.list_object_versions(Bucket=backend.bucket_name("media"), Prefix="u1/")
        assert listing.get("Versions", []) == [] and listing.get("DeleteMarkers", []) == []


def test_retire_and_revive_leave_no_empty_directories(local_backend: Backend) -> None:
    """Directories are named after owners and generations: none outlives its files."""
    storage, root = local_backend.storage, local_backend.root
    assert root is not None

    async def scenario() -> None:
        await storage.put("media", "u1/g1/file.wav", stream(b"x"), content_type="audio/wav", max_bytes=10)
        await storage.retire("media", "u1/g1/file.wav")
        assert not (root / "media" / "u1").exists()
        assert await storage.revive("media", "u1/g1/file.wav")
        assert not (root / ".retired" / "media" / "u1").exists()

    asyncio.run(scenario())
