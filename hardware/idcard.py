"""Resident ID-card reader: one JSON line per card from the reader's module or its SDK bridge.

    reader = IdCardReader("/dev/ttyUSB1", on_card=lambda card: ...).start()
    {"name": "张三", "id": "110101195005010014"}            # what the reader sends (extra keys ignored)

Certified readers (GA 467) decode the card in their security module; their vendor SDK or text mode
gives name and ID number, which this driver reads as a JSON line. `IdCard` never shows its contents in
a log or repr: an ID number and a name stay on the kiosk, and only masked.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Callable

from hardware.lines import LineDevice
from onewindow.personal import mask_id, mask_name

log = logging.getLogger("onewindow.hardware")


@dataclass(frozen=True)
class IdCard:
    name: str = field(repr=False)
    id_number: str = field(repr=False)

    def __repr__(self) -> str:
        return f"IdCard(name={mask_name(self.name)}, id={mask_id(self.id_number)})"


class IdCardReader(LineDevice):
    kind = "ID-card reader"

    def __init__(self, port: str, on_card: Callable[[IdCard], None] | None = None, baudrate: int = 115200, **kw):
        super().__init__(port, baudrate=baudrate, **kw)
        self.on_card = on_card

    def handle(self, text: str) -> None:
        try:
            data = json.loads(text)
        except ValueError:
            log.warning("ID-card reader %s: a line that is not JSON (%d characters) was dropped", self.port, len(text))
            self.dropped += 1
            return
        name, number = (data.get("name"), data.get("id")) if isinstance(data, dict) else (None, None)
        if not isinstance(name, str) or not isinstance(number, str) or not name or len(number) != 18:
            log.warning("ID-card reader %s: a card without a name and an 18-character number was dropped", self.port)
            self.dropped += 1
            return
        if self.on_card is not None:
            self.on_card(IdCard(name=name.strip(), id_number=number.strip().upper()))
