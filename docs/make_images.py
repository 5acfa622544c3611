"""Render the README's pictures of a real ticket and notice slips with the fake printer.

    .venv/bin/python docs/make_images.py            # writes docs/images/*.png

Each picture is the paper roll of the fake thermal printer after the kiosk's own renderer printed on it,
so the README never shows something the code no longer prints.
"""
from __future__ import annotations

import dataclasses
import sys
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hardware.fakes.printer import FakePrinter  # noqa: E402
from hardware.printing import layouts  # noqa: E402
from hardware.printing.config import PrinterProfile  # noqa: E402
from hardware.printing.render import render  # noqa: E402
from hardware.printing.samples import sample_documents, sample_ticket  # noqa: E402
from onewindow import config  # noqa: E402

# (file name, language, paper mm, text mode, which documents: indexes into ticket / slip / refusal)
PICTURES = [
    ("ticket-zh-80mm.png", "zh", 80, "gb18030", 0),
    ("notice-slip-zh-80mm.png", "zh", 80, "gb18030", 1),
    ("notice-slip-zh-58mm.png", "zh", 58, "gb18030", 1),
    ("notice-slip-en-80mm.png", "en", 80, "gb18030", 1),
    ("ticket-zh-58mm-image-mode.png", "zh", 58, "image", 0),
    ("refusal-slip-zh-80mm.png", "zh", 80, "gb18030", 2),
]


def main(out_dir: Path = ROOT / "docs" / "images") -> list[Path]:
    site = config.load(config.sample_path("county-hall"))
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    docs = [(name, mode, sample_documents(site, None, lang, paper, refusal=True)[index])
            for name, lang, paper, mode, index in PICTURES]
    docs.append(("ticket-zh-80mm-lunch-break.png", "gb18030", lunch_break_ticket(site)))
    for name, mode, doc in docs:
        fake = FakePrinter(doc.paper_mm, chinese_font=mode == "gb18030")
        fake.feed(render(doc, PrinterProfile(doc.paper_mm, mode, native_qr=True, cutter=True)))
        path = out_dir / name
        fake.save_png(path)
        written.append(path)
    return written


def lunch_break_ticket(site):
    """A ticket taken at 12:10, when its windows are closed until 13:30, at a hall with a public address:
    it says when it will be called, and its QR code opens the ticket's page."""
    site = dataclasses.replace(site, public_url="https://ybj.example.gov.cn/hall")
    t = sample_ticket(site, site.catalogue.longest_item(), now=datetime(2026, 11, 23, 12, 10, tzinfo=site.tz))
    t["called_after"] = "2026-11-23T13:30:00+08:00"
    return layouts.ticket(site, t, "zh", 80)


if __name__ == "__main__":
    for p in main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "images"):
        print(p.relative_to(ROOT) if p.is_relative_to(ROOT) else p)
