"""Byte-exact ``multipart/form-data`` parsing for the emulator's create-batch route."""

from __future__ import annotations

from dataclasses import dataclass
from email.message import Message


class MultipartError(ValueError):
    """The body is not well-formed ``multipart/form-data``."""


@dataclass(frozen=True)
class FormPart:
    """One form field or file; ``filename`` is ``None`` for plain fields."""

    name: str
    filename: str | None
    content_type: str | None
    data: bytes

    def text(self) -> str:
        return self.data.decode("utf-8", errors="replace")


def header_params(value: str, header: str = "content-type") -> Message:
    """Parse a header value with parameters (``a/b; k="v"``) using the stdlib's RFC 2231 rules."""
    message = Message()
    message[header] = value
    return message


def boundary_of(content_type: str) -> str:
    boundary = header_params(content_type).get_param("boundary")
    if not isinstance(boundary, str) or not boundary:
        raise MultipartError("multipart/form-data without a boundary")
    return boundary


def _parse_headers(block: bytes) -> dict[str, str]:
    headers: dict[str, str] = {}
    for raw in block.decode("utf-8", errors="replace").split("\r\n"):
        if not raw.strip():
            continue
        name, sep, value = raw.partition(":")
        if not sep:
            raise MultipartError(f"malformed part header {raw!r}")
        headers[name.strip().lower()] = value.strip()
    return headers


def parse_multipart(body: bytes, content_type: str) -> list[FormPart]:
    """Split a form-data body into parts, keeping every file byte as sent."""
    delimiter = b"\r\n--" + boundary_of(content_type).encode()
    chunks = (b"\r\n" + body).split(delimiter)
    parts: list[FormPart] = []
    closed = False
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):
            closed = True
            break
        head_and_data = chunk.lstrip(b" \t")
        if not head_and_data.startswith(b"\r\n"):
            raise MultipartError("malformed boundary line")
        head, sep, data = head_and_data[2:].partition(b"\r\n\r\n")
        if not sep:
            # A part with no headers at all starts straight with the blank line.
            if head_and_data[2:].startswith(b"\r\n"):
                head, data = b"", head_and_data[4:]
            else:
                raise MultipartError("part without a header/body separator")
        headers = _parse_headers(head)
        disposition = headers.get("content-disposition")
        if disposition is None:
            raise MultipartError("part without Content-Disposition")
        params = header_params(disposition, "content-disposition")
        name = params.get_param("name", header="content-disposition")
        filename = params.get_param("filename", header="content-disposition")
        if not isinstance(name, str):
            raise MultipartError("part without a field name")
        parts.append(
            FormPart(
                name=name,
                filename=filename if isinstance(filename, str) else None,
                content_type=headers.get("content-type"),
                data=data,
            )
        )
    if not closed:
        raise MultipartError("multipart body is not terminated")
    return parts
