"""`onewindow display`: the hall display of a site (full screen, speaks the calls)."""
from __future__ import annotations

import argparse
import logging

from onewindow.broker import add_broker_arguments, settings_from_args

log = logging.getLogger("onewindow.display")


def register(sub) -> None:
    p = sub.add_parser("display", help="run a hall display (calls, windows, waiting, voice)",
                       description="Full-screen hall display: the newest call large, recent calls, each "
                                   "window's state, people waiting and the expected wait, the manager's notice; "
                                   "announces each call by voice. Whole at once from the site's retained state.")
    p.add_argument("--site", default="demo-county", help="site id (default: demo-county)")
    add_broker_arguments(p, default="mqtt://127.0.0.1:1883")
    p.add_argument("--zone", default=None,
                   help='show part of the hall: "windows=1-4;types=A,B", or a zone name from --zones')
    p.add_argument("--zones", default=None, metavar="FILE", help="zones file ([zone.NAME] windows/types)")
    p.add_argument("--layout", choices=("landscape", "portrait"), default="landscape")
    p.add_argument("--windowed", action="store_true", help="a window instead of full screen")
    p.add_argument("--size", default=None, metavar="WxH", help="window size with --windowed, e.g. 960x540")
    p.add_argument("--repeat", type=int, default=2, help="times each call is announced (default 2)")
    p.add_argument("--no-english", action="store_true", help="announce in Chinese only")
    p.add_argument("--mute", action="store_true", help="no voice")
    p.add_argument("--voice-dir", default="var/voice",
                   help="voice clips folder; missing clips are made with espeak-ng (default var/voice)")
    p.add_argument("--led", default=None, metavar="FILE",
                   help="also drive window LED displays listed in this file (see hardware/README.md)")
    p.set_defaults(func=run)


def _size(text: str | None) -> tuple[int, int] | None:
    try:
        w, h = (int(x) for x in text.lower().split("x")) if text else (0, 0)
    except ValueError:
        log.error("--size is WIDTHxHEIGHT, e.g. 960x540, not %r: using the layout's own size", text)
        return None
    return (w, h) if w > 0 and h > 0 else None


def run(args: argparse.Namespace) -> int:
    from display.zones import ZoneError, parse_zone

    try:
        zone = parse_zone(args.zone, args.zones)
    except ZoneError as exc:
        log.error("%s", exc)
        return 2
    if args.repeat < 1 or args.repeat > 5:
        log.error("--repeat must be 1-5, not %s", args.repeat)
        return 2
    from display.app import Hall, run_app

    hall = Hall(settings_from_args(args), args.site, zone, voice_dir=args.voice_dir, repeat=args.repeat,
                english=not args.no_english, speak=not args.mute)
    bridge = None
    if args.led:
        from display.led_bridge import start_bridge

        bridge = start_bridge(hall, args.led)
        if bridge is None:
            return 2
    try:
        return run_app(hall, args.layout, fullscreen=not args.windowed, size=_size(args.size))
    finally:
        if bridge is not None:
            bridge.stop()
