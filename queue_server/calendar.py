"""Service days and opening hours, computed from a time passed in (never read from a clock)."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from onewindow.config import SiteConfig, Span


class HallCalendar:
    def __init__(self, site: SiteConfig):
        self.site = site
        self.tz = ZoneInfo(site.timezone)
        self._reset = timedelta(hours=site.day_reset.hour, minutes=site.day_reset.minute)
        self._day_cache: tuple[float, float, str] = (0.0, -1.0, "")  # [start, end) -> day
        self._spans_cache: dict[date, dict[int, tuple[tuple[float, float], ...]]] = {}

    def local(self, now: float) -> datetime:
        return datetime.fromtimestamp(now, self.tz)

    def iso(self, now: float) -> str:
        return self.local(now).isoformat(timespec="seconds")

    def service_day(self, now: float) -> str:
        """The service day `now` belongs to: the local date, shifted back by the daily reset time."""
        start, end, day = self._day_cache
        if start <= now < end:
            return day
        local = self.local(now) - self._reset
        d = local.date()
        day_start = datetime.combine(d, time(0), self.tz) + self._reset
        day_end = datetime.combine(d + timedelta(days=1), time(0), self.tz) + self._reset
        self._day_cache = (day_start.timestamp(), day_end.timestamp(), d.isoformat())
        return d.isoformat()

    def at(self, day: date, t: time) -> float:
        return datetime.combine(day, t, self.tz).timestamp()

    def within(self, now: float, spans: tuple[Span, ...] | None) -> bool:
        """Is `now` inside the given spans (None: the site's opening hours for that weekday)?"""
        local = self.local(now)
        if spans is None:
            spans = self.site.hours_on(local.weekday())
        t = local.time()
        return any(s.contains(t) for s in spans)

    def next_open(self, now: float, spans: tuple[Span, ...] | None, skip_today: bool = False) -> float | None:
        """The start of the next span after `now` (searching two weeks ahead), or None."""
        local = self.local(now)
        for offset in range(0, 15):
            d = local.date() + timedelta(days=offset)
            if offset == 0 and skip_today:
                continue
            day_spans = spans if spans is not None else self.site.hours_on(d.weekday())
            if spans is not None and not self.site.hours_on(d.weekday()):
                continue  # issuing hours apply only on days the site is open
            for s in day_spans:
                start = self.at(d, s.start)
                if start > now:
                    return start
        return None

    def window_spans(self, number: int, now: float) -> tuple[tuple[float, float], ...]:
        """The working spans (epoch seconds) of window `number` on the local date of `now`: its own
        `hours` on days the site opens, else the site's hours."""
        d = self.local(now).date()
        by_window = self._spans_cache.get(d)
        if by_window is None:
            site_spans = self.site.hours_on(d.weekday())
            by_window = {}
            for w in self.site.windows:
                spans = (w.hours if w.hours is not None else site_spans) if site_spans else ()
                by_window[w.number] = tuple((self.at(d, s.start), self.at(d, s.end)) for s in spans)
            if len(self._spans_cache) > 8:
                self._spans_cache.clear()
            self._spans_cache[d] = by_window
        return by_window.get(number, ())
