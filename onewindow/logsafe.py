"""Log lines that outside input cannot forge or flood, in files that do not fill the disk.

- `escape(text)`: control characters (newlines, ESC and the rest of C0/C1), Unicode line and paragraph
  separators, bidi overrides, zero-width characters and backslashes are written as visible escapes
  (`\\n`, `\\x1b`, `\\u202e`, `\\\\`). A payload can then neither start a line of its own that looks like the
  server's, nor move a terminal's cursor, nor reorder what a reader sees.
- `SenderLog`: at most `burst` lines per sender per `window` seconds; the rest are counted and summed up
  in one line ("suppressed 99,990 more ... from kiosk-3 in the last 10 s") when the window ends.
- `add_rotating_file(path)`: a size-rotated log file (10 MB x 5 by default).
"""
from __future__ import annotations

import logging
import logging.handlers
import re
import time
from collections import Counter
from pathlib import Path
from typing import Callable

_UNSAFE = re.compile("[\\\\\x00-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f"
                     "\ufeff\ufff9-\ufffb]")
_NAMED = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_one(m: re.Match) -> str:
    ch = m.group(0)
    named = _NAMED.get(ch)
    if named:
        return named
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape(text: str) -> str:
    """`text` with every character that could forge or hide part of a log line made visible."""
    return _UNSAFE.sub(_escape_one, text)


class _Sender:
    __slots__ = ("since", "shown", "suppressed", "codes")

    def __init__(self, since: float) -> None:
        self.since, self.shown, self.suppressed, self.codes = since, 0, 0, Counter()


class SenderLog:
    """Rate-limited warnings about bad input, per sender (an MQTT user name or client id)."""

    MAX_SENDERS = 10_000  # beyond this many senders in one window, all others share one budget

    def __init__(self, logger: logging.Logger, burst: int = 5, window: float = 10.0,
                 clock: Callable[[], float] = time.monotonic, what: str = "bad commands"):
        self.logger, self.burst, self.window, self.clock, self.what = logger, burst, window, clock, what
        self._senders: dict[str, _Sender] = {}
        self.suppressed_total = 0
        self._next_flush = 0.0

    def warning(self, sender: str, code: str, line: str) -> bool:
        """Log `line` (escaped) unless `sender` used its budget; returns whether it was logged."""
        now = self.clock()
        state = self._senders.get(sender)
        if state is None:
            if len(self._senders) >= self.MAX_SENDERS:
                self.flush()
                if len(self._senders) >= self.MAX_SENDERS:
                    sender = "(other senders)"
            state = self._senders.setdefault(sender, _Sender(now))
        elif now - state.since >= self.window:
            self._summarise(sender, state, now)
            state.since, state.shown = now, 0
        if state.shown < self.burst:
            state.shown += 1
            self.logger.warning("%s", escape(line))
            return True
        state.suppressed += 1
        state.codes[code] += 1
        self.suppressed_total += 1
        return False

    def flush(self, force: bool = False) -> None:
        """Write the summary line of every sender whose window has ended (all of them if `force`)."""
        now = self.clock()
        if not force and now < self._next_flush:
            return
        self._next_flush = now + 1.0
        for sender, state in list(self._senders.items()):
            if force or now - state.since >= self.window:
                self._summarise(sender, state, now)
                del self._senders[sender]

    def _summarise(self, sender: str, state: _Sender, now: float) -> None:
        if not state.suppressed:
            return
        codes = ", ".join(f"{code}: {n:,}" for code, n in state.codes.most_common(5))
        self.logger.warning("suppressed %s more %s from %s in the last %.0f s (%s)", f"{state.suppressed:,}",
                            self.what, escape(sender), max(now - state.since, 0.0), codes)
        state.suppressed = 0
        state.codes.clear()


def add_rotating_file(path: str | Path, max_bytes: int = 10_000_000, backups: int = 5,
                      logger: logging.Logger | None = None) -> logging.Handler:
    """Send the log also to `path`, rotated at `max_bytes` with `backups` old files kept."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.handlers.RotatingFileHandler(path, maxBytes=max_bytes, backupCount=backups,
                                                   encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    (logger or logging.getLogger()).addHandler(handler)
    return handler
