"""Screenshots of every kiosk screen in Chinese and English, made by tapping through the real app.

    .venv/bin/python docs/make_kiosk_screens.py            # writes docs/images/kiosk-*.png

The real Kivy app runs offscreen (SDL_VIDEODRIVER=offscreen) against an in-process queue server and a
fake thermal printer; `kiosk/tour.py` taps each button as a finger would and takes a screenshot of each
screen, so the README never shows a screen the code no longer draws. Tests call `make()` too.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def kivy_env(video: str = "offscreen") -> dict:
    env = dict(os.environ)
    env.update({"SDL_VIDEODRIVER": video, "KIVY_NO_ARGS": "1", "KIVY_CLIPBOARD": "sdl2", "SDL_AUDIODRIVER": "dummy",
                "KIVY_HOME": tempfile.mkdtemp(prefix="onewindow-kivy-"), "KIVY_NO_FILELOG": "1",
                "KIVY_LOG_MODE": "PYTHON", "PYTHONPATH": str(ROOT)})
    return env


def run_tour(args: list[str], out: Path, video: str = "offscreen", wrapper: list[str] | None = None,
             timeout: float = 60) -> dict:
    """Run `python -m kiosk.tour ARGS --out OUT` in its own process; its JSON result."""
    cmd = [*(wrapper or []), sys.executable, "-m", "kiosk.tour", *args, "--out", str(out)]
    proc = subprocess.run(cmd, cwd=ROOT, env=kivy_env(video), capture_output=True, text=True, timeout=timeout)
    if not out.exists():
        raise RuntimeError(f"the kiosk tour wrote no result (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    result = json.loads(out.read_text(encoding="utf-8"))
    result["returncode"], result["stderr_tail"] = proc.returncode, proc.stderr[-3000:]
    return result


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
