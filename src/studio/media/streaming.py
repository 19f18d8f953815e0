"""A stored file sent to the client: the whole file or one byte range (RFC 9110),
streamed from the storage chunk by chunk. Used by the owner's downloads and by share
links; the caller's transaction is over before the first byte leaves."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

from starlette.responses import Response, StreamingResponse

from studio.http.errors import ApiError
from studio.storage.base import ObjectNotFound, Storage

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """One byte range (RFC 9110) as inclusive (start, end); None for the whole file.
    Raises ApiError 416 for a range that cannot be satisfied."""
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if not match or match.groups() == ("", ""):
        return None  # several ranges or nonsense: answer with the whole file, as allowed
    first, last = match.groups()
    if first == "":
        length = int(last)
        if length == 0:
            raise ApiError(416, "range_not_satisfiable", "empty suffix range", {"Content-Range": f"bytes */{size}"})
        return max(0, size - length), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or end < start:
        raise ApiError(416, "range_not_satisfiable", f"the file has {size} bytes",
                       {"Content-Range": f"bytes */{size}"})
    return start, end


def stream_media(storage: Storage, media: dict[str, Any], range_header: str | None) -> Response:
    """The response for a media_objects row (id, bucket, key, size_bytes, content_type,
    checksum_sha256): 200 with the file, or 206 with the requested range."""
    size = int(media["size_bytes"])
    byte_range = parse_range(range_header, size)
    start, end = byte_range if byte_range else (0, size - 1)
    headers = {"Accept-Ranges": "bytes", "Content-Length": str(max(0, end - start + 1)),
               "ETag": f'"{media["checksum_sha256"]}"', "Cache-Control": "private, max-age=3600",
               "X-Content-Type-Options": "nosniff", "Content-Disposition": "inline"}
    if byte_range:
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"

    async def body() -> AsyncIterator[bytes]:
        if size == 0:
            return
        try:
            async for chunk in storage.read(media["bucket"], media["key"], start=start, end=end):
                yield chunk
        except ObjectNotFound:  # the row exists but the file is gone: end the stream short
            return

    return StreamingResponse(body(), status_code=206 if byte_range else 200, media_type=media["content_type"],
                             headers=headers)
