"""Alerts for the manager's live view, worked out from the hall's state and events. Pure: no I/O.

    board = AlertBoard(AlertPolicy(wait_minutes=30, max_waiting=15))
    board.evaluate(now, queues=mirror.queues, presence=mirror.presence, devices=mirror.devices)
    board.on_print_event(payload, now)      # onewindow/{site}/event/print
    board.on_log_events(events, now)        # onewindow/{site}/event/log: bad ratings
    board.ack(alert_id, "zhao", now)        # a manager has seen it
    board.alerts()                          # what the page shows, most urgent first

Two kinds of alert:
- conditions (`long_wait`, `long_line`, `paper_low`, `paper_out`, `printer_fault`, `device_offline`,
  `follow_up_late`: a bad rating's first contact is overdue, `device_fault`: a device reports itself
  `out_of_service`):
  raised when the condition starts, `active` while it holds, `cleared` when it stops. Each episode
  is its own alert (id `kind:subject:start`), so a condition that comes back asks for a new
  acknowledgement;
- occurrences (`print_failed`, `bad_rating`, `security`: the server refused a device's flood,
  hurry or overreach, from `event/security`): one alert each, about something that happened (never
  `active`).

An alert stays listed until it is both acknowledged and no longer active. Acknowledgements (and the
alerts themselves) are kept durably by the console in its own SQLite (`console/alert_store.py`):
`changes()` hands over what to write; `restore()` takes it back after a restart, so an episode that
still holds keeps its id and its acknowledgement.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Iterable, Mapping

CRITICAL, WARNING = "critical", "warning"
CONDITION_KINDS = ("long_wait", "long_line", "paper_low", "paper_out", "printer_fault", "device_offline",
                   "follow_up_late", "device_fault")
OCCURRENCE_KINDS = ("print_failed", "bad_rating", "security")
SECURITY_WORDS = {  # event/security kinds: (English, Chinese, severity)
    "throttled": ("issues tickets faster than people can: throttled", "取号过快，已限流", WARNING),
    "flood": ("floods the server: messages dropped", "消息过多，已丢弃并暂停接收", CRITICAL),
    "forbidden": ("asked for what its role may not do: refused", "越权操作，已拒绝", WARNING),
}
PRINTER_FAULTS = {"paper_low": ("paper_low", WARNING), "paper_out": ("paper_out", CRITICAL),
                  "offline": ("printer_fault", CRITICAL), "cover_open": ("printer_fault", CRITICAL),
                  "error": ("printer_fault", CRITICAL)}
MAX_LISTED = 200


@dataclass(frozen=True)
class AlertPolicy:
    wait_minutes: float = 30.0  # a ticket waiting longer than this raises long_wait
    max_waiting: int = 15  # more people than this waiting for one business type raises long_line
    offline_roles: tuple[str, ...] = ()  # presence roles to watch; empty: every client


@dataclass
class Alert:
    id: str
    kind: str
    subject: str
    severity: str
    since: float
    text_en: str
    text_zh: str
    active: bool = True
    cleared_at: float | None = None
    acked_by: str | None = None
    acked_at: float | None = None

    def view(self) -> dict:
        return {**asdict(self), "occurrence": self.kind in OCCURRENCE_KINDS}


def _ts(value) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            dt = datetime.fromisoformat(value)
        except ValueError:
            return None
        return dt.timestamp() if dt.tzinfo else None
    return None


@dataclass
class AlertBoard:
    policy: AlertPolicy = field(default_factory=AlertPolicy)

    def __post_init__(self):
        self._alerts: dict[str, Alert] = {}
        self._episodes: dict[tuple[str, str], str] = {}  # (kind, subject) -> id of the active alert
        self._dirty: set[str] = set()
        self._security: dict[tuple[str, str], tuple[str, int]] = {}  # (device, kind) -> (alert id, count)

    # ------------------------------------------------------------------ conditions
    def conditions(self, now: float, queues: Mapping[str, dict], presence: Mapping[str, dict],
                   devices: Mapping[str, dict], cases: Iterable[dict] = ()) -> dict[tuple[str, str], tuple[str, str, str]]:
        """(kind, subject) -> (severity, English text, Chinese text) for every condition holding now."""
        found: dict[tuple[str, str], tuple[str, str, str]] = {}
        for case in cases:  # follow-up cases (the server's follow_ups query): first contact overdue
            if isinstance(case, dict) and case.get("state") == "open" and case.get("contact") == "missed":
                number = case.get("number") or case.get("case")
                found[("follow_up_late", str(case.get("case")))] = (
                    WARNING, f"follow-up of the bad rating of {number}: first contact is overdue",
                    f"{number} 差评回访超时未联系")
        p = self.policy
        for prefix, q in queues.items():
            if not isinstance(q, dict):
                continue
            name = q.get("name_en") or q.get("name") or prefix
            since = _ts(q.get("longest_wait_since"))
            if since is not None and now - since > p.wait_minutes * 60:
                minutes = int((now - since) // 60)
                found[("long_wait", prefix)] = (
                    WARNING, f"{prefix} {name}: a ticket has waited {minutes} min (over {p.wait_minutes:g})",
                    f"{prefix} {q.get('name') or ''}：有人已等候 {minutes} 分钟（超过 {p.wait_minutes:g} 分钟）")
            waiting = q.get("waiting")
            if isinstance(waiting, int) and waiting > p.max_waiting:
                found[("long_line", prefix)] = (
                    WARNING, f"{prefix} {name}: {waiting} waiting (more than {p.max_waiting})",
                    f"{prefix} {q.get('name') or ''}：{waiting} 人等候（超过 {p.max_waiting} 人）")
        for client, pres in presence.items():
            if not isinstance(pres, dict) or pres.get("state") != "offline":
                continue
            role = pres.get("role") or "device"
            if p.offline_roles and role not in p.offline_roles:
                continue
            found[("device_offline", client)] = (CRITICAL, f"{role} {client} is offline",
                                                 f"{client}（{role}）离线")
        for device, status in devices.items():
            if isinstance(status, dict) and status.get("state") in ("out_of_service", "error"):
                detail = status.get("detail")
                words = detail if isinstance(detail, str) and detail else "out of service"
                found[("device_fault", device)] = (CRITICAL, f"{device} is out of service: {words}",
                                                   f"{device} 停止服务：{words}")
            parts = status.get("parts") if isinstance(status, dict) else None
            if not isinstance(parts, dict):
                continue
            for part, state in parts.items():
                if not str(part).startswith("printer") or state not in PRINTER_FAULTS:
                    continue
                kind, severity = PRINTER_FAULTS[state]
                words = {"paper_low": ("paper low", "纸将用尽"), "paper_out": ("out of paper", "缺纸"),
                         "offline": ("offline", "离线"), "cover_open": ("cover open", "纸仓盖未关"),
                         "error": ("error", "故障")}[state]
                found[(kind, f"{device}/{part}")] = (severity, f"{device} {part}: {words[0]}",
                                                     f"{device} 打印机{words[1]}")
        return found

    def evaluate(self, now: float, queues: Mapping[str, dict], presence: Mapping[str, dict],
                 devices: Mapping[str, dict], cases: Iterable[dict] = ()) -> None:
        """Raise, update and clear the condition alerts from the hall's current state."""
        found = self.conditions(now, queues, presence, devices, cases)
        for key, (severity, text_en, text_zh) in found.items():
            aid = self._episodes.get(key)
            if aid is None:
                aid = f"{key[0]}:{key[1]}:{int(now)}"
                self._alerts[aid] = Alert(aid, key[0], key[1], severity, now, text_en, text_zh)
                self._episodes[key] = aid
                self._dirty.add(aid)
            else:
                a = self._alerts[aid]
                if (a.text_en, a.severity) != (text_en, severity):
                    a.text_en, a.text_zh, a.severity = text_en, text_zh, severity
        for key in [k for k in self._episodes if k not in found]:
            a = self._alerts[self._episodes.pop(key)]
            a.active, a.cleared_at = False, now
            self._dirty.add(a.id)
        self._trim()

    # ------------------------------------------------------------------ occurrences
    def _occurrence(self, aid: str, kind: str, subject: str, now: float, text_en: str, text_zh: str,
                    severity: str = WARNING) -> None:
        if aid in self._alerts:
            return
        # Something that happened, not a state: listed until acknowledged, never "active".
        self._alerts[aid] = Alert(aid, kind, subject, severity, now, text_en, text_zh, active=False, cleared_at=now)
        self._dirty.add(aid)
        self._trim()

    def on_print_event(self, payload: dict, now: float) -> None:
        """A kiosk's `event/print`: a print job failed."""
        if not isinstance(payload, dict) or payload.get("kind", "print_failed") != "print_failed":
            return
        kiosk = str(payload.get("kiosk") or "kiosk")
        what = str(payload.get("document") or "print job")
        reason = str(payload.get("reason_text") or payload.get("reason") or "failed")
        number = payload.get("number")
        outcome = payload.get("outcome")
        at = _ts(payload.get("at")) or now
        aid = f"print_failed:{kiosk}:{payload.get('ticket') or int(at * 1000)}:{what}"
        text = f"{kiosk}: {what} {number or ''} not printed ({reason})" + (f", {outcome}" if outcome else "")
        self._occurrence(aid, "print_failed", kiosk, now, " ".join(text.split()),
                         f"{kiosk}：{number or ''} 打印失败（{reason}）", CRITICAL if outcome == "voided" else WARNING)

    def on_security_event(self, payload: dict, now: float) -> None:
        """The server's `event/security`: a device throttled, flooding or refused (counted per minute)."""
        if not isinstance(payload, dict) or payload.get("kind") not in SECURITY_WORDS:
            return
        en, zh, severity = SECURITY_WORDS[payload["kind"]]
        sender = str(payload.get("sender") or "?")[:64]
        count = payload.get("count") if isinstance(payload.get("count"), int) else 1
        at = _ts(payload.get("at")) or now
        # One alert per device and kind until a manager acknowledges it: later reports add to its count.
        key = (sender, payload["kind"])
        aid, before = self._security.get(key, (None, 0))
        alert = self._alerts.get(aid) if aid else None
        if alert is None or alert.acked_by is not None:
            aid, before = f"security:{sender}:{payload['kind']}:{int(at)}", 0
            self._occurrence(aid, "security", sender, now, "", "", severity)
            alert = self._alerts[aid]
        count += before
        self._security[key] = (aid, count)
        alert.text_en, alert.text_zh = f"{sender} {en} ({count}x)", f"{sender}：{zh}（{count} 次）"
        self._dirty.add(aid)

    def on_log_events(self, events: Iterable[dict], now: float) -> None:
        """Stored events from `event/log`: a bad rating (score 1-2) raises an alert."""
        for e in events:
            if not isinstance(e, dict) or e.get("type") != "ticket_rated":
                continue
            score = e.get("score")
            if not (e.get("bad") or (isinstance(score, int) and score <= 2)):
                continue
            ticket = str(e.get("ticket") or "")
            number = ticket.rsplit(":", 1)[-1]
            window = e.get("window")
            self._occurrence(f"bad_rating:{ticket}", "bad_rating", number, now,
                             f"bad rating {score} for {number} at window {window}",
                             f"{number}（{window} 号窗口）差评：{score} 分")

    # ------------------------------------------------------------------ acknowledging, listing
    def ack(self, alert_id: str, user: str, now: float) -> Alert | None:
        a = self._alerts.get(alert_id)
        if a is None:
            return None
        if a.acked_by is None:
            a.acked_by, a.acked_at = user, now
            self._dirty.add(a.id)
        self._trim()
        return a

    def alerts(self) -> list[dict]:
        """Listed alerts: active ones and those not yet acknowledged; unacknowledged and critical first."""
        shown = [a for a in self._alerts.values() if a.active or a.acked_by is None]
        shown.sort(key=lambda a: (a.acked_by is not None, not a.active, a.severity != CRITICAL, -a.since))
        return [a.view() for a in shown]

    def get(self, alert_id: str) -> Alert | None:
        return self._alerts.get(alert_id)

    def unacknowledged(self) -> int:
        return sum(1 for a in self._alerts.values() if a.acked_by is None)

    def changes(self) -> list[Alert]:
        """Alerts raised, cleared or acknowledged since the last call (for the durable store)."""
        out = [self._alerts[i] for i in sorted(self._dirty) if i in self._alerts]
        self._dirty.clear()
        return out

    def restore(self, alerts: Iterable[Alert]) -> None:
        """Take back the alerts a store kept (at start): active episodes continue under their id."""
        for a in alerts:
            self._alerts[a.id] = a
            if a.active and a.kind in CONDITION_KINDS:
                self._episodes[(a.kind, a.subject)] = a.id

    def _trim(self) -> None:
        done = [a for a in self._alerts.values() if not a.active and a.acked_by is not None]
        if len(self._alerts) > MAX_LISTED and done:
            done.sort(key=lambda a: a.since)
            for a in done[: len(self._alerts) - MAX_LISTED]:
                del self._alerts[a.id]
