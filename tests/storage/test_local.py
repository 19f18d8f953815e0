"""What only LocalStorage has: paths on disk, permissions, directory housekeeping."""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path

import pytest

from studio.storage.base import StorageError
from studio.storage.local import LocalStorage

from .conftest import Backend, collect, stream


def tree(path: Path) -> set[str]:
    return {str(p.relative_to(path)) for p in path.rglob("*")}


@pytest.mark.parametrize("key", ["../x", "/abs", "a/../../b", "a\\b", "../../outside/x", "/tmp/x"])
def test_path_traversal_is_refused_and_writes_nothing_outside(local_backend: Backend, tmp_path: Path,
                                                              key: str) -> None:
    storage = local_backend.storage

    async def scenario() -> None:
        with pytest.raises(ValueError):
            await storage.put("media", key, stream(b"evil"), content_type="text/plain", max_bytes=10)
        with pytest.raises(ValueError):
            await storage.delete("media", key)

    asyncio.run(scenario())
    assert {p for p in tree(tmp_path) if not p.startswith("storage")} == set()


def test_symlink_out_of_the_bucket_is_refused(local_backend: Backend, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    asyncio.run(local_backend.storage.ensure_buckets())  # type: ignore[attr-defined]
    (local_backend.root / "media" / "link").symlink_to(outside)  # type: ignore[operator]

    async def scenario() -> None:
        with pytest.raises(ValueError, match="outside"):
            await local_backend.storage.put("media", "link/x", stream(b"evil"), content_type="text/plain",
                                            max_bytes=10)

    asyncio.run(scenario())
    assert list(outside.iterdir()) == []


def test_files_are_0600_and_directories_0700_whatever_the_umask(local_backend: Backend) -> None:
    root = local_backend.root
    assert root is not None
    previous = os.umask(0)  # would make plain mkdir/open 0777/0666
    try:
        asyncio.run(local_backend.storage.put("attachments", "u1/sub/file.pdf", stream(b"%PDF"),
                                              content_type="application/pdf", max_bytes=10))
    finally:
        os.umask(previous)
    for directory in (root, root / "attachments", root / "attachments/u1", root / "attachments/u1/sub"):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700, directory
    assert stat.S_IMODE((root / "attachments/u1/sub/file.pdf").stat().st_mode) == 0o600


def test_object_is_the_file_at_root_bucket_key(local_backend: Backend) -> None:
    asyncio.run(local_backend.storage.put("media", "u1/a.txt", stream(b"abc"), content_type="text/plain",
                                          max_bytes=10))
    assert (local_backend.root / "media/u1/a.txt").read_bytes() == b"abc"  # type: ignore[operator]


def test_delete_removes_emptied_directories_up_to_the_bucket(local_backend: Backend) -> None:
    storage = local_backend.storage
    bucket_dir = local_backend.root / "media"  # type: ignore[operator]

    async def scenario() -> None:
        for key in ("u1/keep.txt", "u1/a/b/c.txt", "u2/only.txt"):
            await storage.put("media", key, stream(b"x"), content_type="text/plain", max_bytes=10)
        await storage.delete("media", "u1/a/b/c.txt")
        await storage.delete("media", "u2/only.txt")

    asyncio.run(scenario())
    assert tree(bucket_dir) == {"u1", "u1/keep.txt"}


def test_key_that_is_a_prefix_of_another_is_an_error_not_a_mess(local_backend: Backend) -> None:
    """A file cannot also be a directory: unlike S3, "a" and "a/b" cannot both exist.
    Keys start with an owner id and end in a file name, so this never happens in use;
    if it does, the put fails cleanly."""
    storage = local_backend.storage

    async def scenario() -> None:
        await storage.put("media", "u1/a", stream(b"file"), content_type="text/plain", max_bytes=10)
        await storage.put("media", "u1/d/b", stream(b"file"), content_type="text/plain", max_bytes=10)
        with pytest.raises(StorageError):
            await storage.put("media", "u1/a/b", stream(b"x"), content_type="text/plain", max_bytes=10)
        with pytest.raises(StorageError):
            await storage.put("media", "u1/d", stream(b"x"), content_type="text/plain", max_bytes=10)
        assert await collect(storage.read("media", "u1/a")) == b"file"
        await storage.delete("media", "u1/d")  # a prefix, not an object: nothing to delete
        assert await collect(storage.read("media", "u1/d/b")) == b"file"

    asyncio.run(scenario())
    assert local_backend.leftovers("media") == []


def test_no_presigned_urls(local_backend: Backend) -> None:
    assert asyncio.run(local_backend.storage.presigned_url("media", "u1/a", expires_in=60)) is None


def test_relative_root_is_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert LocalStorage(Path("store")).root == tmp_path.resolve() / "store"
