from router.receipt_rounds import receipt_rounds


def test_receipts_for_different_messages_share_one_round():
    assert receipt_rounds(["a", "b", "c"]) == [[0, 1, 2]]


def test_a_messages_later_receipts_wait_for_the_next_rounds_in_arrival_order():
    # "a" delivered, "b" delivered, "a" read, "a" read again (a provider's retry), "b" read
    assert receipt_rounds(["a", "b", "a", "a", "b"]) == [[0, 1], [2, 4], [3]]


def test_no_receipts_no_rounds():
    assert receipt_rounds([]) == []
