"""The display's voice: sentences joined from recorded clips, espeak-ng for anything else. Offline only.

A clips folder holds one WAV per word (`digit-0.wav` ... `digit-9.wav`, `ten.wav`, `hundred.wav`,
`letter-A.wav` ..., `please.wav`, `number-to.wav`, `window-go.wav`). Missing clips are made once with
espeak-ng `-v cmn-latn-pinyin` (numbers written out, which it reads right; letters with `-v en-us`); a site replaces any of them
with a human recording of the same format (mono or stereo 16-bit PCM, one sample rate for all clips).
"请 A023 号到 3 号窗口办理" = please + A + 0 2 3 + number-to + 三 + window-go, joined with `wave`
in a few milliseconds. English and free text are synthesised by espeak-ng (35-75 ms a sentence).
"""
from __future__ import annotations

import array
import hashlib
import io
import logging
import re
import shutil
import subprocess
import wave
from pathlib import Path

log = logging.getLogger("onewindow.voice")

DIGITS_ZH = "零一二三四五六七八九"
PHRASES = {"please": "请", "number-to": "号 到", "window-go": "号 窗口 办理", "ten": "十", "hundred": "百"}
CALL_RE = re.compile(r"请\s*([A-Z]{1,2})(\d{1,4})\s*号到\s*(\d{1,3})\s*号窗口办理")
ESPEAK = "espeak-ng"
PAUSE_MS = 40  # between clips


class VoiceError(RuntimeError):
    """No clip and no espeak-ng: the sentence cannot be said."""


def clip_texts(letters: str = "ABCDEF") -> dict[str, str]:
    """Clip name -> what espeak-ng says for it (the ~20 clips of a site with these prefixes)."""
    texts = {f"digit-{i}": d for i, d in enumerate(DIGITS_ZH)}
    texts.update(PHRASES)
    texts.update({f"letter-{c}": c for c in letters})
    return texts


def window_words(n: int) -> list[str]:
    """A window number as spoken: 3 -> 三, 12 -> 十二, 20 -> 二十, 105 -> 一百零五 (clip names)."""
    if n < 10:
        return [f"digit-{n}"]
    if n < 100:
        tens, ones = divmod(n, 10)
        out = ([] if tens == 1 else [f"digit-{tens}"]) + ["ten"]
        return out + ([f"digit-{ones}"] if ones else [])
    hundreds, rest = divmod(n, 100)
    out = [f"digit-{hundreds}", "hundred"]
    if rest == 0:
        return out
    if rest < 10:
        return out + ["digit-0", f"digit-{rest}"]
    return out + ([f"digit-{rest // 10}", "ten"] if rest >= 10 else []) + ([f"digit-{rest % 10}"] if rest % 10 else [])


def call_clips(number: str, window: int) -> list[str]:
    """The clip names of "请 {number} 号到 {window} 号窗口办理"; ticket digits are read one by one."""
    letters = "".join(c for c in number if c.isalpha())
    digits = number[len(letters):]
    return (["please"] + [f"letter-{c}" for c in letters] + [f"digit-{d}" for d in digits]
            + ["number-to"] + window_words(window) + ["window-go"])


def normalise_zh(text: str) -> str:
    """Digits read one by one, so espeak-ng says "A 零二三" and not 零二十三."""
    return re.sub(r"\d", lambda m: " " + DIGITS_ZH[int(m.group())], text)


def normalise_en(text: str) -> str:
    """'Number A023' -> 'Number A 0 2 3' (a ticket number is read digit by digit)."""
    return re.sub(r"\b([A-Z]{1,2})(\d+)\b", lambda m: m.group(1) + " " + " ".join(m.group(2)), text)


def espeak_wav(text: str, voice: str) -> bytes:
    exe = shutil.which(ESPEAK)
    if exe is None:
        raise VoiceError("espeak-ng is not installed (Debian: apt-get install espeak-ng)")
    out = subprocess.run([exe, "-v", voice, "--stdout", text], capture_output=True, timeout=20)
    if out.returncode != 0 or not out.stdout:
        raise VoiceError(f"espeak-ng failed on {text!r}: {out.stderr.decode(errors='replace')[:200]}")
    return _fix_stdout_wav(out.stdout)


def _fix_stdout_wav(data: bytes) -> bytes:
    """espeak-ng --stdout writes unknown lengths into the header; rewrite the WAV properly."""
    channels = int.from_bytes(data[22:24], "little")
    rate = int.from_bytes(data[24:28], "little")
    width = int.from_bytes(data[34:36], "little") // 8
    return to_wav((channels, width, rate), data[44:])


def to_wav(params: tuple[int, int, int], frames: bytes) -> bytes:
    channels, width, rate = params
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(frames[: len(frames) - len(frames) % (channels * width)])
    return buf.getvalue()


def read_wav(data: bytes) -> tuple[tuple[int, int, int], bytes]:
    with wave.open(io.BytesIO(data), "rb") as w:
        return (w.getnchannels(), w.getsampwidth(), w.getframerate()), w.readframes(w.getnframes())


def wav_seconds(data: bytes) -> float:
    with wave.open(io.BytesIO(data), "rb") as w:
        return w.getnframes() / float(w.getframerate())


def trim_silence(params: tuple[int, int, int], frames: bytes, threshold: int = 300, keep_ms: int = 15) -> bytes:
    """Cut the silence espeak-ng puts before and after a word (keeps `keep_ms` either side)."""
    channels, width, rate = params
    step = channels * width * max(1, rate // 1000)  # one millisecond
    chunks = [frames[i:i + step] for i in range(0, len(frames), step)]
    loud = [i for i, c in enumerate(chunks) if width == 2 and len(c) % 2 == 0
            and max(map(abs, array.array("h", c)), default=0) > threshold]
    if not loud:
        return frames
    a, b = max(0, loud[0] - keep_ms), min(len(chunks), loud[-1] + 1 + keep_ms)
    return b"".join(chunks[a:b])


class Voice:
    """Renders a sentence to WAV bytes: joined clips for calls, espeak-ng for the rest."""

    def __init__(self, clips_dir: str | Path, *, letters: str = "ABCDEF", english_voice: str = "en-us",
                 generate: bool = True):
        self.clips_dir = Path(clips_dir)
        self.english_voice = english_voice
        self._cache: dict[str, bytes] = {}
        if generate:
            self.ensure_clips(letters)

    def ensure_clips(self, letters: str = "ABCDEF") -> list[str]:
        """Make the clips that are missing (never overwrites a site's own); the names made."""
        self.clips_dir.mkdir(parents=True, exist_ok=True)
        made = []
        for name, text in clip_texts(letters).items():
            path = self.clips_dir / f"{name}.wav"
            if path.exists():
                continue
            try:
                # A ticket letter is said as the letter ("A" as "ei", as halls say it), not as a pinyin vowel.
                voice = "en-us" if name.startswith("letter-") else "cmn-latn-pinyin"
                params, frames = read_wav(espeak_wav(text, voice))
            except VoiceError as exc:
                log.warning("clip %s not made: %s", name, exc)
                continue
            path.write_bytes(to_wav(params, trim_silence(params, frames)))
            made.append(name)
        if made:
            log.info("made %d voice clips in %s with espeak-ng", len(made), self.clips_dir)
        return made

    def join(self, names: list[str]) -> bytes:
        """One WAV from clips, with a short pause between them; VoiceError if one is missing or odd."""
        params = None
        out = []
        for name in names:
            path = self.clips_dir / f"{name}.wav"
            if not path.exists():
                raise VoiceError(f"no clip {path.name}")
            p, frames = read_wav(path.read_bytes())
            if params is not None and p != params:
                raise VoiceError(f"clip {path.name} has format {p}, the others {params}")
            params = p
            if out:
                out.append(b"\0" * (p[0] * p[1] * p[2] * PAUSE_MS // 1000))
            out.append(frames)
        if params is None:
            raise VoiceError("no clips")
        return to_wav(params, b"".join(out))

    def render(self, lang: str, text: str) -> bytes:
        """The WAV of one sentence ("zh" or "en"); cached."""
        key = f"{lang}:{text}"
        if key not in self._cache:
            self._cache[key] = self._render(lang, text)
            if len(self._cache) > 200:
                self._cache.pop(next(iter(self._cache)))
        return self._cache[key]

    def _render(self, lang: str, text: str) -> bytes:
        if lang == "zh":
            m = CALL_RE.fullmatch(text.strip())
            if m:
                try:
                    return self.join(call_clips(m.group(1) + m.group(2), int(m.group(3))))
                except VoiceError as exc:
                    log.warning("clips could not say %r (%s); espeak-ng says it", text, exc)
            return espeak_wav(normalise_zh(text), "cmn-latn-pinyin")
        return espeak_wav(normalise_en(text), self.english_voice)

    def seconds(self, lang: str, text: str) -> float:
        """How long the sentence plays (the announcer's duration_of)."""
        try:
            return wav_seconds(self.render(lang, text))
        except VoiceError as exc:
            log.warning("cannot say %r: %s", text, exc)
            return 0.0

    def file_for(self, lang: str, text: str, folder: str | Path) -> Path:
        """The sentence written to a WAV file (players load files); named by content."""
        data = self.render(lang, text)
        path = Path(folder) / f"{lang}-{hashlib.sha1(data).hexdigest()[:16]}.wav"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        return path
