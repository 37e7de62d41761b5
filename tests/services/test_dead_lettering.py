"""The headers of a dead letter: the interface the dead-letter keeper reads."""

from aiokafka import ConsumerRecord

from services.dead_lettering import dead_letter_headers


def test_the_headers_say_where_the_record_came_from_and_why():
    record = ConsumerRecord("sb.inbound.v1", 5, 1234, 0, 0, b"key", b"\x00\xff", None, 3, 2, [])
    assert dead_letter_headers(record, "undecodable", "Invalid JSON", 2) == [
        ("switchboard-error", b"undecodable"),
        ("switchboard-error-detail", b"Invalid JSON"),
        ("switchboard-source-topic", b"sb.inbound.v1"),
        ("switchboard-source-partition", b"5"),
        ("switchboard-source-offset", b"1234"),
        ("switchboard-attempts", b"2"),
    ]


def test_the_detail_is_cut_to_1_kib_without_splitting_a_character():
    record = ConsumerRecord("t", 0, 0, 0, 0, None, b"v", None, 0, 1, [])
    detail = "x" + "é" * 1000  # 1 + 2,000 bytes of UTF-8: the cut at 1,024 falls inside an "é"
    headers = dict(dead_letter_headers(record, "unprocessable", detail, 1))
    assert headers["switchboard-error-detail"] == ("x" + "é" * 511).encode()
