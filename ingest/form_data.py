"""Form bodies as providers post them: `application/x-www-form-urlencoded`, or `multipart/form-data`.

Multipart is read with the standard library's MIME parser (policy HTTP: CRLF lines, UTF-8 header
values), which keeps what a part says it is: a file's name and content type. A file's bytes are kept
only as their size, because ingest stores no media. That parser reads whatever it is given, nested
multiparts and all, so a body is bounded before it reaches it: its size, its number of parts, its
boundary (RFC 2046: 1 to 70 characters) and no part that is itself a multipart.
"""

from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from urllib.parse import parse_qsl

MAX_FORM_BYTES = 1024 * 1024
MAX_FIELDS = 1000  # a Mailgun forward has ~15 fields and one per attachment
MAX_PARTS = 100


class FormError(ValueError):
    """The body is not the form its content type says."""


@dataclass(frozen=True)
class FormFile:
    """One uploaded file of a multipart form, without its content."""

    field: str
    filename: str | None
    content_type: str
    size: int


@dataclass(frozen=True)
class FormBody:
    """A form's text fields (the last value of a repeated name wins) and its files, by field name."""

    fields: dict[str, str]
    files: dict[str, FormFile]


def is_form(content_type: str) -> bool:
    """Whether `parse_form` reads bodies of this content type."""
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type in ("application/x-www-form-urlencoded", "multipart/form-data")


def parse_form(content_type: str, raw_body: bytes, max_bytes: int = MAX_FORM_BYTES) -> FormBody:
    """The fields and files of a form body; raises `FormError` when it is not one, or above the bounds."""
    if len(raw_body) > max_bytes:
        raise FormError(f"form body of {len(raw_body)} bytes is above the {max_bytes}-byte limit")
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type == "application/x-www-form-urlencoded":
        return _urlencoded(raw_body)
    if media_type == "multipart/form-data":
        return _multipart(content_type, raw_body)
    raise FormError(f"content type {media_type or 'none'!r} is not a form")


def _urlencoded(raw_body: bytes) -> FormBody:
    try:
        pairs = parse_qsl(
            raw_body.decode("ascii"),
            keep_blank_values=True,
            encoding="utf-8",
            errors="strict",
            max_num_fields=MAX_FIELDS,
        )
    except UnicodeDecodeError as error:
        raise FormError(f"form body is not percent-encoded UTF-8: {error.reason}") from error
    except ValueError as error:  # parse_qsl's own bound
        raise FormError(f"form body has more than {MAX_FIELDS} fields") from error
    return FormBody(fields=dict(pairs), files={})


def _multipart(content_type: str, raw_body: bytes) -> FormBody:
    _check_multipart_bounds(content_type, raw_body)
    head = f"Content-Type: {content_type}\r\n\r\n".encode()
    message = BytesParser(policy=policy.HTTP).parsebytes(head + raw_body)
    if not isinstance(message, EmailMessage) or not message.is_multipart() or message.defects:
        detail = "; ".join(str(defect) for defect in message.defects) or "no parts"
        raise FormError(f"multipart body cannot be read: {detail}")
    fields: dict[str, str] = {}
    files: dict[str, FormFile] = {}
    for part in message.iter_parts():
        if part.is_multipart():
            raise FormError("a form part is itself a multipart: forms are one level deep")
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue  # a part without a field name carries nothing a form field can hold
        payload = part.get_payload(decode=True)
        content = payload if isinstance(payload, bytes) else b""
        filename = part.get_filename()
        if filename is not None:
            files[name] = FormFile(name, filename or None, part.get_content_type(), len(content))
            continue
        charset = part.get_content_charset() or "utf-8"
        try:
            fields[name] = content.decode(charset)
        except (LookupError, UnicodeDecodeError) as error:
            raise FormError(f"field {name!r} is not {charset} text") from error
    return FormBody(fields=fields, files=files)


def _check_multipart_bounds(content_type: str, raw_body: bytes) -> None:
    """Refuse, before parsing, a multipart the MIME parser would spend long on or recurse into."""
    boundary = _boundary(content_type)
    if not 1 <= len(boundary) <= 70:
        raise FormError("multipart boundary is missing or longer than 70 characters")
    chunks = raw_body.split(b"--" + boundary.encode("ascii", "replace"))
    # Each part starts with a delimiter line, the last one closes the body: parts + 1 delimiters.
    if len(chunks) > MAX_PARTS + 2:
        raise FormError(f"multipart body has more than {MAX_PARTS} parts")
    for chunk in chunks[1:]:
        # A part declaring itself multipart would be parsed recursively, nesting as deep as the bytes allow.
        part_headers = chunk.split(b"\r\n\r\n", 1)[0].lower()
        if b"multipart/" in part_headers:
            raise FormError("a form part is itself a multipart: forms are one level deep")


def _boundary(content_type: str) -> str:
    for parameter in content_type.split(";")[1:]:
        name, _, value = parameter.strip().partition("=")
        if name.strip().lower() == "boundary":
            return value.strip().strip('"')
    return ""
