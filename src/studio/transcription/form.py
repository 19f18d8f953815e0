"""A multipart/form-data body read as it streams: python-multipart's MultipartParser, fed
chunk by chunk, finds the parts, and the callbacks here keep one file part and a few
short text fields, each under its own cap, so a body over the limit is refused on the
byte that crosses it rather than after it was all received.

Not Starlette's request.form(): it keeps no limit on a file's total size and spools
files to disk, where here a recording stays in memory, under its cap, until it is sent
to the vendor."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from python_multipart import MultipartParser
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import parse_options_header

from studio.http.errors import ApiError

MAX_HEADER_BYTES = 16 * 1024      # one part's header names and values together
MAX_FIELD_BYTES = 16 * 1024       # one text field (a prompt of 1000 characters is at most 4000 bytes)
MAX_PARTS = 32
MAX_PREAMBLE_BYTES = 64 * 1024    # line breaks the parser skips before the first boundary
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
    # Header values arrive as latin-1 text, so this gives back their bytes.
    media_type, params = parse_options_header(content_type.encode("latin-1", "replace"))
    if media_type != b"multipart/form-data":
        raise ApiError(415, "unsupported_media_type", "send the audio as multipart/form-data with a 'file' part")
    boundary = params.get(b"boundary", b"")
    if not 1 <= len(boundary) <= 70 or not boundary.isascii():
        raise ApiError(400, "malformed_form", "the multipart/form-data Content-Type has no valid boundary")
    return boundary


async def read_form(chunks: AsyncIterator[bytes], content_type: str, *, file_field: str, max_file_bytes: int,
                    check_head: Callable[[bytes, str], None]) -> Form:
    """The form's text fields and its one `file_field` part. `check_head(first bytes,
    declared type)` runs once the file's first SNIFF_BYTES (or all of it) have arrived,
    before the rest is read, so a wrong type is refused early. 413 past `max_file_bytes`
    or a field past MAX_FIELD_BYTES; 400 for a body that is not well-formed."""
    reader = _Reader(file_field, max_file_bytes, check_head)
    parser = MultipartParser(boundary_of(content_type), {
        "on_part_begin": reader.part_begin, "on_header_field": reader.header_field,
        "on_header_value": reader.header_value, "on_header_end": reader.header_end,
        "on_headers_finished": reader.headers_finished, "on_part_data": reader.part_data,
        "on_part_end": reader.part_end, "on_end": reader.end,
    })
    received = 0
    async for chunk in chunks:
        if not chunk:
            continue
        received += len(chunk)
        try:
            parser.write(chunk)
        except FormParserError as exc:  # the parser's own complaint, a client's mistake
            if reader.parts == 0:
                raise _malformed("the body does not begin with the boundary") from None
            raise _malformed(str(exc)) from None
        if reader.done:
            break  # anything after the closing boundary is an epilogue nobody reads
        # The parser skips line breaks before the first boundary without counting them.
        if reader.parts == 0 and received > MAX_PREAMBLE_BYTES:
            raise _malformed("no boundary where the body begins")
    if not reader.done:
        raise _malformed("the body ended before the closing boundary")
    return Form(reader.fields, reader.file)


def _malformed(why: str) -> ApiError:
    return ApiError(400, "malformed_form", f"malformed multipart/form-data: {why}")


def _text(value: bytes) -> str:
    # Browsers send field and file names as UTF-8, unescaped.
    return value.decode("utf-8", "replace")


class _Reader:
    """The parser's callbacks: what the parts say, kept within the caps as it arrives."""

    def __init__(self, file_field: str, max_file_bytes: int, check_head: Callable[[bytes, str], None]) -> None:
        self.file_field, self.max_file_bytes, self.check_head = file_field, max_file_bytes, check_head
        self.fields: dict[str, str] = {}
        self.file: FilePart | None = None
        self.parts = 0
        self.done = False
        # The part being read: its headers, its name, file name, declared type, bytes so far.
        self.headers: dict[str, bytes] = {}
        self.header_bytes = 0
        self.pending_name = bytearray()
        self.pending_value = bytearray()
        self.name = ""
        self.filename: str | None = None
        self.declared = ""
        self.data = bytearray()
        self.checked = False

    def part_begin(self) -> None:
        self.parts += 1
        if self.parts > MAX_PARTS:
            raise _malformed(f"more than {MAX_PARTS} parts")
        self.headers, self.header_bytes = {}, 0

    def header_field(self, data: bytes, start: int, end: int) -> None:
        self._count_header(end - start)
        self.pending_name += data[start:end]

    def header_value(self, data: bytes, start: int, end: int) -> None:
        self._count_header(end - start)
        self.pending_value += data[start:end]

    def _count_header(self, size: int) -> None:
        self.header_bytes += size
        if self.header_bytes > MAX_HEADER_BYTES:
            raise _malformed("a part's headers are too long")

    def header_end(self) -> None:
        # The first of a repeated header counts, as with email.message.
        self.headers.setdefault(self.pending_name.decode("latin-1").strip().lower(), bytes(self.pending_value).strip())
        self.pending_name, self.pending_value = bytearray(), bytearray()

    def headers_finished(self) -> None:
        disposition = self.headers.get("content-disposition")
        if disposition is None:
            raise _malformed("a part has no Content-Disposition")
        params = parse_options_header(disposition)[1]
        self.name = _text(params.get(b"name", b""))
        filename = params.get(b"filename")
        self.filename = _text(filename) if filename is not None else None
        declared = self.headers.get("content-type")
        self.declared = _text(parse_options_header(declared)[0]) if declared else ""
        self.data = bytearray()
        self.checked = False
        if self.name == self.file_field and self.file is not None:
            raise ApiError(400, "malformed_form", f"send one '{self.file_field}' per request")

    def _is_file(self) -> bool:
        return self.name == self.file_field

    def part_data(self, data: bytes, start: int, end: int) -> None:
        if start == end:
            return
        self.data += data[start:end]
        if self._is_file():
            if len(self.data) > self.max_file_bytes:
                raise ApiError(413, "payload_too_large", f"the audio file exceeds {self.max_file_bytes} bytes")
            if not self.checked and len(self.data) >= SNIFF_BYTES:
                self.check_head(bytes(self.data[:SNIFF_BYTES]), self.declared)
                self.checked = True
        elif len(self.data) > MAX_FIELD_BYTES:
            raise ApiError(413, "payload_too_large", f"the form field '{self.name[:50]}' exceeds "
                                                     f"{MAX_FIELD_BYTES} bytes")

    def part_end(self) -> None:
        if self._is_file():
            if not self.checked:
                self.check_head(bytes(self.data), self.declared)
            self.file = FilePart(self.filename, self.declared, bytes(self.data))
        elif self.name and self.name not in self.fields:
            self.fields[self.name] = _text(bytes(self.data))
        self.data = bytearray()

    def end(self) -> None:
        self.done = True
