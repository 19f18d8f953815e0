"""What only S3Storage has: bucket setup, metadata, presigned URLs."""

from __future__ import annotations

import asyncio
import hashlib
import random
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from studio.storage.base import ObjectTooLarge
from studio.storage.s3 import PART_SIZE, S3Storage

from .conftest import Backend, MotoServer, collect, s3_settings, stream

MiB = 1024 * 1024


def test_ensure_buckets_creates_versioned_buckets_and_is_idempotent(s3_backend: Backend) -> None:
    asyncio.run(s3_backend.storage.ensure_buckets())  # type: ignore[attr-defined]  # second time: no error
    for bucket in ("media", "attachments"):
        name = s3_backend.bucket_name(bucket)
        assert name.endswith("-" + bucket)
        assert s3_backend.s3.get_bucket_versioning(Bucket=name)["Status"] == "Enabled"


def test_sha256_metadata_and_one_version_per_put(s3_backend: Backend) -> None:
    """Small objects get the digest with the PutObject; multipart ones by a copy onto
    themselves after completion, whose leftover first version is removed."""
    small, large = b"small", random.Random(7).randbytes(2 * PART_SIZE + 5)

    async def scenario() -> None:
        await s3_backend.storage.put("media", "u1/small", stream(small), content_type="text/plain", max_bytes=MiB)
        await s3_backend.storage.put("media", "u1/large", stream(large), content_type="video/mp4",
                                     max_bytes=20 * MiB)

    asyncio.run(scenario())
    name = s3_backend.bucket_name("media")
    for key, data, content_type in (("u1/small", small, "text/plain"), ("u1/large", large, "video/mp4")):
        head = s3_backend.s3.head_object(Bucket=name, Key=key)
        assert head["Metadata"] == {"sha256": hashlib.sha256(data).hexdigest()}
        assert head["ContentType"] == content_type
        assert head["ContentLength"] == len(data)
        versions = s3_backend.s3.list_object_versions(Bucket=name, Prefix=key).get("Versions", [])
        assert len(versions) == 1, key


def test_multipart_upload_in_progress_then_aborted(s3_backend: Backend) -> None:
    """Watches the store from outside while the body is still streaming: a part has
    gone up as a multipart upload; once the limit is hit it is gone."""
    raw, name = s3_backend.s3, s3_backend.bucket_name("attachments")
    seen_during_upload: list[str] = []

    async def body() -> object:
        for index in range(12):
            if index == 10:  # 10 MiB yielded: the first 8 MiB part is up
                seen_during_upload.extend(u["Key"] for u in raw.list_multipart_uploads(Bucket=name).get("Uploads", []))
            yield random.Random(index).randbytes(MiB)

    async def scenario() -> None:
        with pytest.raises(ObjectTooLarge):
            await s3_backend.storage.put("attachments", "u1/big", body(), content_type="video/mp4",
                                         max_bytes=11 * MiB)

    asyncio.run(scenario())
    assert seen_during_upload == ["u1/big"]
    assert raw.list_multipart_uploads(Bucket=name).get("Uploads", []) == []
    assert raw.list_objects_v2(Bucket=name).get("KeyCount") == 0


def test_presigned_url_serves_the_bytes_with_the_requested_type(s3_backend: Backend) -> None:
    data = random.Random(8).randbytes(5000)

    async def scenario() -> tuple[str, str]:
        await s3_backend.storage.put("media", "u1/img", stream(data), content_type="application/octet-stream",
                                     max_bytes=MiB)
        typed = await s3_backend.storage.presigned_url("media", "u1/img", expires_in=60, content_type="image/png")
        plain = await s3_backend.storage.presigned_url("media", "u1/img", expires_in=60)
        assert typed is not None and plain is not None
        return typed, plain

    typed, plain = asyncio.run(scenario())
    response = httpx.get(typed, trust_env=False)
    assert response.status_code == 200
    assert response.content == data
    assert response.headers["content-type"] == "image/png"
    assert httpx.get(plain, trust_env=False).headers["content-type"] == "application/octet-stream"


def test_presigned_url_expires_as_asked(s3_backend: Backend) -> None:
    """The expiry is signed into the URL (SigV4 query auth: X-Amz-Date + X-Amz-Expires);
    refusing it afterwards is the store's job. moto_server does not enforce expiry (an
    expired URL still gets 200 there), so this checks what we control: the URL asks
    for exactly `expires_in` seconds from now, and is signed."""
    async def scenario() -> str | None:
        await s3_backend.storage.put("media", "u1/e", stream(b"x"), content_type="text/plain", max_bytes=10)
        return await s3_backend.storage.presigned_url("media", "u1/e", expires_in=1)

    before = time.time()
    url = asyncio.run(scenario())
    assert url is not None
    query = parse_qs(urlsplit(url).query)
    assert query["X-Amz-Expires"] == ["1"]
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert query["X-Amz-Signature"][0]
    signed_at = time.mktime(time.strptime(query["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ")) - time.timezone
    assert before - 2 <= signed_at <= time.time() + 1


def test_missing_bucket_is_a_storage_error_not_a_missing_object(moto_server: MotoServer, tmp_path: Path) -> None:
    from studio.storage.base import ObjectNotFound, StorageError

    storage = S3Storage(s3_settings(moto_server, tmp_path))  # buckets never created

    async def scenario() -> None:
        with pytest.raises(StorageError) as raised:
            await collect(storage.read("media", "u1/x"))
        assert not isinstance(raised.value, ObjectNotFound)
        with pytest.raises(StorageError):
            await storage.put("media", "u1/x", stream(b"x"), content_type="text/plain", max_bytes=10)
        await storage.aclose()

    asyncio.run(scenario())
