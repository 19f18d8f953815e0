"""A multipart/form-data body read as it streams: one file part and a few short text
fields, each under its own cap, so a body over the limit is refused on the byte that
crosses it rather than after spooling it all (Starlette's form parser would need
python-multipart, and keeps no total limit on files).

The body is a preamble, then parts each opened by CRLF "--" boundary CRLF and a header
block ending in a blank line, closed by CRLF "--" boundary "--" (RFC 7578, RFC 2046).
The parser keeps at most one chunk plus a delimiter's length of unsent bytes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from email.message import Message
from email.utils import collapse_rfc2231_value

from studio.http.errors import ApiError

MAX_HEADER_BYTES = 16 * 1024      # one part's header block
MAX_FIELD_BYTES = 16 * 1024       # one text field (a prompt of 1000 characters is at most 4000 bytes)
MAX_PARTS = 32
MAX_PREAMBLE_BYTES = 64 * 1024
SNIFF_BYTES = 4096                # how much of the file `check_head` sees before the rest is read


@dataclass
class FilePart:
    filename: str | None
    content_type: str            # as declared, lower-case, without parameters; "" when absent
    data: bytes = field(repr=False)


@dataclass
class Form:
    fields: dict[str, str]
    file: FilePart | None


def boundary_of(content_type: str) -> bytes:
    """The boundary of a multipart/form-data Content-Type; 415 for any other type."""
    header = Message()
    header["content-type"] = content_type
    if header.get_content_type() != "multipart/form-data":
        raise ApiError(415, "unsupported_media_type", "send the audio as multipart/form-data with a 'file' part")
    boundary = header.get_param("boundary")
    value = collapse_rfc2231_value(boundary) if boundary is not None else ""
    if not 1 <= len(value) <= 70 or not value.isascii():
        raise ApiError(400, "malformed_form", "the multipart/form-data Content-Type has no valid boundary")
    return value.encode("ascii")


async def read_form(chunks: AsyncIterator[bytes], content_type: str, *, file_field: str, max_file_bytes: int,
                    check_head: Callable[[bytes, str], None]) -> Form:
    """The form's text fields and its one `file_field` part. `check_head(first bytes,
    declared type)` runs once the file's first SNIFF_BYTES (or all of it) have arrived,
    before the rest is read, so a wrong type is refused early. 413 past `max_file_bytes`
    or a field past MAX_FIELD_BYTES; 400 for a body that is not well-formed."""
    reader = _Reader(boundary_of(content_type), file_field, max_file_bytes, check_head)
    async for chunk in chunks:
        if chunk:
            reader.feed(chunk)
            if reader.done:
                break
    if not reader.done:
        raise _malformed("the body ended before the closing boundary")
    return Form(reader.fields, reader.file)


def _malformed(why: str) -> ApiError:
    return ApiError(400, "malformed_form", f"malformed multipart/form-data: {why}")


class _Reader:
    def __init__(self, boundary: bytes, file_field: str, max_file_bytes: int,
                 check_head: Callable[[bytes, str], None]) -> None:
        # A leading CRLF makes the first delimiter look like every other one.
        self.buffer = bytearray(b"\r\n")
        self.delimiter = b"\r\n--" + boundary
        self.state = "preamble"
        self.skipped = 0
        self.done = False
        self.file_field, self.max_file_bytes, self.check_head = file_field, max_file_bytes, check_head
        self.fields: dict[str, str] = {}
        self.file: FilePart | None = None
        self.parts = 0
        # The part being read: its name, file name, declared type, bytes so far.
        self.name = ""
        self.filename: str | None = None
        self.declared = ""
        self.data = bytearray()
        self.checked = False

    def feed(self, chunk: bytes) -> None:
        self.buffer += chunk
        while not self.done and self._step():
            pass

    def _step(self) -> bool:
        """Advances as far as the buffer allows; False when it needs more bytes."""
        if self.state == "preamble":
            at = self.buffer.find(self.delimiter)
            if at < 0:
                keep = len(self.delimiter) - 1
                self.skipped += max(0, len(self.buffer) - keep)
                if self.skipped > MAX_PREAMBLE_BYTES:
                    raise _malformed("no boundary where the body begins")
                del self.buffer[:max(0, len(self.buffer) - keep)]
                return False
            del self.buffer[:at + len(self.delimiter)]
            self.state = "after-delimiter"
            return True
        if self.state == "after-delimiter":
            # Transport padding (spaces, tabs) may follow a delimiter, then CRLF or "--".
            padded = self.buffer.lstrip(b" \t")
            if len(padded) < 2:
                return False
            if padded.startswith(b"--"):
                self.done = True
                return False
            if not padded.startswith(b"\r\n"):
                raise _malformed("a boundary is not followed by a line break")
            self.buffer = bytearray(padded[2:])
            self.state = "headers"
            return True
        if self.state == "headers":
            if self.buffer.startswith(b"\r\n"):
                raise _malformed("a part has no headers (no Content-Disposition)")
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buffer) > MAX_HEADER_BYTES:
                    raise _malformed("a part's headers are too long")
                return False
            self._open_part(bytes(self.buffer[:end]))
            del self.buffer[:end + 4]
            self.state = "body"
            return True
        # state == "body": everything up to the next delimiter belongs to the part.
        at = self.buffer.find(self.delimiter)
        if at < 0:
            safe = len(self.buffer) - (len(self.delimiter) - 1)
            if safe > 0:
                self._take(bytes(self.buffer[:safe]))
                del self.buffer[:safe]
            return False
        self._take(bytes(self.buffer[:at]))
        del self.buffer[:at + len(self.delimiter)]
        self._close_part()
        self.state = "after-delimiter"
        return True

    def _open_part(self, block: bytes) -> None:
        self.parts += 1
        if self.parts > MAX_PARTS:
            raise _malformed(f"more than {MAX_PARTS} parts")
        headers = Message()
        for line in block.decode("utf-8", "replace").split("\r\n"):
            name, colon, value = line.partition(":")
            if not colon or not name.strip():
                raise _malformed("a part header line has no ':'")
            headers[name.strip()] = value.strip()
        if headers.get("content-disposition") is None:
            raise _malformed("a part has no Content-Disposition")
        raw_name = headers.get_param("name", header="content-disposition")
        self.name = collapse_rfc2231_value(raw_name) if raw_name is not None else ""
        self.filename = headers.get_filename()
        self.declared = headers.get_content_type() if headers.get("content-type") else ""
        self.data = bytearray()
        self.checked = False
        if self.name == self.file_field and self.file is not None:
            raise ApiError(400, "malformed_form", f"send one '{self.file_field}' per request")

    def _is_file(self) -> bool:
        return self.name == self.file_field

    def _take(self, piece: bytes) -> None:
        if not piece:
            return
        self.data += piece
        if self._is_file():
            if len(self.data) > self.max_file_bytes:
                raise ApiError(413, "payload_too_large", f"the audio file exceeds {self.max_file_bytes} bytes")
            if not self.checked and len(self.data) >= SNIFF_BYTES:
                self.check_head(bytes(self.data[:SNIFF_BYTES]), self.declared)
                self.checked = True
        elif len(self.data) > MAX_FIELD_BYTES:
            raise ApiError(413, "payload_too_large", f"the form field '{self.name[:50]}' exceeds "
                                                     f"{MAX_FIELD_BYTES} bytes")

    def _close_part(self) -> None:
        if self._is_file():
            if not self.checked:
                self.check_head(bytes(self.data), self.declared)
            self.file = FilePart(self.filename, self.declared, bytes(self.data))
        elif self.name and self.name not in self.fields:
            self.fields[self.name] = self.data.decode("utf-8", "replace")
        self.data = bytearray()
