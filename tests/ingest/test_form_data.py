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
