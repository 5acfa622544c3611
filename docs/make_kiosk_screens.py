"""Screenshots of every kiosk screen in Chinese and English, made by tapping through the real app.

    .venv/bin/python docs/make_kiosk_screens.py            # writes docs/images/kiosk-*.png

The real Kivy app runs offscreen (SDL_VIDEODRIVER=offscreen) against an in-process queue server and a
fake thermal printer; `kiosk/tour.py` taps each button as a finger would and takes a screenshot of each
screen, so the README never shows a screen the code no longer draws. Tests call `make()` too.
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kiosk.tour import kivy_env, run_tour  # noqa: E402,F401  (tests use both from here)


def make(folder: Path | str = ROOT / "docs" / "images") -> dict:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        return run_tour(["--local", "--script", "tour", "--shots", str(folder)], Path(tmp) / "tour.json")


if __name__ == "__main__":
    r = make()
    for path in r["shots"]:
        print(path)
    sys.exit(1 if r["errors"] else 0)
