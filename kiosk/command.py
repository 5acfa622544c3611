"""`onewindow kiosk`: the touch screen citizens take a number from."""
from __future__ import annotations

import argparse
import logging

from onewindow.broker import add_broker_arguments, settings_from_args

log = logging.getLogger("onewindow.kiosk")


def register(sub) -> None:
    from onewindow.config import add_config_argument

    p = sub.add_parser("kiosk", help="run a kiosk: the touch screen citizens take a number from",
                       description="Run the kiosk app (Kivy, full screen): business types, items, the one-time "
                                   "notice, take a number; prints the ticket and notice slip; reads ID cards and "
                                   "QR codes for priority and appointments; publishes its device status.")
    add_config_argument(p)
    add_broker_arguments(p, default="mqtt://127.0.0.1:1883")
    p.add_argument("--kiosk", metavar="TOML", help="kiosk settings: [kiosk] and [[printer]] tables "
                                                   "(default: built-in settings, no printer)")
    p.add_argument("--id", help="device id (overrides kiosk.id)")
    p.add_argument("--windowed", action="store_true", help="a window instead of full screen")
    p.add_argument("--fake-printer", action="store_true",
                   help="print on a fake thermal printer (demos, trying the kiosk without hardware)")
    p.add_argument("--fake-scanner", action="store_true", help="a fake QR scanner and ID-card reader on ptys")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import dataclasses

    from onewindow.config import site_or_report
    from kiosk import settings as kiosk_settings

    site = site_or_report(args)
    if site is None:
        return 1
    try:
        settings = kiosk_settings.load(args.kiosk)
    except kiosk_settings.KioskSettingsError as exc:
        print(exc)
        return 1
    broker = settings_from_args(args)
    if args.id:
        settings = dataclasses.replace(settings, id=args.id)
    elif broker.username and broker.username != settings.id:
        # On a locked-down broker a device speaks only under its own user name (the ACL's %u).
        log.info("kiosk id %s from the broker user name (kiosk.id was %s)", broker.username, settings.id)
        settings = dataclasses.replace(settings, id=broker.username)
    fakes: list = []
    if args.fake_printer:
        from hardware.fakes.printer import FakePrinter
        from hardware.printing.config import printer_from_url

        fake = FakePrinter(paper_mm=80, transport="tcp", name=settings.id).start()
        fakes.append(fake)
        settings = dataclasses.replace(settings, printers=(printer_from_url(fake.url, printer_id="main"),))
        log.info("printing on a fake thermal printer at %s", fake.url)
    devices = _devices(settings, args.fake_scanner, fakes)
    return _run_app(site, settings, broker, devices, fakes, fullscreen=False if args.windowed else None)


def _devices(settings, fake: bool, fakes: list) -> dict:
    """The QR scanner and the ID-card reader, from the settings (or fakes on ptys)."""
    from hardware.idcard import IdCardReader
    from hardware.scanner import QrScanner

    scanner, idcard = settings.scanner, settings.idcard
    if fake:
        from hardware.fakes.idcard import FakeIdCardReader
        from hardware.fakes.scanner import FakeScanner

        fs, fi = FakeScanner().start(), FakeIdCardReader().start()
        fakes += [fs, fi]
        scanner, idcard = fs.device, fi.device
        log.info("fake QR scanner on %s, fake ID-card reader on %s", scanner, idcard)
    out = {}
    if scanner:
        out["scanner"] = QrScanner(scanner)
    if idcard:
        out["idcard"] = IdCardReader(idcard)
    return out


def _run_app(site, settings, broker, devices: dict, fakes: list, fullscreen) -> int:
    import signal
    import threading

    from kiosk.app import make_app, prepare
    from kiosk.runtime import KioskRuntime
    from onewindow.mqtt import MqttTransport

    stop = threading.Event()
    running: dict = {}

    def on_signal(*_):
        stop.set()
        if "app" in running:
            from kivy.clock import Clock

            Clock.schedule_once(lambda dt: running["app"].stop(), 0)

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)
    transport = MqttTransport(broker, site.site_id, settings.id, role="kiosk")
    rt = KioskRuntime(site, settings, transport, devices=devices)
    if "scanner" in devices:
        devices["scanner"].on_code = lambda code: rt.presenter.identified(qr=code)
    if "idcard" in devices:
        devices["idcard"].on_card = lambda card: rt.presenter.identified(card_id=card.id_number, name=card.name)
    try:
        rt.start(timeout=None)  # the screen says "out of service" until the broker and server are there
        prepare(settings, fullscreen=fullscreen)
        app = make_app(rt.presenter, settings)
        running["app"] = app
        if not stop.is_set():
            app.run()
    finally:
        rt.stop()
        for f in fakes:
            f.stop()
    return 0
