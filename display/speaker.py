"""Plays what the announcer says, in real time, through Kivy's audio (SoundLoader).

    speaker = Speaker(announcer, voice, KivyPlayer(), folder)
    model.on_new_call(speaker.say_call)         # any thread
    Clock.schedule_interval(lambda dt: speaker.poll(), 0.05)   # the UI thread

`poll` starts the next sentence only when the announcer allows it and the player has finished the
previous one, so a sentence is never cut off even if the sound card runs late.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from pathlib import Path
from typing import Callable

from display.announcer import Announcer, Played

log = logging.getLogger("onewindow.speaker")


class KivyPlayer:
    """One sound at a time through kivy.core.audio; call from the Kivy thread."""

    def __init__(self) -> None:
        self._sound = None

    def busy(self) -> bool:
        return self._sound is not None and self._sound.state == "play"

    def play(self, path: Path) -> None:
        from kivy.core.audio import SoundLoader

        if self._sound is not None:
            self._sound.unload()
        self._sound = SoundLoader.load(str(path))
        if self._sound is None:
            log.warning("no audio provider could load %s", path)
            return
        self._sound.play()


class Speaker:
    def __init__(self, announcer: Announcer, voice, player, folder: str | Path,
                 clock: Callable[[], float] = time.monotonic):
        self.announcer, self.voice, self.player = announcer, voice, player
        self.folder = Path(folder)
        self.clock = clock
        self._lock = threading.Lock()
        self.played: list[Played] = []
        self._free_since: float | None = None  # when the player was last seen finished
        self._inbox: queue.Queue | None = None

    def say_call(self, call) -> None:
        """Queue a call (any thread, returns at once): sentences are rendered on the speaker's own thread
        (espeak-ng for English takes ~0.1 s), in the order the calls came."""
        if self._inbox is None:
            self._inbox = queue.Queue()
            threading.Thread(target=self._render_calls, name="speaker", daemon=True).start()
        self._inbox.put((call, self.clock()))

    def _render_calls(self) -> None:
        while True:
            call, at = self._inbox.get()
            try:
                for lang, text in (("zh", call.text_zh), ("en", call.text_en)):
                    if lang == "zh" or self.announcer.english:
                        self.voice.seconds(lang, text)  # renders and caches it
            except Exception:
                log.exception("could not render the call %s", call.number)
            with self._lock:
                self.announcer.add(call.key, call.text_zh, call.text_en, at)

    def idle(self) -> bool:
        """Nothing waiting to be rendered, said or playing."""
        return ((self._inbox is None or self._inbox.empty()) and not self.announcer.waiting
                and not self.player.busy())

    def poll(self) -> Played | None:
        now = self.clock()
        if self.player.busy():
            self._free_since = None
            return None
        if self._free_since is None:
            self._free_since = now
        if now - self._free_since < self.announcer.gap:  # the pause after the sound really ended
            return None
        with self._lock:
            p = self.announcer.start_next(now)
        if p is None:
            return None
        self._free_since = None
        try:
            self.player.play(self.voice.file_for(p.sentence.lang, p.sentence.text, self.folder))
        except Exception:
            log.exception("could not play %r", p.sentence.text)
        self.played.append(p)
        del self.played[:-100]
        return p
