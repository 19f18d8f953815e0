"""S3-compatible storage (AWS, MinIO, Ceph RGW, R2, ...): bucket <prefix><bucket>.

`put` streams: the body goes up in parts of PART_SIZE as it arrives (multipart upload),
or as one PutObject when it fits in the first part, so memory stays at about one part
per upload. The object becomes visible only when the upload completes; on any failure
the multipart upload is aborted, so nothing is left behind.

boto3 is synchronous; every call runs on a worker thread (asyncio.to_thread).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
from collections.abc import AsyncIterable, AsyncIterator, Callable
from typing import Any, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from studio.config import Settings
from studio.storage.base import (
    BUCKETS,
    CHUNK_SIZE,
    Bucket,
    ObjectNotFound,
    ObjectTooLarge,
    Storage,
    StorageError,
    StoredObject,
)
from studio.storage.local import check_bucket, check_key, check_prefix, check_range

__all__ = ["S3Storage"]

log = logging.getLogger(__name__)

PART_SIZE = 8 * 1024 * 1024
DELETE_BATCH = 1000                     # S3's limit per DeleteObjects request
MAX_PARTS = 10_000                      # S3's limit per multipart upload
COPY_OBJECT_LIMIT = 5 * 1024 ** 3       # the largest object a single CopyObject can copy
SHA256_METADATA = "sha256"              # x-amz-meta-sha256
_NOT_FOUND = {"NoSuchKey", "NotFound", "404"}  # HEAD errors carry only the status code
_NO_BUCKET = {"NoSuchBucket", "NotFound", "404"}

T = TypeVar("T")


class S3Storage(Storage):
    def __init__(self, settings: Settings) -> None:
        self.prefix = settings.s3_bucket_prefix
        self.region = settings.s3_region
        # Days a deleted object's old version is kept (point-in-time recovery of media).
        self.recovery_days = math.ceil(settings.media_recovery_seconds / 86400)
        options: dict[str, Any] = {
            "connect_timeout": 10,
            "read_timeout": 60,
            "retries": {"max_attempts": 3, "mode": "standard"},
            # botocore would presign with SigV2, which newer regions and many stores refuse.
            "signature_version": "s3v4",
            # Room for every thread of asyncio's default executor, so none waits for a connection.
            "max_pool_connections": 32,
        }
        if settings.s3_endpoint_url:
            # Self-hosted stores rarely have wildcard DNS for virtual-host buckets.
            options["s3"] = {"addressing_style": "path"}
        if "request_checksum_calculation" in Config.OPTION_DEFAULTS:
            # botocore >= 1.36 adds CRC checksums to every upload by default, which several
            # S3-compatible stores reject; send them only where the API requires them.
            options["request_checksum_calculation"] = "when_required"
            options["response_checksum_validation"] = "when_required"
        # A session of our own: boto3's default session is not safe to share between threads.
        self._client = boto3.session.Session().client(
            "s3",
            endpoint_url=settings.s3_endpoint_url,
            region_name=settings.s3_region,
            aws_access_key_id=_secret(settings.s3_access_key_id),
            aws_secret_access_key=_secret(settings.s3_secret_access_key),
            config=Config(**options),
        )

    def bucket_name(self, bucket: Bucket) -> str:
        check_bucket(bucket)
        return self.prefix + bucket

    async def ensure_buckets(self) -> None:
        """Create the buckets that are missing and turn versioning on (the backup story
        relies on it) where it has never been configured. A store without versioning
        only gets a warning."""
        for bucket in BUCKETS:
            await self._call(self._ensure_bucket, self.bucket_name(bucket))

    def _ensure_bucket(self, name: str) -> None:
        try:
            self._client.head_bucket(Bucket=name)
        except ClientError as exc:
            if _code(exc) not in _NO_BUCKET:
                raise
            extra = {}
            if self.region != "us-east-1":  # AWS refuses an explicit us-east-1 constraint
                extra["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
            try:
                self._client.create_bucket(Bucket=name, **extra)
            except ClientError as exc2:
                if _code(exc2) != "BucketAlreadyOwnedByYou":  # a concurrent start made it
                    raise
            log.info("created bucket %s", name)
        try:
            status = self._client.get_bucket_versioning(Bucket=name).get("Status")
            if status is None:  # never configured; "Suspended" is an operator's choice
                self._client.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
            elif status != "Enabled":
                log.warning("versioning of bucket %s is %s; old versions will not be kept", name, status)
        except ClientError as exc:
            log.warning("bucket %s: versioning not available (%s); old versions will not be kept",
                        name, _code(exc))
            return
        if self.recovery_days:
            try:
                self._client.get_bucket_lifecycle_configuration(Bucket=name)
                return  # the operator's own rules stay
            except ClientError as exc:
                if _code(exc) != "NoSuchLifecycleConfiguration":
                    log.warning("bucket %s: lifecycle rules not readable (%s)", name, _code(exc))
                    return
            self._client.put_bucket_lifecycle_configuration(Bucket=name, LifecycleConfiguration={"Rules": [{
                "ID": "studio-expire-retired-versions", "Status": "Enabled", "Filter": {"Prefix": ""},
                "NoncurrentVersionExpiration": {"NoncurrentDays": self.recovery_days}}]})

    async def put(self, bucket: Bucket, key: str, chunks: AsyncIterable[bytes], *, content_type: str,
                  max_bytes: int) -> StoredObject:
        check_key(key)
        name = self.bucket_name(bucket)
        # Larger parts only when max_bytes could not fit in S3's 10,000 parts otherwise.
        part_size = max(PART_SIZE, -(-max_bytes // MAX_PARTS))
        hasher = hashlib.sha256()
        size = 0
        buffer = bytearray()
        upload_id: str | None = None
        parts: list[dict[str, Any]] = []

        async def send_part(data: bytes) -> None:
            number = len(parts) + 1
            response = await self._call(self._client.upload_part, Bucket=name, Key=key, UploadId=upload_id,
                                        PartNumber=number, Body=data)
            parts.append({"PartNumber": number, "ETag": response["ETag"]})

        try:
            async for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise ObjectTooLarge(f"{bucket}/{key}: more than {max_bytes} bytes")
                hasher.update(chunk)
                buffer += chunk
                # Strictly more than a part: a body of exactly one part stays a single
                # PutObject, and the last part is never empty. Parts are all exactly
                # part_size (R2, for one, requires equal sizes for all but the last).
                while len(buffer) > part_size:
                    if upload_id is None:
                        created = await self._call(self._client.create_multipart_upload, Bucket=name, Key=key,
                                                   ContentType=content_type)
                        upload_id = created["UploadId"]
                    await send_part(bytes(buffer[:part_size]))
                    del buffer[:part_size]
            digest = hasher.hexdigest()
            if upload_id is None:
                await self._call(self._client.put_object, Bucket=name, Key=key, Body=bytes(buffer),
                                 ContentType=content_type, Metadata={SHA256_METADATA: digest})
            else:
                await send_part(bytes(buffer))
                done = await self._call(self._client.complete_multipart_upload, Bucket=name, Key=key,
                                        UploadId=upload_id, MultipartUpload={"Parts": parts})
                upload_id = None  # complete: nothing left to abort
                await self._attach_sha256(name, key, content_type, digest, size, done.get("VersionId"))
        except BaseException:
            if upload_id is not None:
                # Shielded: a second cancellation must not leave the parts behind.
                await asyncio.shield(self._abort(name, key, upload_id))
            raise
        return StoredObject(bucket=bucket, key=key, size=size, sha256=digest, content_type=content_type)

    async def _abort(self, name: str, key: str, upload_id: str) -> None:
        try:
            await self._call(self._client.abort_multipart_upload, Bucket=name, Key=key, UploadId=upload_id)
        except StorageError as exc:  # must not mask the error that made us abort
            log.warning("could not abort multipart upload of %s/%s (%s); a lifecycle rule "
                        "(AbortIncompleteMultipartUpload) will have to clean it up", name, key, exc)

    async def _attach_sha256(self, name: str, key: str, content_type: str, digest: str, size: int,
                             version_id: str | None) -> None:
        """Metadata is fixed when a multipart upload starts, before the digest is known, so
        it is added afterwards by copying the object onto itself (server-side, no data
        through us). The content is already stored and correct, so a failure here only
        costs the metadata: it is logged, not raised."""
        if size > COPY_OBJECT_LIMIT:
            log.warning("%s/%s: too large for CopyObject; stored without sha256 metadata", name, key)
            return
        versioned = version_id not in (None, "null")
        source: dict[str, str | None] = {"Bucket": name, "Key": key}
        if versioned:
            source["VersionId"] = version_id  # ours, even if another put has completed since
        try:
            await self._call(self._client.copy_object, Bucket=name, Key=key, CopySource=source,
                             MetadataDirective="REPLACE", ContentType=content_type,
                             Metadata={SHA256_METADATA: digest})
            if versioned:
                # The copy is a new version; drop the identical one without metadata so
                # one put leaves one version.
                await self._call(self._client.delete_object, Bucket=name, Key=key, VersionId=version_id)
        except StorageError as exc:
            log.warning("%s/%s: could not add sha256 metadata (%s)", name, key, exc)

    async def size(self, bucket: Bucket, key: str) -> int:
        check_key(key)
        response = await self._call(self._client.head_object, Bucket=self.bucket_name(bucket), Key=key)
        return int(response["ContentLength"])

    def read(self, bucket: Bucket, key: str, *, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        # Arguments are checked now; the object itself on first iteration.
        check_key(key)
        check_range(start, end)
        return self._read(self.bucket_name(bucket), key, start, end)

    async def _read(self, name: str, key: str, start: int, end: int | None) -> AsyncIterator[bytes]:
        extra = {}
        # No Range for a whole object: S3 answers 416 to any Range on an empty object.
        # Otherwise the store clamps an end past the last byte and refuses a start at or
        # beyond the size (InvalidRange -> ValueError), as LocalStorage does.
        if start or end is not None:
            extra["Range"] = f"bytes={start}-{'' if end is None else end}"
        response = await self._call(self._client.get_object, Bucket=name, Key=key, **extra)
        body = response["Body"]
        try:
            while block := await self._call(body.read, CHUNK_SIZE):
                yield block
        finally:
            body.close()  # returns the connection, or drops it if the body was not read to the end

    async def delete(self, bucket: Bucket, key: str) -> None:
        # S3 answers a delete of a missing key with success. In a versioned bucket this
        # adds a delete marker; the older versions stay for backups.
        check_key(key)
        await self._call(self._client.delete_object, Bucket=self.bucket_name(bucket), Key=key)

    # Versioned buckets do the retiring: a delete leaves the object as a noncurrent
    # version behind a delete marker; revive removes the marker; the bucket's lifecycle
    # rule (set by ensure_buckets) expires noncurrent versions after the recovery window.

    async def revive(self, bucket: Bucket, key: str) -> bool:
        check_key(key)
        return await self._call(self._revive, self.bucket_name(bucket), key)

    def _revive(self, name: str, key: str) -> bool:
        listing = self._client.list_object_versions(Bucket=name, Prefix=key)
        markers = [m for m in listing.get("DeleteMarkers", []) if m["Key"] == key and m.get("IsLatest")]
        for marker in markers:
            self._client.delete_object(Bucket=name, Key=key, VersionId=marker["VersionId"])
        if markers:
            return True
        return any(v["Key"] == key and v.get("IsLatest") for v in listing.get("Versions", []))

    async def erase(self, bucket: Bucket, key: str) -> None:
        check_key(key)
        await self._call(self._erase, self.bucket_name(bucket), key)

    def _erase(self, name: str, key: str) -> None:
        listing = self._client.list_object_versions(Bucket=name, Prefix=key)
        for entry in [*listing.get("Versions", []), *listing.get("DeleteMarkers", [])]:
            if entry["Key"] == key:
                self._client.delete_object(Bucket=name, Key=key, VersionId=entry["VersionId"])
        self._client.delete_object(Bucket=name, Key=key)  # unversioned buckets

    async def erase_prefix(self, bucket: Bucket, prefix: str) -> None:
        check_prefix(prefix)
        await self._call(self._erase_prefix, self.bucket_name(bucket), prefix)

    def _erase_prefix(self, name: str, prefix: str) -> None:
        """Every version and delete marker under the prefix: nothing is left to restore."""
        paginator = self._client.get_paginator("list_object_versions")
        for listing in paginator.paginate(Bucket=name, Prefix=prefix):
            entries = [{"Key": e["Key"], "VersionId": e["VersionId"]}
                       for e in [*listing.get("Versions", []), *listing.get("DeleteMarkers", [])]]
            for start in range(0, len(entries), DELETE_BATCH):
                answer = self._client.delete_objects(
                    Bucket=name, Delete={"Objects": entries[start:start + DELETE_BATCH], "Quiet": True})
                if answer.get("Errors"):
                    first = answer["Errors"][0]
                    raise StorageError(f"S3 could not erase {len(answer['Errors'])} version(s) under "
                                       f"{name}/{prefix}, e.g. {first.get('Key')}: {first.get('Code')}")

    async def presigned_url(self, bucket: Bucket, key: str, *, expires_in: int,
                            content_type: str | None = None) -> str | None:
        check_key(key)
        params = {"Bucket": self.bucket_name(bucket), "Key": key}
        if content_type:
            params["ResponseContentType"] = content_type
        # Signing is local, but resolving credentials may not be (instance metadata).
        return await self._call(self._client.generate_presigned_url, "get_object", Params=params,
                                ExpiresIn=expires_in)

    async def aclose(self) -> None:
        self._client.close()

    async def _call(self, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """One blocking boto3 call on a worker thread, its errors in Storage's terms."""
        try:
            return await asyncio.to_thread(func, *args, **kwargs)
        except ClientError as exc:
            code = _code(exc)
            if code in _NOT_FOUND:
                raise ObjectNotFound(f"{kwargs.get('Bucket')}/{kwargs.get('Key')}") from exc
            if code == "InvalidRange":
                raise ValueError(f"range not satisfiable: {kwargs.get('Range')}") from exc
            raise StorageError(f"S3 {code}: {exc}") from exc
        except BotoCoreError as exc:  # network, timeouts, truncated bodies
            raise StorageError(f"S3: {exc}") from exc


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _secret(value: Any) -> str | None:
    return value.get_secret_value() if value is not None else None
