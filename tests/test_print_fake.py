"""The fake thermal printer: one command table with the renderer, print speed, an input buffer, and status
answers that queue behind print data like a network printer's."""
from __future__ import annotations

import socket
import time

import pytest

from hardware.fakes.printer import FakePrinter
from hardware.fakes.printer_mechanism import IGNORED, Mechanism
from hardware.printing import escpos as cmd
from hardware.printing.paper import PAPER, align_offset
from tests.support import wait_until


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_every_command_in_the_table_has_a_handler_or_is_knowingly_ignored():
    for c in cmd.COMMANDS:
        assert c.name in IGNORED or hasattr(Mechanism, f"_do_{c.name}") or c.name in ("status", "sync_status"), c.name


def test_the_tokenizer_waits_for_a_whole_command_and_knows_unknown_ones():
    raster = cmd.raster(1, 2, b"\xff\x00")
    assert cmd.next_token(raster[:5]) is None and cmd.next_token(raster).name == "raster"
    assert cmd.next_token(b"\x1d") is None and cmd.next_token(b"\x1d(") is None
    assert [t.name for t in cmd.tokens(b"\x1b\x99ok\n\x07")] == ["unknown", "text", "lf", "unknown"]
    assert [t.name for t in cmd.tokens(cmd.qr_native(b"hi", 6, "M"))] == ["function"] * 5


def test_paper_geometry_and_alignment_have_one_source():
    assert PAPER == {58: (384, 32), 80: (576, 48)}
    assert [align_offset(a, 100, 576) for a in ("left", "center", "right")] == [0, 238, 476]
    assert align_offset("center", 700, 576) == 0  # wider than the paper: starts at the left edge


def test_paper_dots_counts_lines_feeds_rasters_and_cuts():
    data = cmd.INIT + b"a\n" + cmd.size(2, 2) + b"b\n" + cmd.feed(2) + cmd.raster(1, 40, b"\x00" * 40) + cmd.cut()
    assert cmd.paper_dots(data) == 30 + 54 + 60 + 40 + (4 * 30 + 24)


def test_printing_takes_the_time_the_paper_needs_at_the_print_speed():
    clock = Clock()
    fp = FakePrinter(clock=clock, speed_mm_s=100)
    fp.feed(cmd.INIT + b"one\n" + cmd.feed(24) + b"two\n")  # 30+720+30 dots
    assert fp.lines() == ["one"] and fp.busy  # the first line went, the feed takes 0.9 s
    clock.t = 0.9
    fp.advance()
    assert fp.lines() == ["one"]
    clock.t = 1.0
    fp.advance()
    assert fp.lines() == ["one", "two"] and not fp.busy


def test_a_slow_head_takes_at_least_the_line_time_per_line():
    clock = Clock()
    fp = FakePrinter(clock=clock, speed_mm_s=1000, line_time=0.5)
    fp.feed(b"a\nb\nc\n")
    assert fp.lines() == ["a"]
    clock.t = 1.0
    fp.advance()
    assert fp.lines() == ["a", "b", "c"]


def test_a_network_printer_answers_status_only_after_the_data_before_it():
    clock = Clock()
    fp = FakePrinter(clock=clock, speed_mm_s=100, status_behind_data=True)
    fp.feed(b"a\n" + cmd.feed(100) + cmd.status_query(1))
    assert fp.status_queries == []  # still feeding 3000 dots = 3.75 s
    clock.t = 4.0
    fp.advance()
    assert fp.status_queries == [1]


def test_a_serial_printer_answers_status_at_once_even_while_printing():
    clock = Clock()
    fp = FakePrinter(clock=clock, speed_mm_s=100, status_behind_data=False)
    fp.feed(b"a\n" + cmd.feed(100) + cmd.status_query(1) + cmd.SYNC_STATUS)
    assert fp.status_queries == [1]  # DLE EOT: real time; GS r waits for the data before it
    clock.t = 4.0
    fp.advance()
    assert fp.status_queries == [1, -1]


def test_after_a_cut_the_printer_can_go_silent():
    fp = FakePrinter()
    fp.after_cut(1, silent=True)
    fp.feed(b"ticket\n" + cmd.cut())
    assert fp.silent and fp.cuts() == 1
    with pytest.raises(AttributeError):
        fp.after_cut(1, no_such_switch=True)


def test_a_stalled_printer_holds_its_buffer_and_its_answers():
    fp = FakePrinter(status_behind_data=True)
    fp.stalled = True
    fp.feed(b"held\n" + cmd.status_query(1))
    assert fp.lines() == [] and fp.status_queries == []
    fp.stalled = False
    fp.advance()
    assert fp.lines() == ["held"] and fp.status_queries == [1]


def test_a_full_input_buffer_stops_the_printer_reading_its_port():
    clock = Clock()
    fp = FakePrinter(transport="tcp", clock=clock, speed_mm_s=50, buffer_bytes=1024).start()
    try:
        sock = socket.create_connection(("127.0.0.1", fp.port))
        sock.setblocking(False)
        sent, full = 0, False
        block = cmd.raster(72, 10, b"\x55" * 720)  # 10 dot rows in 728 bytes
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and not full:
            try:
                sent += sock.send(block)
            except BlockingIOError:
                full = True
        assert full
        stalled_at, since = len(fp.received), time.monotonic()
        while time.monotonic() - since < 0.2:  # until it has read nothing for 200 ms (a loaded machine)
            time.sleep(0.01)
            if len(fp.received) != stalled_at:
                stalled_at, since = len(fp.received), time.monotonic()
        assert stalled_at <= 1024 + 4096 < sent  # the printer stopped reading its port
        clock.t = 1000.0  # time passes, the head prints, the printer reads again
        assert wait_until(lambda: len(fp.received) > stalled_at, 2)
        sock.close()
    finally:
        fp.stop()
