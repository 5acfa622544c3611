"""The demo's on-screen devices: the kiosk app and the hall display, each as its own child process.

They open as ordinary windows side by side (kiosk on the left, hall display on the right, sized to fit a
1920-pixel-wide screen together) when a screen is there (`DISPLAY` or `WAYLAND_DISPLAY`). Each connects
with its own device credential from the site's registry (`kiosk-1`, `display-1`); the kiosk prints on a
fake thermal printer; the hall display speaks the calls (espeak-ng clips) unless the voice is off.
"""
from __future__ import annotations

import os
from pathlib import Path

from demo.children import Child, credential_args

KIOSK_SIZE = (800, 500)  # pixels; a real kiosk is 1280x800, full screen
KIOSK_MM = (344, 215)  # the real kiosk's glass, so touch targets keep their size in millimetres
DISPLAY_SIZE = (1120, 630)
KIOSK_DEVICE = "kiosk-1"
DISPLAY_DEVICE = "display-1"


def screen_available(env: dict | None = None) -> bool:
    env = os.environ if env is None else env
    return bool(env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))


def _kivy_env(state: Path, left: int, top: int) -> dict[str, str]:
    """Kivy's settings for a demo window: its own KIVY_HOME in the state dir and a fixed position."""
    home = state / "kivy"
    home.mkdir(parents=True, exist_ok=True)
    return {"KIVY_HOME": str(home), "KIVY_NO_ARGS": "1", "KCFG_GRAPHICS_POSITION": "custom",
            "KCFG_GRAPHICS_LEFT": str(left), "KCFG_GRAPHICS_TOP": str(top)}


def kiosk_settings_file(state: Path) -> Path:
    """The demo kiosk's settings: a window of KIOSK_SIZE, its state in the demo's state dir."""
    path = state / "kiosk.toml"
    w, h = KIOSK_SIZE
    path.write_text(f'[kiosk]\nid = "{KIOSK_DEVICE}"\nscreen_px = [{w}, {h}]\nscreen_mm = [{KIOSK_MM[0]}, '
                    f'{KIOSK_MM[1]}]\nfullscreen = false\nstate_dir = "{(state / "kiosk").as_posix()}"\n',
                    encoding="utf-8")
    return path


def kiosk_child(state: Path, config: Path, broker_url: str, credentials: Path | None) -> Child:
    args = ["kiosk", "-c", str(config), "--broker", broker_url, *credential_args(credentials),
            "--kiosk", str(kiosk_settings_file(state)), "--windowed", "--fake-printer"]
    return Child("kiosk", args, state / "kiosk.log", env=_kivy_env(state, 0, 40))


def display_child(state: Path, site_id: str, broker_url: str, credentials: Path | None, voice: bool) -> Child:
    w, h = DISPLAY_SIZE
    args = ["display", "--site", site_id, "--broker", broker_url, *credential_args(credentials),
            "--windowed", "--size", f"{w}x{h}", "--voice-dir", str(state / "voice")] + ([] if voice else ["--mute"])
    return Child("hall display", args, state / "display.log", env=_kivy_env(state, KIOSK_SIZE[0], 40))
