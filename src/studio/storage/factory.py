"""The storage backend the settings ask for."""

from __future__ import annotations

from studio.config import Settings
from studio.storage.base import Storage
from studio.storage.local import LocalStorage


def create_storage(settings: Settings) -> Storage:
    """Build the backend; no I/O happens here. Call `ensure_buckets()` on the result at
    startup (both backends have it) to create the buckets and, for S3, turn versioning on."""
    if settings.storage_backend == "local":
        return LocalStorage(settings.storage_dir or settings.home_dir / "storage")
    if settings.storage_backend == "s3":
        from studio.storage.s3 import S3Storage  # imports boto3 only when it is used

        return S3Storage(settings)
    raise ValueError(f"unknown storage backend {settings.storage_backend!r}")
