import httpx
import pytest

from ingest.form_data import FormError, is_form, parse_form


def test_a_urlencoded_body_gives_its_fields_with_utf8_and_blank_values():
    form = parse_form("application/x-www-form-urlencoded", b"subject=Caf%C3%A9&empty=&a=1&a=2")
    assert form.fields == {"subject": "Café", "empty": "", "a": "2"}
    assert form.files == {}


def test_a_multipart_body_gives_fields_and_files_with_their_type_and_size():
    encoded = httpx.Request(
        "POST",
        "http://x.invalid/",
        data={"subject": "Résumé", "attachment-count": "1"},
        files=[("attachment-1", ("résumé.pdf", b"%PDF-1.4", "application/pdf"))],
    )
    form = parse_form(encoded.headers["content-type"], encoded.read())
    assert form.fields == {"subject": "Résumé", "attachment-count": "1"}
    [file] = form.files.values()
    assert (file.field, file.filename, file.content_type, file.size) == (
        "attachment-1",
        "résumé.pdf",
        "application/pdf",
        8,
    )


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/x-www-form-urlencoded", b"a=%FF"),
        ("application/x-www-form-urlencoded", "a=é".encode()),
        ("multipart/form-data", b"--b\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--b--\r\n"),
        ("multipart/form-data; boundary=b", b"no parts here"),
        ("application/json", b"{}"),
    ],
    ids=["bad-percent-utf8", "raw-non-ascii", "no-boundary", "no-parts", "not-a-form"],
)
def test_a_body_that_is_not_its_form_is_a_form_error(content_type, body):
    with pytest.raises(FormError):
        parse_form(content_type, body)


def test_is_form_knows_both_form_types_whatever_their_parameters():
    assert is_form("application/x-www-form-urlencoded; charset=utf-8")
    assert is_form("Multipart/Form-Data; boundary=x")
    assert not is_form("application/json")
    assert not is_form("")


def multipart(parts: list[bytes], boundary: str = "b") -> tuple[str, bytes]:
    body = b"".join(b"--" + boundary.encode() + b"\r\n" + part + b"\r\n" for part in parts)
    return f"multipart/form-data; boundary={boundary}", body + b"--" + boundary.encode() + b"--\r\n"


def field(name: str, value: str = "v") -> bytes:
    return f'Content-Disposition: form-data; name="{name}"\r\n\r\n{value}'.encode()


def test_a_multipart_of_up_to_the_part_limit_is_read():
    content_type, body = multipart([field(f"f{n}") for n in range(100)])
    assert len(parse_form(content_type, body).fields) == 100


@pytest.mark.parametrize(
    ("content_type", "body", "why"),
    [
        (*multipart([field(f"f{n}") for n in range(101)]), "more than 100 parts"),
        (*multipart([field("a")], boundary="b" * 71), "boundary"),
        (
            *multipart(
                [
                    b'Content-Disposition: form-data; name="a"\r\nContent-Type: multipart/mixed; boundary=c\r\n\r\n'
                    + b"--c\r\n\r\nx\r\n--c--"
                ]
            ),
            "one level deep",
        ),
        ("multipart/form-data; boundary=b", b"x" * (1024 * 1024 + 1), "limit"),
        ("application/x-www-form-urlencoded", b"&".join(b"a%d=1" % n for n in range(1001)), "more than 1000"),
    ],
    ids=["too-many-parts", "long-boundary", "nested", "too-large", "too-many-fields"],
)
def test_a_form_beyond_the_bounds_is_refused_before_it_is_parsed(content_type, body, why):
    with pytest.raises(FormError, match=why):
        parse_form(content_type, body)
