"""Local filesystem storage: each object is the file <root>/<bucket>/<key>.

An object is either complete or absent: `put` streams into a temporary file next to
the target, fsyncs it, renames it into place with os.replace (atomic on POSIX) and
fsyncs the directory, so a crash leaves the old object or the new one, never a mix.
Directories are created 0700 and files 0600: only Studio's own user can read media.

The key rules (`check_key`) and range rules (`check_range`) are shared with the S3
backend, so a key or range that works in development works the same in production.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import shutil
import stat
import tempfile
import threading
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable
from pathlib import Path
from typing import Any, TypeVar

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

__all__ = ["LocalStorage", "check_bucket", "check_key", "check_prefix", "check_range"]

DIR_MODE = 0o700
FILE_MODE = 0o600          # what tempfile.mkstemp creates; checked by the tests
RETIRED_DIR = ".retired"   # next to the buckets; "." names are never bucket names
TEMP_PREFIX = ".tmp-"      # keys cannot start a segment with ".", so never collides
MAX_KEY_BYTES = 1024       # S3's limit, so a key accepted here is accepted everywhere

T = TypeVar("T")


def check_bucket(bucket: str) -> None:
    if bucket not in BUCKETS:
        raise ValueError(f"unknown bucket {bucket!r}; expected one of {BUCKETS}")


def check_key(key: str) -> None:
    """A key is a relative '/'-separated path of non-empty segments. Segments may not
    start with '.' (which rules out '.', '..', hidden files and our temp files), and
    backslashes and NUL are refused outright. Raises ValueError."""
    if not isinstance(key, str) or not key:
        raise ValueError("storage key must be a non-empty string")
    if len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        raise ValueError(f"storage key longer than {MAX_KEY_BYTES} bytes")
    if "\\" in key or "\x00" in key:
        raise ValueError(f"storage key {key!r} contains a backslash or NUL")
    if key.startswith("/"):
        raise ValueError(f"storage key {key!r} is absolute")
    for segment in key.split("/"):
        if not segment or segment.startswith("."):
            raise ValueError(f"storage key {key!r} has an empty segment or one starting with '.'")


def check_prefix(prefix: str) -> None:
    """A key prefix names a whole "directory": a valid key followed by '/'. Raises ValueError."""
    if not isinstance(prefix, str) or not prefix.endswith("/"):
        raise ValueError(f"storage prefix {prefix!r} must end with '/'")
    check_key(prefix[:-1])


def check_range(start: int, end: int | None) -> None:
    """The argument checks of Storage.read, done before any I/O. Whether `start` lies
    inside the object is only known later: reading from start >= size raises ValueError
    ("range not satisfiable"), and an `end` past the last byte is clamped to it, as an
    HTTP Range request is. Reading a whole empty object (start=0, end=None) is fine."""
    if start < 0:
        raise ValueError(f"range start {start} is negative")
    if end is not None and end < start:
        raise ValueError(f"range end {end} is before its start {start}")


def clamp_range(start: int, end: int | None, size: int) -> tuple[int, int]:
    """(start, stop) as a half-open interval inside an object of `size` bytes."""
    if start == 0 and end is None:
        return 0, size
    if start >= size:
        raise ValueError(f"range not satisfiable: start {start} is not below the size {size}")
    return start, size if end is None else min(end + 1, size)


class LocalStorage(Storage):
    def __init__(self, root: Path) -> None:
        self.root = Path(root).expanduser().resolve()

    async def ensure_buckets(self) -> None:
        """Create the bucket directories now rather than on the first put."""
        for bucket in BUCKETS:
            await _io(_make_dirs, self.root / bucket)

    def path(self, bucket: Bucket, key: str) -> Path:
        """The file of bucket/key. Raises ValueError for keys that could leave the bucket."""
        check_bucket(bucket)
        check_key(key)
        base = self.root / bucket
        path = base / key
        # The key rules exclude '..'; resolving also catches a symlink inside the tree
        # that points elsewhere.
        if not path.resolve().is_relative_to(base.resolve()):
            raise ValueError(f"storage key {key!r} leads outside the {bucket} bucket")
        return path

    async def put(self, bucket: Bucket, key: str, chunks: AsyncIterable[bytes], *, content_type: str,
                  max_bytes: int) -> StoredObject:
        path = self.path(bucket, key)
        temp = await _io(_TempFile.create, path.parent)
        hasher = hashlib.sha256()
        size = 0
        pending = bytearray()  # batches small chunks so each worker-thread hop writes a useful amount
        try:
            async for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise ObjectTooLarge(f"{bucket}/{key}: more than {max_bytes} bytes")
                hasher.update(chunk)
                pending += chunk
                if len(pending) >= CHUNK_SIZE:
                    await _io(temp.write, bytes(pending))
                    pending.clear()
            if pending:
                await _io(temp.write, bytes(pending))
            await _io(temp.commit, path)
        except BaseException:
            # Shielded: even if this task is cancelled again, the temp file goes away.
            await asyncio.shield(asyncio.to_thread(temp.discard))
            raise
        return StoredObject(bucket=bucket, key=key, size=size, sha256=hasher.hexdigest(),
                            content_type=content_type)

    async def size(self, bucket: Bucket, key: str) -> int:
        path = self.path(bucket, key)
        try:
            info = await asyncio.to_thread(os.stat, path)
        except (FileNotFoundError, NotADirectoryError):
            raise ObjectNotFound(f"{bucket}/{key}") from None
        except OSError as exc:
            raise StorageError(f"cannot stat {bucket}/{key}: {exc}") from exc
        if not stat.S_ISREG(info.st_mode):  # a "directory" key is a prefix, not an object
            raise ObjectNotFound(f"{bucket}/{key}")
        return info.st_size

    def read(self, bucket: Bucket, key: str, *, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        # Arguments are checked now; the object itself on first iteration.
        path = self.path(bucket, key)
        check_range(start, end)
        return self._read(bucket, key, path, start, end)

    async def _read(self, bucket: Bucket, key: str, path: Path, start: int, end: int | None) -> AsyncIterator[bytes]:
        try:
            fd = await asyncio.to_thread(_open_for_reading, path)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise ObjectNotFound(f"{bucket}/{key}") from None
        except OSError as exc:
            raise StorageError(f"cannot open {bucket}/{key}: {exc}") from exc
        try:
            size = os.fstat(fd).st_size
            position, stop = clamp_range(start, end, size)
            while position < stop:
                block = await _io(os.pread, fd, min(CHUNK_SIZE, stop - position), position)
                if not block:  # truncated underneath us; cannot happen with atomic puts
                    raise StorageError(f"{bucket}/{key} ended early")
                position += len(block)
                yield block
        finally:
            # If a cancelled pread is still running, it may now read from whatever file
            # reuses this descriptor number: pread neither moves an offset nor writes,
            # and its result is dropped, so that is harmless.
            os.close(fd)

    async def delete(self, bucket: Bucket, key: str) -> None:
        path = self.path(bucket, key)
        await _io(_delete, path, self.root / bucket)

    def retired_path(self, bucket: Bucket, key: str) -> Path:
        """Where a retired object waits: outside the buckets, same key."""
        self.path(bucket, key)  # same key checks
        return self.root / RETIRED_DIR / bucket / key

    async def retire(self, bucket: Bucket, key: str) -> None:
        await _io(_retire, self.path(bucket, key), self.retired_path(bucket, key), self.root / bucket)

    async def revive(self, bucket: Bucket, key: str) -> bool:
        return await _io(_revive, self.retired_path(bucket, key), self.path(bucket, key),
                         self.root / RETIRED_DIR / bucket)

    async def erase(self, bucket: Bucket, key: str) -> None:
        await _io(_delete, self.path(bucket, key), self.root / bucket)
        await _io(_delete, self.retired_path(bucket, key), self.root / RETIRED_DIR / bucket)

    async def erase_prefix(self, bucket: Bucket, prefix: str) -> None:
        check_prefix(prefix)
        directory = prefix[:-1]
        await _io(_erase_tree, self.path(bucket, directory), self.root / bucket)
        await _io(_erase_tree, self.retired_path(bucket, directory), self.root / RETIRED_DIR / bucket)

    async def remove_stale_temp(self, older_than_seconds: float) -> int:
        return await _io(_remove_stale_temp, self.root, time.time() - older_than_seconds)

    async def purge_retired(self, older_than_seconds: float) -> int:
        return await _io(_purge, self.root / RETIRED_DIR, time.time() - older_than_seconds)

    async def presigned_url(self, bucket: Bucket, key: str, *, expires_in: int,
                            content_type: str | None = None) -> str | None:
        self.path(bucket, key)  # same key errors as every other call
        return None  # local files are streamed through the API


async def _io(func: Callable[..., T], *args: Any) -> T:
    """Run blocking file I/O on a worker thread; OS errors become StorageError."""
    try:
        return await asyncio.to_thread(func, *args)
    except OSError as exc:
        raise StorageError(str(exc)) from exc


class _TempFile:
    """The temporary file of one put. A cancelled `await asyncio.to_thread(...)` does not
    stop the thread, so a write may still be running when the put is being cleaned up;
    the lock makes `discard` wait for it, so the descriptor is never closed under a
    write (its number could be reused at once and the write land in another file)."""

    def __init__(self, fd: int, path: str) -> None:
        self.fd: int | None = fd
        self.path = path
        self.lock = threading.Lock()

    @classmethod
    def create(cls, directory: Path) -> _TempFile:
        # A concurrent delete may remove the (empty) directory between the two steps.
        attempts = 3
        while True:
            _make_dirs(directory)
            try:
                fd, path = tempfile.mkstemp(dir=directory, prefix=TEMP_PREFIX)  # mode 0600
            except FileNotFoundError:
                attempts -= 1
                if not attempts:
                    raise
                continue
            return cls(fd, path)

    def write(self, data: bytes) -> None:
        with self.lock:
            if self.fd is None:
                return  # discarded meanwhile
            view = memoryview(data)
            while view:  # os.write may write less than asked
                view = view[os.write(self.fd, view):]

    def commit(self, target: Path) -> None:
        with self.lock:
            assert self.fd is not None
            os.fsync(self.fd)
            fd, self.fd = self.fd, None
            os.close(fd)
        os.replace(self.path, target)
        _fsync_dir(target.parent)

    def discard(self) -> None:
        """Best effort: runs while another exception is on its way out, which it must not mask."""
        with self.lock:
            if self.fd is not None:
                fd, self.fd = self.fd, None
                with contextlib.suppress(OSError):
                    os.close(fd)
        # FileNotFoundError included: after a rename only the directory fsync failed.
        with contextlib.suppress(OSError):
            os.unlink(self.path)


def _make_dirs(directory: Path) -> None:
    """mkdir -p with mode 0700 for each directory created. The chmod makes the mode
    exact whatever the umask, and the parent's fsync makes the new entry durable."""
    missing = []
    while not directory.exists():
        missing.append(directory)
        directory = directory.parent
    for new in reversed(missing):
        try:
            os.mkdir(new, DIR_MODE)
        except FileExistsError:
            continue  # a concurrent put made it
        os.chmod(new, DIR_MODE)
        _fsync_dir(new.parent)


def _fsync_dir(directory: Path) -> None:
    if os.name != "posix":  # directories cannot be opened for fsync elsewhere
        return
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _open_for_reading(path: Path) -> int:
    fd = os.open(path, os.O_RDONLY)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise IsADirectoryError(str(path))
    return fd


def _delete(path: Path, bucket_dir: Path) -> None:
    try:
        os.unlink(path)
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return  # no such object (a directory is a prefix, not an object)
    _remove_empty_parents(path, bucket_dir)


def _remove_empty_parents(path: Path, bucket_dir: Path) -> None:
    """Removes the directories `path` leaves empty, up to (not including) the bucket:
    they are named after the owner and the generation, and must not outlive them."""
    directory = path.parent
    while directory != bucket_dir:
        try:
            os.rmdir(directory)
        except OSError:
            return  # not empty: other objects (or a put in progress) live there
        directory = directory.parent


def _erase_tree(directory: Path, bucket_dir: Path) -> None:
    """Removes the directory and everything in it (symlinks are removed, never followed),
    then the parents it leaves empty."""
    if directory.is_symlink() or not directory.is_dir():
        return
    shutil.rmtree(directory)
    _fsync_dir(directory.parent)
    _remove_empty_parents(directory, bucket_dir)


def _retire(live: Path, retired: Path, bucket_dir: Path) -> None:
    if not live.is_file():
        return
    _make_dirs(retired.parent)
    os.replace(live, retired)
    os.utime(retired)  # the retirement date, for the purge
    _fsync_dir(retired.parent)
    _remove_empty_parents(live, bucket_dir)


def _revive(retired: Path, live: Path, retired_bucket_dir: Path) -> bool:
    if live.is_file():
        return True
    if not retired.is_file():
        return False
    _make_dirs(live.parent)
    os.replace(retired, live)
    _fsync_dir(live.parent)
    _remove_empty_parents(retired, retired_bucket_dir)
    return True


def _purge(retired_root: Path, cutoff: float) -> int:
    purged = 0
    if not retired_root.is_dir():
        return 0
    for directory, _, files in os.walk(retired_root, topdown=False):
        for name in files:
            path = Path(directory) / name
            if path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
                purged += 1
        if Path(directory) != retired_root:
            with contextlib.suppress(OSError):
                os.rmdir(directory)  # only if empty
    return purged


def _remove_stale_temp(root: Path, cutoff: float) -> int:
    """Temporary files of puts that never finished (a process killed mid-upload)."""
    removed = 0
    for bucket in BUCKETS:
        base = root / bucket
        if not base.is_dir():
            continue
        for path in base.rglob(TEMP_PREFIX + "*"):
            with contextlib.suppress(FileNotFoundError):
                if path.is_file() and path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
    return removed
