"""The announcer: which sentence plays when. A pure state machine in simulated time (no clock, no
threads, no audio): the player asks `start_next(now)` whenever the previous sentence has ended.

Rules (issue #18):
- each call is announced in Chinese, then (optionally) in English; the pair is repeated `repeat` times;
- one sentence at a time, never overlapping, and a sentence once started is never cut off
  (`start_next` returns nothing until the one playing has ended);
- calls are announced in the order they came;
- a backlog (more than `max_waiting` sentences waiting, or a repeat waiting longer than
  `stale_after` seconds) drops repeats, oldest first; a first announcement is never dropped.
A call already announced (same ticket and call count) is not queued again.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Sentence:
    call_key: tuple[str, int]
    seq: int  # order of the call
    repeat: int  # 0: the first announcement
    lang: str  # "zh" or "en"
    text: str
    duration: float  # seconds
    queued_at: float

    @property
    def first(self) -> bool:
        return self.repeat == 0


@dataclass(frozen=True)
class Played:
    sentence: Sentence
    start: float
    end: float


class Announcer:
    def __init__(self, duration_of: Callable[[str, str], float], *, repeat: int = 2, english: bool = True,
                 max_waiting: int = 6, stale_after: float = 20.0, gap: float = 0.3):
        if repeat < 1:
            raise ValueError("repeat must be at least 1")
        self.duration_of = duration_of  # (lang, text) -> seconds
        self.repeat, self.english = repeat, english
        self.max_waiting, self.stale_after, self.gap = max_waiting, stale_after, gap
        self.waiting: deque[Sentence] = deque()
        self.playing: Played | None = None
        self.dropped: list[Sentence] = []
        self._seen: set[tuple[str, int]] = set()
        self._seq = 0

    def add(self, call_key: tuple[str, int], text_zh: str, text_en: str, now: float) -> bool:
        """Queue a call's sentences; False if this call was queued before."""
        if call_key in self._seen:
            return False
        self._seen.add(call_key)
        if len(self._seen) > 2000:
            self._seen = set(list(self._seen)[-1000:])
        self._seq += 1
        for r in range(self.repeat):
            self.waiting.append(self._sentence(call_key, r, "zh", text_zh, now))
            if self.english and text_en:
                self.waiting.append(self._sentence(call_key, r, "en", text_en, now))
        self._drop_stale(now)
        return True

    def _sentence(self, key, repeat: int, lang: str, text: str, now: float) -> Sentence:
        return Sentence(key, self._seq, repeat, lang, text, float(self.duration_of(lang, text)), now)

    def busy(self, now: float) -> bool:
        return self.playing is not None and now < self.playing.end

    def start_next(self, now: float) -> Played | None:
        """The sentence to start now, or None (one is still playing, or nothing waits)."""
        if self.busy(now):
            return None
        self._drop_stale(now)
        if not self.waiting:
            return None
        earliest = self.playing.end + self.gap if self.playing else now
        if now < earliest:
            return None
        s = self.waiting.popleft()
        self.playing = Played(s, now, now + s.duration)
        return self.playing

    def next_start_time(self, now: float) -> float | None:
        """When `start_next` will next have something to start (for a simulated or real timer)."""
        if not self.waiting:
            return None
        if self.playing is None:
            return now
        return max(now, self.playing.end + self.gap)

    def _drop_stale(self, now: float) -> None:
        repeats = [s for s in self.waiting if not s.first]
        if not repeats:
            return
        doomed = {id(s) for s in repeats if now - s.queued_at > self.stale_after}
        excess = len(self.waiting) - self.max_waiting
        for s in repeats:  # oldest first
            if excess <= 0:
                break
            if id(s) not in doomed:
                doomed.add(id(s))
                excess -= 1
        if doomed:
            self.dropped.extend(s for s in self.waiting if id(s) in doomed)
            self.waiting = deque(s for s in self.waiting if id(s) not in doomed)


def simulate(announcer: Announcer, arrivals: list[tuple[float, tuple[str, int], str, str]],
             until: float | None = None) -> list[Played]:
    """Run the announcer over calls arriving at simulated times; what played, in order."""
    played: list[Played] = []
    events = sorted(arrivals, key=lambda a: a[0])
    i, now = 0, 0.0
    while True:
        while i < len(events) and events[i][0] <= now:
            at, key, zh, en = events[i]
            announcer.add(key, zh, en, at)
            i += 1
        p = announcer.start_next(now)
        if p is not None:
            played.append(p)
            continue
        candidates = [t for t in (announcer.next_start_time(now),
                                  events[i][0] if i < len(events) else None,
                                  announcer.playing.end if announcer.busy(now) else None) if t is not None]
        later = [t for t in candidates if t > now]
        if not later or (until is not None and now >= until):
            return played
        now = min(later)
