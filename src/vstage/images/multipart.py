"""A streaming ``multipart/form-data`` reader with a byte cap per part.

Why not ``request.form()``: Starlette caps only *text* parts (``max_part_size``) and
spools file parts of any size to disk, so a 30 GB body would be read to the end before
anyone could say 413. Here every part is counted while it streams in: a file part over
``max_file_bytes`` (or a body over the total cap, or a ``Content-Length`` that
announces one) is refused with 413 at once, without reading the rest. Memory is
bounded by the caps: at most ``max_file_bytes`` per file field and a few KiB of text.

While reading, each file's SHA-256 is computed, which is what the Idempotency-Key
request hash uses (DESIGN §6: hash the meaning, not the multipart bytes).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

from vstage.errors import InvalidInput, PayloadTooLarge, UnsupportedMediaType, VstageError

MAX_TEXT_BYTES = 1024
MAX_PARTS = 16
#: Room for part headers, boundaries and text fields around the files.
ENVELOPE_BYTES = 64 * 1024


@dataclass
class FilePart:
    """One uploaded file, whole in memory (bounded by the cap)."""

    name: str
    filename: str | None
    content_type: str | None
    data: bytes
    sha256: str


@dataclass
class UploadForm:
    fields: dict[str, str] = field(default_factory=dict)
    files: dict[str, FilePart] = field(default_factory=dict)

    def meaning(self) -> dict[str, Any]:
        """What the request asks for, for the idempotency hash (file names excluded)."""
        return {
            "fields": dict(sorted(self.fields.items())),
            "files": {name: part.sha256 for name, part in sorted(self.files.items())},
        }


class _Collector:
    """python-multipart callbacks that build an :class:`UploadForm` under the caps."""

    def __init__(self, file_fields: frozenset[str], max_file_bytes: int) -> None:
        self.file_fields = file_fields
        self.max_file_bytes = max_file_bytes
        self.form = UploadForm()
        self.parts = 0
        self.ended = False
        self._header_name = bytearray()
        self._header_value = bytearray()
        self._headers: dict[bytes, bytes] = {}
        self._name = ""
        self._filename: str | None = None
        self._is_file = False
        self._data = bytearray()
        self._hash = hashlib.sha256()

    # -- headers --------------------------------------------------------------

    def on_part_begin(self) -> None:
        self.parts += 1
        if self.parts > MAX_PARTS:
            raise _Refused(InvalidInput(f"too many form parts (at most {MAX_PARTS})"))
        self._headers = {}
        self._data = bytearray()
        self._hash = hashlib.sha256()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        self._headers[bytes(self._header_name).lower()] = bytes(self._header_value)
        self._header_name = bytearray()
        self._header_value = bytearray()

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition"))
        raw_name = options.get(b"name")
        if raw_name is None:
            raise _Refused(InvalidInput("a form part has no name"))
        self._name = raw_name.decode("utf-8", "replace")
        raw_filename = options.get(b"filename")
        self._filename = raw_filename.decode("utf-8", "replace") if raw_filename else None
        self._is_file = self._name in self.file_fields
        if self._name in self.form.fields or self._name in self.form.files:
            raise _Refused(InvalidInput(f"form field {self._name!r} given twice"))

    # -- data -----------------------------------------------------------------

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        cap = self.max_file_bytes if self._is_file else MAX_TEXT_BYTES
        if len(self._data) + (end - start) > cap:
            if self._is_file:
                raise _Refused(
                    PayloadTooLarge(
                        f"{self._name!r} is larger than the {cap} byte limit",
                        limit=cap,
                    )
                )
            raise _Refused(InvalidInput(f"form field {self._name!r} is too long"))
        chunk = data[start:end]
        self._data += chunk
        if self._is_file:
            self._hash.update(chunk)

    def on_part_end(self) -> None:
        if self._is_file:
            content_type = self._headers.get(b"content-type")
            self.form.files[self._name] = FilePart(
                name=self._name,
                filename=self._filename,
                content_type=content_type.decode("latin-1") if content_type else None,
                data=bytes(self._data),
                sha256=self._hash.hexdigest(),
            )
        else:
            try:
                self.form.fields[self._name] = self._data.decode("utf-8")
            except UnicodeDecodeError:
                raise _Refused(
                    InvalidInput(f"form field {self._name!r} is not UTF-8 text")
                ) from None
        self._data = bytearray()

    def on_end(self) -> None:
        self.ended = True


class _Refused(Exception):
    """Carries our error out of a parser callback (python-multipart re-raises as is)."""

    def __init__(self, error: VstageError) -> None:
        super().__init__(error.message)
        self.error = error


async def read_multipart(
    request: Request, *, file_fields: frozenset[str], max_file_bytes: int
) -> UploadForm:
    """Read the request body as ``multipart/form-data``, enforcing the caps as it streams.

    Raises 413 (too large), 415 (not multipart) or 422 (malformed, incomplete, too
    many or duplicate parts, over-long text fields).
    """
    content_type, options = parse_options_header(request.headers.get("content-type"))
    boundary = options.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise UnsupportedMediaType("send the upload as multipart/form-data")
    max_body = len(file_fields) * max_file_bytes + ENVELOPE_BYTES
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_body:
        raise PayloadTooLarge(
            f"request body of {declared} bytes is over the {max_body} byte limit",
            limit=max_body,
        )
    collector = _Collector(file_fields, max_file_bytes)
    try:
        parser = MultipartParser(
            boundary,
            {
                "on_part_begin": collector.on_part_begin,
                "on_part_data": collector.on_part_data,
                "on_part_end": collector.on_part_end,
                "on_header_field": collector.on_header_field,
                "on_header_value": collector.on_header_value,
                "on_header_end": collector.on_header_end,
                "on_headers_finished": collector.on_headers_finished,
                "on_end": collector.on_end,
            },
        )
        received = 0
        async for chunk in request.stream():
            received += len(chunk)
            if received > max_body:
                raise PayloadTooLarge(
                    f"request body is over the {max_body} byte limit", limit=max_body
                )
            parser.write(chunk)
        parser.finalize()
    except _Refused as refused:
        raise refused.error from None
    except FormParserError as exc:
        raise InvalidInput(f"malformed multipart body: {exc}") from None
    except ClientDisconnect:
        raise VstageError("the client disconnected before the upload was complete") from None
    if not collector.ended:
        raise InvalidInput("incomplete multipart body: the closing boundary is missing")
    return collector.form
