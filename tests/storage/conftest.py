"""Both storage backends behind one fixture: LocalStorage on a temporary directory, and
S3Storage against a real `moto_server` process (the S3 protocol over HTTP), started
once per session on a free local port and stopped at the end, also on failure.

Each test gets buckets of its own (a fresh prefix), so tests never see each other's
objects although they share the server."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config

from studio.config import Settings
from studio.storage.base import Bucket, Storage
from studio.storage.local import TEMP_PREFIX, LocalStorage
from studio.storage.s3 import S3Storage

MOTO_START_SECONDS = 30
ACCESS_KEY = "testing"   # moto accepts any credentials
SECRET_KEY = "testing"


@dataclass
class MotoServer:
    url: str

    @cached_property  # one per session: building a client costs ~0.1 s
    def client(self) -> Any:
        """A plain boto3 client for looking at the store from outside our code."""
        return boto3.session.Session().client(
            "s3", endpoint_url=self.url, region_name="us-east-1", aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY, config=Config(s3={"addressing_style": "path"}))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    executable = Path(sys.executable).with_name("moto_server")
    command = str(executable) if executable.exists() else shutil.which("moto_server")
    if command is None:
        pytest.fail("moto_server not found; install the test extra: pip install -e '.[test]'")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = tmp_path_factory.mktemp("moto") / "moto_server.log"
    with log_path.open("wb") as log:  # a file, not a pipe: moto logs every request
        process = subprocess.Popen([command, "-H", "127.0.0.1", "-p", str(port)],
                                   stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + MOTO_START_SECONDS
        while True:
            if process.poll() is not None:
                pytest.fail(f"moto_server exited with {process.returncode}:\n{log_path.read_text()[-2000:]}")
            try:
                httpx.get(url + "/moto-api/", timeout=1, trust_env=False)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    pytest.fail(f"moto_server did not answer within {MOTO_START_SECONDS} s")
                time.sleep(0.05)
        yield MotoServer(url)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


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
    values: dict[str, Any] = {"env": "test", "home": home, "storage_backend": "s3", "s3_endpoint_url": server.url,
                              "s3_access_key_id": ACCESS_KEY, "s3_secret_access_key": SECRET_KEY,
                              "s3_bucket_prefix": f"t{uuid.uuid4().hex[:12]}-"}
    values.update(overrides)
    return Settings(**values)


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
