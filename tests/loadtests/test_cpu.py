from loadtests.cpu import CpuSample, busy_share, per_webhook


def test_cpu_per_webhook_is_each_group_s_cpu_over_the_accepted_webhooks():
    before = CpuSample(0.0, {"ingest": 1.0, "router": 2.0, "kafka": 5.0}, busy_ticks=100, total_ticks=1000)
    after = CpuSample(10.0, {"ingest": 2.0, "router": 2.5, "kafka": 4.0, "new": 1.0}, busy_ticks=400, total_ticks=1600)

    ms = per_webhook(before, after, webhooks=500)

    # kafka restarted (its counter started over): not a negative cost; "new" was not there at the start.
    assert ms == {"ingest": 2.0, "router": 1.0, "kafka": 0.0, "total": 3.0}
    assert busy_share(before, after) == 0.5


def test_no_webhooks_and_no_elapsed_ticks_do_not_divide_by_zero():
    same = CpuSample(0.0, {"ingest": 1.0}, busy_ticks=10, total_ticks=10)

    assert per_webhook(same, same, webhooks=0) == {"ingest": 0.0, "total": 0.0}
    assert busy_share(same, same) == 0.0
