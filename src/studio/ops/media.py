"""Media after a restore: the restored rows decide which files must exist (F1).

Files are immutable and every upload has a key of its own, so "consistent" means:
every media_objects row of the restored database has its file, with the size the row
records. Files deleted after the recovery point were retired, not deleted (migration
0013), so they can be revived; files created after it are not referenced by any
restored row and stay unseen (the outbox of the restored database, or the retention
purge, removes what nothing needs).

- In place (the installation's own storage): retired files are revived.
- Into a new Studio home with local storage: the files are hard-linked (copied across
  file systems) from the installation's storage, live or retired, into the new home.
- With S3 storage, both share the buckets; files are revived there.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import psycopg

from studio.ops import repository
from studio.storage.base import Bucket, ObjectNotFound, Storage
from studio.storage.local import LocalStorage

log = logging.getLogger("studio.ops.media")


@dataclass
class MediaReport:
    files: int = 0
    present: int = 0
    revived: int = 0
    copied: int = 0
    missing: list[str] = field(default_factory=list)

    @property
    def consistent(self) -> bool:
        return not self.missing

    def summary(self) -> str:
        text = (f"{self.files} file(s): {self.present} in place, {self.revived} revived, "
                f"{self.copied} copied")
        if self.missing:
            text += f", {len(self.missing)} MISSING (first: {', '.join(self.missing[:3])})"
        return text


def referenced_files(conninfo: str) -> list[tuple[str, str, int]]:
    """(bucket, key, size) of every media row; read by the operator's superuser login
    on the restored cluster (a backup-level task, like the restore itself)."""
    with psycopg.connect(conninfo) as conn:
        return repository.media_files(conn)


async def bring_back(files: list[tuple[str, str, int]], source: Storage, target: LocalStorage | None = None) -> MediaReport:
    """Make every referenced file exist: in `source` itself (target None), or copied
    from `source` into `target` (a new home's local storage)."""
    report = MediaReport(files=len(files))
    for bucket_name, key, size in files:
        bucket = cast(Bucket, bucket_name)  # media_objects.bucket is CHECK-constrained to these
        name = f"{bucket}/{key}"
        if target is None:
            if await _has(source, bucket, key, size):
                report.present += 1
            elif await source.revive(bucket, key) and await _has(source, bucket, key, size):
                report.revived += 1
            else:
                report.missing.append(name)
            continue
        if not isinstance(source, LocalStorage):
            raise TypeError("copying media into a new home needs local storage on both sides")
        origin = next((p for p in (source.path(bucket, key), source.retired_path(bucket, key))
                       if p.is_file()), None)
        if origin is None or origin.stat().st_size != size:
            report.missing.append(name)
            continue
        await asyncio.to_thread(_link_or_copy, origin, target.path(bucket, key))
        report.copied += 1
    return report


async def _has(storage: Storage, bucket: Bucket, key: str, size: int) -> bool:
    try:
        return await storage.size(bucket, key) == size
    except ObjectNotFound:
        return False


def _link_or_copy(origin: Path, destination: Path) -> None:
    destination.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        os.link(origin, destination)  # immutable files: sharing the inode is safe
    except OSError:
        shutil.copy2(origin, destination)
