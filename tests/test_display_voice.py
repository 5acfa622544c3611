"""The display's voice: clips made by espeak-ng, sentences joined with `wave`, espeak-ng for free text,
and real playback through Kivy's audio onto a PCM file (SDL_AUDIODRIVER=disk)."""
from __future__ import annotations

import array
import math
import os
import subprocess
import sys
import textwrap
import time
import wave
from pathlib import Path

import pytest

from display.voice import (Voice, VoiceError, call_clips, clip_texts, normalise_en, normalise_zh, to_wav,
                           wav_seconds, window_words)

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "docs" / "audio" / "call-A023-window-3.wav"


def test_window_numbers_are_said_as_numbers_and_ticket_digits_one_by_one():
    assert window_words(3) == ["digit-3"]
    assert window_words(12) == ["ten", "digit-2"]
    assert window_words(20) == ["digit-2", "ten"]
    assert window_words(105) == ["digit-1", "hundred", "digit-0", "digit-5"]
    assert window_words(110) == ["digit-1", "hundred", "digit-1", "ten"]
    assert call_clips("A023", 3) == ["please", "letter-A", "digit-0", "digit-2", "digit-3", "number-to",
                                     "digit-3", "window-go"]
    assert normalise_zh("请 A023 号") == "请 A 零 二 三 号"
    assert normalise_en("Number A023, please go to window 3") == "Number A 0 2 3, please go to window 3"
    assert len(clip_texts()) == 21


@pytest.fixture(scope="module")
def voice(tmp_path_factory):
    return Voice(tmp_path_factory.mktemp("clips"))


def test_clips_are_made_once_and_a_sites_own_recording_is_kept(voice):
    names = {p.stem for p in voice.clips_dir.glob("*.wav")}
    assert names == set(clip_texts())
    mine = to_wav((1, 2, 22050), b"\1\0" * 2205)
    (voice.clips_dir / "please.wav").write_bytes(mine)
    assert voice.ensure_clips() == []
    assert (voice.clips_dir / "please.wav").read_bytes() == mine


def test_a_call_is_joined_from_clips_in_milliseconds(voice):
    voice._cache.clear()
    start = time.perf_counter()
    data = voice.render("zh", "请 A023 号到 3 号窗口办理")
    took = time.perf_counter() - start
    parts = call_clips("A023", 3)
    expected = sum(wav_seconds((voice.clips_dir / f"{n}.wav").read_bytes()) for n in parts) + 0.04 * (len(parts) - 1)
    assert abs(wav_seconds(data) - expected) < 0.01
    assert took < 0.5  # ~1 ms measured; generous for a loaded machine


def test_free_text_and_english_fall_back_to_espeak(voice):
    assert 0.5 < wav_seconds(voice.render("zh", "请保管好随身物品")) < 10
    assert 1.0 < wav_seconds(voice.render("en", "Number A023, please go to window 3")) < 10


def test_a_missing_clip_falls_back_to_espeak_and_an_odd_one_is_refused(tmp_path):
    v = Voice(tmp_path, generate=False)
    with pytest.raises(VoiceError):
        v.join(["please"])
    assert wav_seconds(v.render("zh", "请 A023 号到 3 号窗口办理")) > 1  # espeak-ng said it
    (tmp_path / "a.wav").write_bytes(to_wav((1, 2, 22050), b"\0\0" * 100))
    (tmp_path / "b.wav").write_bytes(to_wav((1, 2, 16000), b"\0\0" * 100))
    with pytest.raises(VoiceError):
        v.join(["a", "b"])


def test_the_sample_announcement_in_docs_is_what_the_voice_says(tmp_path):
    data = Voice(tmp_path / "clips").render("zh", "请 A023 号到 3 号窗口办理")
    if not SAMPLE.exists() or SAMPLE.read_bytes() != data:
        SAMPLE.parent.mkdir(parents=True, exist_ok=True)
        SAMPLE.write_bytes(data)
    with wave.open(str(SAMPLE)) as w:
        assert w.getnframes() / w.getframerate() > 2


# --- real audio -------------------------------------------------------------------------------

def tone_clips(folder: Path) -> None:
    """Short tones as a site's own clips: each digit a different length, so each sentence is too."""
    rate = 22050
    folder.mkdir(parents=True, exist_ok=True)
    for name in clip_texts():
        ms = 60 + 12 * int(name[-1]) if name.startswith("digit-") else 50
        n = rate * ms // 1000
        samples = array.array("h", (int(8000 * math.sin(2 * math.pi * 440 * i / rate)) for i in range(n)))
        (folder / f"{name}.wav").write_bytes(to_wav((1, 2, rate), samples.tobytes()))


PLAYER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from kivy.clock import Clock
    from display.announcer import Announcer
    from display.model import call_from
    from display.speaker import KivyPlayer, Speaker
    from display.voice import Voice
    clips, out = Path(sys.argv[1]), Path(sys.argv[2])
    voice = Voice(clips, generate=False)
    speaker = Speaker(Announcer(voice.seconds, repeat=1, english=False, gap=0.3), voice, KivyPlayer(), out)
    start = time.monotonic()
    calls = [call_from({"ticket": f"t:2026-11-23:A00{i}", "number": f"A{i:03d}", "window": i}) for i in range(1, 11)]
    while time.monotonic() - start < 25:
        Clock.tick()
        if calls and time.monotonic() - start >= 0.1 * (10 - len(calls)):
            speaker.say_call(calls.pop(0))          # ten calls within one second
        speaker.poll()
        if not calls and len(speaker.played) == 10 and not speaker.player.busy() and not speaker.announcer.waiting:
            break
        time.sleep(0.005)
    time.sleep(0.4)
    for p in speaker.played:
        print(p.sentence.text, p.sentence.duration, flush=True)
""")


def sound_segments(raw: bytes, rate: int = 44100, channels: int = 2, gap_s: float = 0.15) -> list[float]:
    """Lengths (s) of the sounds in a 16-bit PCM stream, split at silences longer than gap_s."""
    samples = array.array("h", raw[: len(raw) - len(raw) % 2])
    frame_ms = rate // 1000 * channels
    loud = [max(map(abs, samples[i:i + frame_ms]), default=0) > 500 for i in range(0, len(samples), frame_ms)]
    segments, start, quiet = [], None, 0
    for ms, on in enumerate(loud):
        if on:
            if start is None:
                start = ms
            quiet = 0
        elif start is not None:
            quiet += 1
            if quiet > gap_s * 1000:
                segments.append((ms - quiet + 1 - start) / 1000)
                start, quiet = None, 0
    if start is not None:
        segments.append((len(loud) - quiet - start) / 1000)
    return segments


def test_ten_calls_in_one_second_are_all_played_in_order_none_cut_off(tmp_path):
    clips = tmp_path / "clips"
    tone_clips(clips)
    raw = tmp_path / "out.raw"
    env = dict(os.environ, SDL_AUDIODRIVER="disk", SDL_DISKAUDIOFILE=str(raw), KIVY_NO_ARGS="1",
               KIVY_HOME=str(tmp_path / "kivy"), KIVY_LOG_MODE="PYTHON", PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", PLAYER, str(clips), str(tmp_path / "say")], env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    said = [line.rsplit(" ", 1) for line in out.stdout.strip().splitlines()]
    assert [s[0] for s in said] == [f"请 A{i:03d} 号到 {i} 号窗口办理" for i in range(1, 11)]
    expected = [float(s[1]) for s in said]
    heard = sound_segments(raw.read_bytes())
    assert len(heard) == 10, heard  # ten separate sentences: none overlapping another
    for h, e in zip(heard, expected):  # each as long as its WAV, in the order called: none cut off
        assert abs(h - e) < 0.03, (heard, expected)
