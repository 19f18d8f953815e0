"""Both storage backends behind one fixture: LocalStorage on a temporary directory, and
S3Storage against the session's real `moto_server` process (tests/conftest.py).

Each test gets buckets of its own (a fresh prefix), so tests never see each other's
objects although they share the server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from studio.config import Settings
from studio.storage.base import Bucket, Storage
from studio.storage.local import TEMP_PREFIX, LocalStorage
from studio.storage.s3 import S3Storage
from tests.conftest import MotoServer


@dataclass
class Backend:
    """A storage under test plus a view of its store that does not go through it."""

    kind: str
    storage: Storage
    root: Path | None = None      # local
    s3: Any = None                # S3: a raw boto3 client on the same server

    def bucket_name(self, bucket: Bucket) -> str:
        assert isinstance(self.storage, S3Storage)
        return self.storage.bucket_name(bucket)

    def leftovers(self, bucket: Bucket) -> list[str]:
        """What an interrupted put could leave behind: temp files, or unfinished
        multipart uploads."""
        if self.root is not None:
            return [str(path) for path in (self.root / bucket).rglob(TEMP_PREFIX + "*")]
        uploads = self.s3.list_multipart_uploads(Bucket=self.bucket_name(bucket)).get("Uploads", [])
        return [upload["Key"] for upload in uploads]


def s3_settings(server: MotoServer, home: Path, **overrides: Any) -> Settings:
    return Settings(**{"env": "test", "home": home, **server.storage_settings(), **overrides})


@pytest.fixture
def local_backend(tmp_path: Path) -> Backend:
    root = tmp_path / "storage"
    return Backend("local", LocalStorage(root), root=root)


@pytest.fixture
def s3_backend(moto_server: MotoServer, tmp_path: Path) -> Iterator[Backend]:
    storage = S3Storage(s3_settings(moto_server, tmp_path))
    asyncio.run(storage.ensure_buckets())
    yield Backend("s3", storage, s3=moto_server.client)
    asyncio.run(storage.aclose())


@pytest.fixture(params=["local", "s3"])
def backend(request: pytest.FixtureRequest) -> Backend:
    return request.getfixturevalue(f"{request.param}_backend")


# Helpers shared by the test modules.

async def stream(data: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    for offset in range(0, len(data), size):
        yield data[offset:offset + size]


async def blocks(items: Iterable[bytes]) -> AsyncIterator[bytes]:
    for item in items:
        yield item


async def collect(chunks: AsyncIterator[bytes]) -> bytes:
    return b"".join([chunk async for chunk in chunks])
