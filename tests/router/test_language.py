"""Offline language detection of customers' messages."""

import pytest

from router.language import detect_language

SUPPORTED = ("en", "es", "fr", "de", "ko", "ja")


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Where is my order? It was due yesterday.", "en"),
        ("주문 상태 알려주세요", "ko"),
        ("Bonjour, où est ma commande ?", "fr"),
        ("Hola, quiero un reembolso de mi pedido", "es"),
        ("注文はどこですか", "ja"),
    ],
)
def test_a_clear_message_is_detected(text, language):
    assert detect_language(text, SUPPORTED) == language


@pytest.mark.parametrize("text", [None, "", "hi", "ok!!", "👍", "12345 678"])
def test_too_little_text_says_nothing(text):
    assert detect_language(text, SUPPORTED) is None
