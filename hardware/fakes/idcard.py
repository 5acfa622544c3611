"""A fake ID-card reader on a pty: `present(id_number, name)` is a citizen laying a card on it.

    fake = FakeIdCardReader().start()
    IdCardReader(fake.device, on_card=...).start()
    fake.present("110101195005010014", "张三")      # one JSON line, as the reader's module sends it
    fake.noise(); fake.unplug(); fake.replug()      # faults (see hardware/fakes/scanner.py)
"""
from __future__ import annotations

import json

from hardware.fakes.scanner import FakeLineDevice


class FakeIdCardReader(FakeLineDevice):
    name = "fake ID-card reader"

    def present(self, id_number: str, name: str, **extra) -> None:
        self.send_line(json.dumps({"name": name, "id": id_number, **extra}, ensure_ascii=False))
