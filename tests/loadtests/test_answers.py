from collections import Counter

from loadtests.answers import NO_ANSWER, answers_path, count, read_answers, server_errors, write_answers


def test_every_worker_s_answers_are_added_up(tmp_path):
    prefix = tmp_path / "locust-123"
    write_answers(answers_path(str(prefix), 1), Counter({("webhook", 200): 5, ("webhook", 503): 2}))
    write_answers(answers_path(str(prefix), 2), Counter({("webhook", 200): 3, ("webhook", NO_ANSWER): 1}))
    write_answers(answers_path(str(tmp_path / "locust-999"), 1), Counter({("webhook", 200): 100}))

    answers = read_answers(prefix)

    assert count(answers, "webhook", range(200, 300)) == 8
    assert count(answers, "webhook", (503,)) == 2
    assert count(answers, "webhook", (NO_ANSWER,)) == 1
    assert not list(tmp_path.glob("*.partial")), "files are renamed into place whole"


def test_server_errors_leave_out_503_and_name_request_and_status():
    answers = Counter({("webhook", 503): 9, ("webhook", 500): 2, ("agent: reply and resolve", 502): 1})

    assert server_errors(answers) == {"agent: reply and resolve 502": 1, "webhook 500": 2}
