"""Colours and sizes of the kiosk screen, and the checks that keep them readable.

Sizes are in millimetres of the real screen (`KioskSettings.screen_mm`/`screen_px` turn them into
pixels), so a button is as big under a finger on a 15" kiosk as on a 21" one. Every text colour is
listed with the background it is drawn on; `contrast()` is WCAG 2's ratio, and a test holds every pair
at 4.5:1 or more.
"""
from __future__ import annotations

FONT = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"  # Debian fonts-wqy-microhei: Chinese and Latin

WHITE = "#FFFFFF"
INK = "#1A1A1A"
BLUE = "#0B4F8A"
BLUE_DOWN = "#083A66"
GREEN = "#0A6B2F"
GREEN_DOWN = "#074F22"
GREY = "#3D3D3D"
GREY_DOWN = "#262626"
LIGHT = "#E8EEF5"
DISABLED_BG = "#C9CED4"
WARNING = "#9A1B1B"
NOTE = "#474747"
BANNER_BG = "#FFF4CC"

# (text colour, background colour) for each kind of thing on screen
PAIRS = {
    "title": (WHITE, BLUE),
    "body": (INK, WHITE),
    "heading": (BLUE, WHITE),
    "alert": (WARNING, WHITE),
    "note": (NOTE, WHITE),
    "warning": (WARNING, WHITE),
    "number": (BLUE, WHITE),
    "banner": (INK, BANNER_BG),
    "choice": (WHITE, BLUE),
    "choice_down": (WHITE, BLUE_DOWN),
    "primary": (WHITE, GREEN),
    "primary_down": (WHITE, GREEN_DOWN),
    "toggle": (INK, LIGHT),
    "toggle_down": (INK, DISABLED_BG),
    "nav": (WHITE, GREY),
    "nav_down": (WHITE, GREY_DOWN),
    "disabled": (INK, DISABLED_BG),
}

# millimetres on the screen
SIZES_MM = {
    "title": 9.0, "body": 7.0, "heading": 7.5, "note": 6.5, "warning": 7.5, "alert": 10.0, "number": 48.0, "banner": 6.0,
    "choice": 7.5, "choice_sub": 5.5, "primary": 9.0, "toggle": 6.0, "nav": 6.5,
    "choice_height": 26.0, "primary_height": 30.0, "toggle_height": 20.0, "nav_height": 18.0,
    "title_height": 18.0, "padding": 4.0,
}
LARGE = 1.35  # large-text mode: every text this much bigger


def rgba(hex_colour: str, alpha: float = 1.0) -> tuple[float, float, float, float]:
    h = hex_colour.lstrip("#")
    return (int(h[0:2], 16) / 255, int(h[2:4], 16) / 255, int(h[4:6], 16) / 255, alpha)


def luminance(hex_colour: str) -> float:
    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b, _ = rgba(hex_colour)
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(fg: str, bg: str) -> float:
    """WCAG 2 contrast ratio, 1 to 21."""
    a, b = sorted((luminance(fg), luminance(bg)), reverse=True)
    return (a + 0.05) / (b + 0.05)
