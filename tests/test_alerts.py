"""Alerts a manager sees: raised from the hall's state and events, acknowledged, kept across restarts."""
from __future__ import annotations

from console.alert_store import AlertStore
from console.alerts import AlertBoard, AlertPolicy

T0 = 1795395600.0  # Monday 23 November 2026, 09:00 in the hall (+08:00)


def iso(minutes_after_nine: float) -> str:
    from datetime import datetime
    from zoneinfo import ZoneInfo
    return datetime.fromtimestamp(T0 + minutes_after_nine * 60, ZoneInfo("Asia/Shanghai")).isoformat()


def queue(waiting=1, since=0.0, name_en="Enrolment"):
    return {"business_type": "A", "name": "参保登记", "name_en": name_en, "waiting": waiting,
            "longest_wait_since": None if waiting == 0 else iso(since)}


def kinds(board):
    return sorted((a["kind"], a["subject"], a["active"]) for a in board.alerts())


def test_a_wait_over_the_threshold_raises_an_alert_that_clears_when_the_ticket_is_called():
    board = AlertBoard(AlertPolicy(wait_minutes=30))
    board.evaluate(T0 + 29 * 60, {"A": queue(since=0)}, {}, {})
    assert board.alerts() == []
    board.evaluate(T0 + 31 * 60, {"A": queue(since=0)}, {}, {})
    [alert] = board.alerts()
    assert alert["kind"] == "long_wait" and alert["active"] and "waited 31 min" in alert["text_en"]
    board.evaluate(T0 + 32 * 60, {"A": queue(waiting=0)}, {}, {})
    [alert] = board.alerts()  # cleared, but still listed: nobody has acknowledged it
    assert not alert["active"] and alert["cleared_at"] == T0 + 32 * 60
    board.ack(alert["id"], "zhao", T0 + 33 * 60)
    assert board.alerts() == []


def test_an_acknowledged_alert_stays_listed_while_its_condition_holds_and_a_new_episode_needs_a_new_ack():
    board = AlertBoard(AlertPolicy(max_waiting=3))
    board.evaluate(T0, {"A": queue(waiting=4)}, {}, {})
    first = board.alerts()[0]["id"]
    board.ack(first, "zhao", T0 + 1)
    board.evaluate(T0 + 2, {"A": queue(waiting=5)}, {}, {})
    [alert] = board.alerts()
    assert alert["id"] == first and alert["acked_by"] == "zhao" and "5 waiting" in alert["text_en"]
    board.evaluate(T0 + 3, {"A": queue(waiting=2)}, {}, {})
    assert board.alerts() == []
    board.evaluate(T0 + 60, {"A": queue(waiting=9)}, {}, {})
    [again] = board.alerts()
    assert again["id"] != first and again["acked_by"] is None


def test_printer_paper_and_device_presence():
    board = AlertBoard()
    devices = {"kiosk-1": {"v": 1, "device": "kiosk-1", "kind": "kiosk", "state": "degraded",
                           "parts": {"printer": "paper_low", "scanner": "ok"}},
               "kiosk-2": {"v": 1, "device": "kiosk-2", "parts": {"printer": "paper_out"}},
               "kiosk-3": {"v": 1, "device": "kiosk-3"},  # no parts: tolerated
               "kiosk-4": "garbage"}
    presence = {"display-1": {"client": "display-1", "role": "display", "state": "offline"},
                "kiosk-1": {"client": "kiosk-1", "role": "kiosk", "state": "online"}}
    board.evaluate(T0, {}, presence, devices)
    assert kinds(board) == [("device_offline", "display-1", True), ("paper_low", "kiosk-1/printer", True),
                            ("paper_out", "kiosk-2/printer", True)]
    assert board.alerts()[0]["severity"] == "critical"
    devices["kiosk-2"] = {"parts": {"printer": "ok"}}
    board.evaluate(T0 + 5, {}, presence, devices)
    assert ("paper_out", "kiosk-2/printer", False) in kinds(board)


def test_a_print_failure_and_a_bad_rating_are_listed_until_acknowledged():
    board = AlertBoard()
    failure = {"v": 1, "kind": "print_failed", "kiosk": "kiosk-1", "printer": "main", "reason": "paper_out",
               "reason_text": "out of paper", "document": "ticket", "ticket": "demo-county:2026-11-23:A001",
               "number": "A001", "outcome": "voided"}
    board.on_print_event(failure, T0)
    board.on_print_event(failure, T0 + 1)  # the same failure twice (QoS 1 redelivery): one alert
    board.on_log_events([{"type": "ticket_rated", "ticket": "demo-county:2026-11-23:B001", "window": 4,
                          "score": 1, "bad": True},
                         {"type": "ticket_rated", "ticket": "demo-county:2026-11-23:B002", "window": 4,
                          "score": 5, "bad": False}, "garbage"], T0 + 2)
    assert kinds(board) == [("bad_rating", "B001", False), ("print_failed", "kiosk-1", False)]
    assert "A001 not printed (out of paper), voided" in board.get(board.alerts()[0]["id"]).text_en
    for a in board.alerts():
        board.ack(a["id"], "zhao", T0 + 3)
    assert board.alerts() == [] and board.unacknowledged() == 0


def test_acknowledgements_survive_a_console_restart(tmp_path):
    store = AlertStore(tmp_path / "console.db")
    board = AlertBoard(AlertPolicy(max_waiting=3))
    board.evaluate(T0, {"A": queue(waiting=4)}, {}, {})
    board.on_log_events([{"type": "ticket_rated", "ticket": "s:d:B001", "window": 4, "score": 2}], T0)
    line = next(a for a in board.alerts() if a["kind"] == "long_line")["id"]
    board.ack(line, "zhao", T0 + 10)
    store.save(board.changes())
    store.close()
    store = AlertStore(tmp_path / "console.db")
    again = AlertBoard(AlertPolicy(max_waiting=3))
    again.restore(store.load())
    again.evaluate(T0 + 20, {"A": queue(waiting=6)}, {}, {})  # the same episode continues
    listed = {a["kind"]: a for a in again.alerts()}
    assert listed["long_line"]["id"] == line and listed["long_line"]["acked_by"] == "zhao"
    assert listed["bad_rating"]["acked_by"] is None
    assert again.changes() == []  # nothing new to write
    assert [h["acked_by"] for h in store.history() if h["id"] == line] == ["zhao"]


def test_state_that_makes_no_sense_raises_nothing():
    board = AlertBoard()
    board.evaluate(T0, {"A": {"waiting": "many", "longest_wait_since": "yesterday"}, "B": None},
                   {"x": "offline"}, {"d": {"parts": ["printer"]}})
    assert board.alerts() == []


def test_a_follow_up_whose_first_contact_is_overdue_raises_an_alert_until_contacted():
    board = AlertBoard()
    case = {"case": "demo-county:2026-11-23:B001", "number": "B001", "state": "open", "contact": "running"}
    board.evaluate(T0, {}, {}, {}, [case])
    assert board.alerts() == []
    board.evaluate(T0 + 86400, {}, {}, {}, [dict(case, contact="missed")])
    [alert] = board.alerts()
    assert alert["kind"] == "follow_up_late" and "B001" in alert["text_zh"] and alert["active"]
    board.evaluate(T0 + 90000, {}, {}, {}, [dict(case, state="contacted", contact="missed")])
    assert not board.alerts()[0]["active"]


def test_a_device_out_of_service_is_critical():
    board = AlertBoard()
    board.evaluate(T0, {}, {}, {"kiosk-2": {"state": "out_of_service", "detail": "all printers out of order",
                                            "parts": {"printer": "offline"}}})
    assert kinds(board) == [("device_fault", "kiosk-2", True), ("printer_fault", "kiosk-2/printer", True)]
    assert "all printers out of order" in board.alerts()[0]["text_en"]


def test_the_servers_security_reports_become_alerts_for_the_manager():
    from console.alerts import AlertBoard, AlertPolicy
    board = AlertBoard(AlertPolicy())
    board.on_security_event({"kind": "flood", "sender": "kiosk-2", "count": 4800, "at": "2026-11-23T09:05:00+08:00"},
                            1000.0)
    board.on_security_event({"kind": "throttled", "sender": "kiosk-1", "count": 3}, 1001.0)
    board.on_security_event({"kind": "made_up", "sender": "x"}, 1002.0)  # not a kind: ignored
    board.on_security_event(["not", "a", "dict"], 1003.0)
    shown = board.alerts()
    assert [(a["kind"], a["subject"], a["severity"]) for a in shown] == [
        ("security", "kiosk-2", "critical"), ("security", "kiosk-1", "warning")]
    assert "kiosk-2" in shown[0]["text_zh"] and "4800" in shown[0]["text_en"]
    # A device that goes on for a day is one alert with a growing count, not 1,440 of them.
    for minute in range(1, 1440):
        board.on_security_event({"kind": "throttled", "sender": "kiosk-1", "count": 2}, 1001.0 + 60 * minute)
    mine = [a for a in board.alerts() if a["subject"] == "kiosk-1"]
    assert len(mine) == 1 and "(2881x)" in mine[0]["text_en"]
