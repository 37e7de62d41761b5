"""Form bodies as providers post them: `application/x-www-form-urlencoded`, or `multipart/form-data`.

Multipart is read with the standard library's MIME parser (policy HTTP: CRLF lines, UTF-8 header
values), which keeps what a part says it is: a file's name and content type. A file's bytes are kept
only as their size, because ingest stores no media.
"""

from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from urllib.parse import parse_qsl


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


def parse_form(content_type: str, raw_body: bytes) -> FormBody:
    """The fields and files of a form body; raises `FormError` when it is not one."""
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type == "application/x-www-form-urlencoded":
        return _urlencoded(raw_body)
    if media_type == "multipart/form-data":
        return _multipart(content_type, raw_body)
    raise FormError(f"content type {media_type or 'none'!r} is not a form")


def _urlencoded(raw_body: bytes) -> FormBody:
    try:
        pairs = parse_qsl(raw_body.decode("ascii"), keep_blank_values=True, encoding="utf-8", errors="strict")
    except UnicodeDecodeError as error:
        raise FormError(f"form body is not percent-encoded UTF-8: {error.reason}") from error
    return FormBody(fields=dict(pairs), files={})


def _multipart(content_type: str, raw_body: bytes) -> FormBody:
    head = f"Content-Type: {content_type}\r\n\r\n".encode()
    message = BytesParser(policy=policy.HTTP).parsebytes(head + raw_body)
    if not isinstance(message, EmailMessage) or not message.is_multipart() or message.defects:
        detail = "; ".join(str(defect) for defect in message.defects) or "no parts"
        raise FormError(f"multipart body cannot be read: {detail}")
    fields: dict[str, str] = {}
    files: dict[str, FormFile] = {}
    for part in message.iter_parts():
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
