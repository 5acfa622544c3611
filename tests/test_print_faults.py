"""Printer status and faults, over a real pty and a real TCP port, with the fake printer misbehaving."""
from __future__ import annotations

import os
import time

import pytest

from hardware.fakes.printer import FakePrinter
from hardware.printing.config import PrinterConfigError, printer_from_url
from hardware.printing.connections import PrinterFault, open_connection
from hardware.printing.status import decode, part_state, query
from hardware.printing.station import PrintStation

JOB = b"\x1b@hello\nworld\n"


@pytest.fixture(params=["pty", "tcp"])
def fake(request):
    printer = FakePrinter(80, transport=request.param, name=request.param).start()
    yield printer
    printer.stop()


@pytest.fixture
def station(fake):
    st = PrintStation(printer_from_url(fake.url, 80, printer_id="k1"), poll_interval=60).start()
    yield st
    st.stop()


def print_and_time(station, data=JOB, wait=5.0):
    started = time.monotonic()
    job = station.submit(data)
    job.wait(wait)
    return job, time.monotonic() - started


# ---------------------------------------------------------------- decoding

@pytest.mark.parametrize("raw, problem, paper", [
    (b"\x12\x12\x12", None, "ok"),
    (b"\x12\x12\x1e", None, "low"),
    (b"\x1a\x32\x7e", "paper_out", "out"),
    (b"\x1a\x16\x12", "cover_open", "ok"),
    (b"\x1a\x12\x12", "offline", "ok"),
    (b"\x1a\x52\x12", "printer_error", "ok"),
    (b"\xff\x12\x12", "bad_reply", "unknown"),
    (b"\x12\x12", "bad_reply", "unknown"),
    (b"\x12\x12\x12\x12", "bad_reply", "unknown"),
])
def test_status_bytes_decode_into_what_a_clerk_must_do(raw, problem, paper):
    st = decode(raw)
    assert (st.problem, st.paper) == (problem, paper)


def test_the_fake_answers_each_status_query_like_a_printer():
    fp = FakePrinter()
    assert [fp.status_byte(n) for n in (1, 2, 4)] == [0x12, 0x12, 0x12]
    fp.paper_low = True
    assert fp.status_byte(4) == 0x1E
    fp.paper_out = True
    assert [fp.status_byte(n) for n in (1, 2, 4)] == [0x1A, 0x32, 0x7E]
    fp.paper_out, fp.paper_low, fp.cover_open = False, False, True
    assert [fp.status_byte(n) for n in (1, 2, 4)] == [0x1A, 0x16, 0x12]


# ---------------------------------------------------------------- over a port

def test_a_healthy_printer_prints_and_reports_ready(fake, station):
    job, elapsed = print_and_time(station)
    assert job.ok and job.state == "printed" and elapsed < 1
    fake.wait_idle()
    assert fake.lines() == ["hello", "world"]
    assert station.status.ok and station.status.paper == "ok"
    assert fake.status_queries == [1, 2, 4, -1, -1, 1, 2, 4]  # before (+ does it answer GS r 1?); after: GS r 1, DLE EOT


def test_paper_out_before_the_job_prints_nothing(fake, station):
    fake.paper_out = True
    job, elapsed = print_and_time(station)
    assert (job.state, job.reason) == ("failed", "paper_out") and "before printing" in job.detail
    assert elapsed < 1 and fake.lines() == [] and fake.lost_bytes == 0  # the job was never sent


def test_cover_open(fake, station):
    fake.cover_open = True
    job, _ = print_and_time(station)
    assert job.reason == "cover_open" and station.status.cover_open


def test_paper_low_still_prints_and_shows_in_the_status(fake, station):
    fake.paper_low = True
    job, _ = print_and_time(station)
    assert job.ok and station.status.paper_low


def test_a_silent_printer_costs_one_short_timeout_not_a_hang(fake, station):
    fake.silent = True
    job, elapsed = print_and_time(station)
    assert job.reason == "no_answer" and 0.25 <= elapsed < 1.0


def test_garbage_status_replies_are_a_fault_not_a_crash(fake, station):
    fake.garbage = True
    job, elapsed = print_and_time(station)
    assert job.reason == "bad_reply" and "unexpected status bytes" in job.detail and elapsed < 1
    fake.garbage = False
    assert print_and_time(station)[0].ok  # and the station carries on


def test_an_unplugged_printer_fails_fast_and_prints_again_once_plugged_back(fake, station):
    assert print_and_time(station)[0].ok
    fake.unplug()
    job, elapsed = print_and_time(station)
    assert job.reason == "unplugged" and elapsed < 1 and job.attempts == 2  # retried once on a fresh connection
    assert station.status.problem == "unplugged"
    if fake.transport == "tcp":  # a TCP printer comes back on the same address
        fake.start()
        assert print_and_time(station)[0].ok


def test_a_reprint_sends_the_same_bytes_again(fake, station):
    job, _ = print_and_time(station)
    again = station.reprint(job.id)
    assert again.wait(2) and again.data == job.data and again.meta["reprint_of"] == job.id
    fake.wait_idle()
    assert fake.lines() == ["hello", "world"] * 2


def test_a_job_cancelled_before_it_starts_never_prints(fake):
    fake.silent = True  # the first job holds the worker for one status timeout
    st = PrintStation(printer_from_url(fake.url, 80), poll_interval=60).start()
    try:
        first = st.submit(JOB)
        second = st.submit(b"\x1b@VOID\n")
        assert second.cancel() and second.state == "cancelled"
        first.wait(2)
        fake.silent = False
        assert st.submit(JOB).wait(2)
        fake.wait_idle()
        assert "VOID" not in fake.lines()
    finally:
        st.stop()


def test_the_idle_station_polls_so_the_kiosk_knows_before_anyone_asks(fake):
    events = []
    st = PrintStation(printer_from_url(fake.url, 80), poll_interval=0.05)
    st.on_status(lambda pid, s: events.append(s.problem))
    st.start()
    try:
        fake.paper_out = True
        deadline = time.monotonic() + 2
        while "paper_out" not in events and time.monotonic() < deadline:
            time.sleep(0.01)
        assert st.status.problem == "paper_out" and "paper_out" in events
        fake.silent = True  # a read that asked the printer would now wait out a status query (0.3 s)
        started = time.monotonic()
        _ = st.status  # reading the cache never blocks
        assert time.monotonic() - started < 0.25
    finally:
        st.stop()


def test_a_query_on_a_raw_connection_never_blocks_longer_than_its_timeout(fake):
    conn = open_connection(printer_from_url(fake.url).endpoint)
    try:
        fake.silent = True
        started = time.monotonic()
        st = query(conn, 0.1)
        assert st.problem == "no_answer" and time.monotonic() - started < 0.3
        fake.silent = False
        assert query(conn, 0.3).ok
    finally:
        conn.close()


def test_a_slow_answer_after_the_timeout_does_not_confuse_the_next_query():
    clock = [0.0]
    fp = FakePrinter(80, transport="pty", clock=lambda: clock[0]).start()
    conn = open_connection(printer_from_url(fp.url).endpoint)
    try:
        fp.answer_delay = 5.0  # on the fake's own clock: held back until the test moves time on
        assert query(conn, 0.1).problem == "no_answer"
        fp.answer_delay = 0.0
        clock[0] = 10.0  # the late answers go out now ...
        time.sleep(0.05)
        assert query(conn, 0.3).ok  # ... and are drained before the next query
    finally:
        conn.close()
        fp.stop()


def test_opening_a_missing_device_is_a_fault_with_the_path():
    with pytest.raises(PrinterFault) as exc:
        open_connection(printer_from_url("serial:///dev/does-not-exist").endpoint)
    assert exc.value.reason == "unplugged" and "/dev/does-not-exist" in str(exc.value)


def test_a_file_printer_writes_bytes_and_skips_status(tmp_path):
    out = tmp_path / "lp0"
    st = PrintStation(printer_from_url(f"file://{out}"), poll_interval=60).start()
    try:
        assert st.submit(JOB).wait(2)
        assert out.read_bytes() == JOB and st.status.ok
    finally:
        st.stop()


def test_a_usb_printer_without_pyusb_is_a_clear_fault():
    # pyusb is not a dependency: without it, the message says what to install
    try:
        import usb  # noqa: F401
        has_usb = True
    except ImportError:
        has_usb = False
    with pytest.raises(PrinterFault) as exc:
        open_connection(printer_from_url("usb://0x0416:0x5011").endpoint)
    assert exc.value.reason == "unplugged"
    if not has_usb:
        assert "pyusb" in str(exc.value)


# ---------------------------------------------------------------- the fake's parser

def test_the_fake_reads_code_page_text_and_gb18030_only_in_chinese_mode():
    fp = FakePrinter()
    fp.feed(b"\x1bt\x10caf\xe9\n" + b"\x1c&" + "医保".encode("gb18030") + b"\x1c.\n")
    assert fp.lines() == ["café", "医保"]
    assert fp.find("医保").dots == 48


def test_a_printer_without_a_chinese_font_prints_gb18030_as_junk():
    fp = FakePrinter(chinese_font=False)
    fp.feed(b"\x1c&" + "医保".encode("gb18030") + b"\n")
    assert fp.lines() != ["医保"] and len(fp.lines()[0]) == 4


def test_the_fake_wraps_an_overlong_line_and_says_so():
    fp = FakePrinter(58)
    fp.feed(b"x" * 40 + b"\n")
    assert [r.wrapped for r in fp.printed()] == [True, False]
    assert [len(r) for r in fp.lines()] == [32, 8]


def test_unknown_commands_are_recorded_not_printed():
    fp = FakePrinter()
    fp.feed(b"\x1b\x99ok\n\x07")
    assert fp.unknown == [b"\x1b\x99", b"\x07"] and fp.lines() == ["ok"]


def test_commands_split_across_reads_are_parsed_whole():
    fp = FakePrinter()
    data = b"\x1d!\x11" + b"\x1c&" + "参保".encode("gb18030") + b"\x1c.\n" + b"\x1dv0\x00\x01\x00\x02\x00\xff\x00"
    for i in range(len(data)):
        fp.feed(data[i:i + 1])
    assert fp.lines() == ["参保"] and fp.find("参保").width == 2
    assert fp.printed()[-1].image.size == (8, 2)


# ---------------------------------------------------------------- device files (file://)

@pytest.fixture
def stalled_device(tmp_path):
    """A device file that takes 64 KB and then nothing more (a FIFO whose reader never reads)."""
    path = tmp_path / "lp0"
    os.mkfifo(path)
    reader = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    yield path
    os.close(reader)


def test_a_stalled_device_file_is_a_write_timeout_not_a_frozen_kiosk(stalled_device):
    st = PrintStation(printer_from_url(f"file://{stalled_device}"), poll_interval=60).start()
    try:
        started = time.monotonic()
        job = st.submit(b"\x1b@" + b"x" * 200_000 + b"\n")
        assert job.wait(st.job_seconds(job) + 1) is False
        assert (job.state, job.reason) == ("uncertain", "write_timeout")  # 64 KB did go in
        assert time.monotonic() - started < st.job_seconds(job) + 1
        assert "of 200003 bytes sent" in job.detail
    finally:
        st.stop()


def test_a_device_file_nobody_reads_is_unplugged_at_once(tmp_path):
    os.mkfifo(tmp_path / "lp0")
    with pytest.raises(PrinterFault) as exc:
        open_connection(printer_from_url(f"file://{tmp_path / 'lp0'}").endpoint)
    assert exc.value.reason == "unplugged"


def test_a_device_file_cannot_claim_to_answer_status_and_says_unknown(tmp_path):
    with pytest.raises(PrinterConfigError) as exc:
        printer_from_url(f"file://{tmp_path / 'lp0'}", status=True)
    assert "cannot answer status" in str(exc.value)
    st = PrintStation(printer_from_url(f"file://{tmp_path / 'lp0'}"), poll_interval=60)
    assert part_state(st.check_status()) == "unknown" and part_state(st.status) == "unknown"


# ---------------------------------------------------------------- the printer's part of the device status

@pytest.mark.parametrize("switch, state", [
    (None, "ok"), ("paper_low", "paper_low"), ("paper_out", "paper_out"), ("cover_open", "cover_open"),
    ("silent", "offline"), ("garbage", "unknown"),
])
def test_the_device_status_says_what_the_printer_said(fake, station, switch, state):
    from hardware.printing.status import printer_states

    assert printer_states([station]) == {"k1": "unknown"}  # not asked yet
    if switch:
        setattr(fake, switch, True)
    station.check_status()
    assert printer_states([station]) == {"k1": state}


def test_an_unplugged_printer_is_offline(fake, station):
    fake.unplug()
    station.check_status()
    assert part_state(station.status) == "offline"
