"""`onewindow print-sample`: print a sample ticket and notice slip, to test a new site's printer.

    onewindow print-sample --fake-png sample.png             # no printer: render the roll to a PNG
    onewindow print-sample --printer tcp://10.0.0.5:9100     # a real printer
    onewindow print-sample --printer "serial:///dev/ttyUSB0?baudrate=19200" --width 58 --text-mode image
"""
from __future__ import annotations

import argparse
import logging

from hardware.printing.config import PrinterConfigError, printer_from_url
from hardware.printing.connections import REASONS
from hardware.printing.render import render
from hardware.printing.samples import sample_documents

log = logging.getLogger("onewindow.print_sample")


def register(sub) -> None:
    from onewindow import config as cfg

    p = sub.add_parser("print-sample", help="print a sample ticket and notice slip (or render them to a PNG)",
                       description=__doc__.split("\n\n")[0])
    p.add_argument("-c", "--config", default=str(cfg.sample_path()),
                   help="site configuration (TOML); default: the sample county hall")
    p.add_argument("--item", default=None, help="catalogue item code; default: the item with the longest slip")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--printer", metavar="URL",
                       help="serial:///dev/ttyUSB0?baudrate=19200, tcp://HOST:9100, usb://0xVID:0xPID "
                            "or file:///dev/usb/lp0")
    where.add_argument("--fake-png", metavar="OUT.png", help="print on the fake printer and save the roll as PNG")
    p.add_argument("--width", type=int, choices=(58, 80), default=80, help="paper width in mm (default 80)")
    p.add_argument("--lang", choices=("zh", "en"), default="zh", help="language of the slips (default zh)")
    p.add_argument("--text-mode", choices=("gb18030", "image"), default="gb18030",
                   help="gb18030: the printer has a Chinese font; image: send Chinese as pictures")
    p.add_argument("--no-native-qr", action="store_true", help="send QR codes as pictures (printer lacks GS ( k)")
    p.add_argument("--no-cutter", action="store_true", help="the printer has no cutter")
    p.add_argument("--refusal", action="store_true", help="also print a sample refusal slip")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from onewindow import config as cfg

    try:
        site = cfg.load(args.config)
    except cfg.ConfigError as exc:
        print(exc)
        return 1
    try:
        docs = sample_documents(site, args.item, args.lang, args.width, refusal=args.refusal)
    except KeyError as exc:
        print(exc.args[0])
        return 1
    try:
        printer = printer_from_url(args.printer or "file:///dev/null", args.width, args.text_mode,
                                   printer_id="sample", native_qr=not args.no_native_qr,
                                   cutter=not args.no_cutter)
    except PrinterConfigError as exc:
        print(exc)
        return 1
    if args.fake_png:
        from hardware.fakes.printer import FakePrinter

        fake = FakePrinter(args.width, chinese_font=args.text_mode == "gb18030")
        for doc in docs:
            fake.feed(render(doc, printer.profile))
        fake.save_png(args.fake_png)
        print(f"{args.fake_png}: {len(docs)} slip(s), {len(fake.lines())} text lines, {args.width} mm, "
              f"{args.lang}, {args.text_mode}")
        return 0
    from hardware.printing.station import PrintStation
    from hardware.printing.status import part_state

    station = PrintStation(printer).start()
    try:
        st = station.check_status()
        print(f"printer {args.printer}: {part_state(st)}{' - ' + st.detail if st.detail else ''}")
        failed = 0
        for doc in docs:
            job = station.submit(doc)
            ok = job.wait(station.job_seconds(job) + 0.5)
            what = {"ticket": "ticket", "notice_slip": "notice slip", "refusal_slip": "refusal slip"}[doc.kind]
            if ok:
                print(f"printed the {what} ({len(job.data)} bytes)")
            else:
                failed += 1
                text = REASONS.get(job.reason or "", ("", job.reason))[1]
                fate = "the printer did not confirm" if job.state in ("uncertain", "printing") else "FAILED to print"
                print(f"{fate} the {what}: {text} ({job.reason}; {job.detail})")
        return 1 if failed else 0
    finally:
        station.stop()
