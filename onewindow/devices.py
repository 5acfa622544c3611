"""The site's device registry (`[[device]]` in the site configuration): who may connect to the broker
and in which role (docs/SECURITY.md). Validated with the rest of the file by `onewindow.config`."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

DEVICE_ID_RE = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
# Who may say what on the bus (docs/SECURITY.md): a device's role, and for window devices its window(s).
DEVICE_ROLES = ("kiosk", "display", "window", "console", "manager")


@dataclass(frozen=True)
class Device:
    """A client allowed on the site's broker: its id is its MQTT user name."""

    id: str
    role: str
    windows: tuple[int, ...] = ()  # the windows a `window` device acts for


def devices_section(c, raw: Any, window_numbers: set[int], site_id: str | None) -> tuple[Device, ...]:
    """The `[[device]]` registry: id (the MQTT user name), role, and window(s) for window devices."""
    if not isinstance(raw, list):
        c.fail("device", raw, "must be a list of [[device]] tables")
        return ()
    out: list[Device] = []
    for i, d in enumerate(raw):
        p = f"device[{i}]"
        if not isinstance(d, dict):
            c.fail(p, d, "must be a table")
            continue
        for key in set(d) - {"id", "role", "window"}:
            c.fail(f"{p}.{key}", d[key], "is not a device key (id, role, window)")
        dev_id = c.str_(d, "id", f"{p}.id", pattern=DEVICE_ID_RE)
        if dev_id and (dev_id == "server" or dev_id == f"server-{site_id}"):
            c.fail(f"{p}.id", dev_id, "is the queue server's own name")
        if any(x.id == dev_id for x in out):
            c.fail(f"{p}.id", dev_id, "is used by another device")
        role = c.str_(d, "role", f"{p}.role", choices=DEVICE_ROLES)
        win = d.get("window", [])
        win = [win] if isinstance(win, int) and not isinstance(win, bool) else win
        if not isinstance(win, list) or not all(isinstance(w, int) and not isinstance(w, bool) for w in win):
            c.fail(f"{p}.window", win, "must be a window number or a list of them")
            win = []
        for w in win:
            if w not in window_numbers:
                c.fail(f"{p}.window", w, "is not a window of this site")
        if role == "window" and not win:
            c.fail(f"{p}.window", None, "a window device needs the window(s) it acts for")
        if role != "window" and win:
            c.fail(f"{p}.window", win, "only window devices are tied to windows")
        out.append(Device(id=dev_id, role=role, windows=tuple(win)))
    return tuple(out)


DEVICE_STATES = ("ok", "degraded", "out_of_service")


def status_payload(device: str, kind: str, state: str, parts: dict, detail: str, at: str) -> dict:
    """A device's retained status on `device/{device}/status` (docs/PROTOCOL.md), the one shape every
    device publishes and the manager's console reads: each device decides its own `state` from its parts."""
    if state not in DEVICE_STATES:
        raise ValueError(f"a device's state is one of {', '.join(DEVICE_STATES)}, not {state!r}")
    return {"v": 1, "device": device, "kind": kind, "at": at, "state": state, "parts": parts, "detail": detail}
