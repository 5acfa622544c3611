"""The server's security reports: the first at once, then one summary a minute per device and kind."""
from queue_server.security_events import MAX_SENDERS, SecurityEvents


def test_first_report_at_once_then_one_summary_a_minute():
    now = [100.0]
    ev = SecurityEvents(lambda: now[0])
    ev.note("kiosk-1", "throttled", "too fast")
    first = ev.due()
    assert [(r["sender"], r["kind"], r["count"]) for r in first] == [("kiosk-1", "throttled", 1)]
    for _ in range(30):
        ev.note("kiosk-1", "throttled", "too fast")
    now[0] += 30
    assert ev.due() == []  # within the minute: counted, not sent
    now[0] += 31
    summary = ev.due()
    assert [(r["count"], r["period_s"]) for r in summary] == [(30, 61.0)]
    now[0] += 120
    assert ev.due() == []  # nothing new, nothing sent


def test_a_storm_of_made_up_names_is_summed_under_one_entry():
    ev = SecurityEvents(lambda: 0.0)
    for i in range(MAX_SENDERS + 500):
        ev.note(f"fake-{i}", "forbidden", "refused")
    reports = ev.due()
    assert len(reports) == MAX_SENDERS + 1
    assert [r["count"] for r in reports if r["sender"] == "(many)"] == [500]
