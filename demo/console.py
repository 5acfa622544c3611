"""The demo's web console: demo accounts, `onewindow console` as a child, and the sign-ins to print.

The console connects to the broker with the site's `manager` credential (it may send every command:
the clerk page's window commands and the manager's), reads the server's SQLite log for the reports, and
listens on 127.0.0.1 only. The demo accounts have well-known secrets: fine on a loopback demo, never on
a real site (create real accounts with `onewindow console add-user`).
"""
from __future__ import annotations

import logging
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from console.accounts import Accounts
from demo.children import Child, credential_args

log = logging.getLogger("onewindow.demo")

MANAGER_PASSWORD = "onewindow"  # noqa: S105 - a demo account on 127.0.0.1, printed at start on purpose
CLERK_PASSWORD = "onewindow"  # noqa: S105


@dataclass(frozen=True)
class SignIn:
    username: str
    role: str
    password: str
    pin: str | None
    window: int | None

    def line(self) -> str:
        secret = f"password {self.password}" + (f" or PIN {self.pin}" if self.pin else "")
        where = f"clerk at window {self.window}" if self.window else self.role
        return f"{where:>18}: user {self.username}, {secret}"


def demo_sign_ins(human_windows: list[int]) -> list[SignIn]:
    """A clerk per window left to people (`clerk1`, PIN 1111) and a manager."""
    clerks = [SignIn(f"clerk{w}", "clerk", CLERK_PASSWORD, (str(w) * 4)[:8], w)
              for w in human_windows]
    return clerks + [SignIn("manager", "manager", MANAGER_PASSWORD, None, None)]


def console_lines(url: str, sign_ins: list[SignIn], humans, human_type=None) -> list[str]:
    """What the demo prints about its console: where it is, the sign-ins, the windows left to people and
    the business type only they serve (`human_type`: the BusinessType, or None)."""
    lines = [f"web console: {url}/   (clerk page /clerk, manager pages /manager)", "demo sign-ins:"]
    lines += ["  " + s.line() for s in sign_ins]
    if humans:
        many = len(humans) > 1
        lines.append(f"window{'s' if many else ''} {', '.join(map(str, humans))} wait{'' if many else 's'} for you "
                     "(no simulated clerk): sign in there, take a number at the kiosk, call it from the clerk page")
    if human_type is not None:
        lines.append(f"  {human_type.prefix} {human_type.name} {human_type.name_en}: only you serve it, so its "
                     "numbers wait for you")
    return lines


def write_accounts(path: Path, sign_ins: list[SignIn]) -> None:
    """(Re)create the demo accounts in the console's users file."""
    accounts = Accounts(path)
    try:
        for s in sign_ins:
            name = f"窗口{s.window}办事员 Clerk {s.window}" if s.window else "大厅主任 Hall manager"
            accounts.add(s.username, s.role, password=s.password, pin=s.pin, name=name, replace=True)
    finally:
        accounts.close()


def console_child(state: Path, site_id: str, broker_url: str, credentials: Path | None, port: int) -> Child:
    """`onewindow console` on 127.0.0.1:`port` for the demo hall, as a child process."""
    args = ["console", "--site", site_id, "--broker", broker_url, *credential_args(credentials),
            "--host", "127.0.0.1", "--port", str(port), "--users", str(state / "console-users.db"),
            "--secret-file", str(state / "console-secret"), "--db", str(state / f"{site_id}.db"),
            "--alerts-db", str(state / "console-alerts.db"), "--client-id", "demo-console"]
    return Child("web console", args, state / "console.log")


def wait_until_up(url: str, child: Child, timeout: float = 30.0) -> bool:
    """True once the sign-in page answers; False if the child died or time ran out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not child.alive:
            return False
        try:
            with urllib.request.urlopen(f"{url}/login", timeout=2) as resp:
                if resp.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    return False
