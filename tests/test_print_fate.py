"""A job's fate comes from what the printer really did: a slow printer has printed, a silent one after the
job leaves it uncertain (not failed), and a job only counts as not printed when no byte reached the printer."""
from __future__ import annotations

import time

import pytest

from hardware.fakes.printer import FakePrinter
from hardware.printing import escpos as cmd
from hardware.printing.config import printer_from_url
from hardware.printing.station import PrintStation

TICKET = cmd.INIT + b"A001\n" * 20 + cmd.cut()  # 20 lines + cut: about 100 mm of paper


def station_for(fake, **options):
    return PrintStation(printer_from_url(fake.url, 80, printer_id="k1", **options), poll_interval=60).start()


@pytest.fixture
def network_printer():
    """A network printer that prints at 150 mm/s and answers status only after the data before it."""
    fp = FakePrinter(80, transport="tcp", name="net", speed_mm_s=150, status_behind_data=True).start()
    yield fp
    fp.stop()


def test_a_network_printer_answering_after_it_printed_has_printed_the_job(network_printer):
    st = station_for(network_printer)
    try:
        job = st.submit(TICKET)
        assert job.wait(st.job_seconds(job) + 1) and job.state == "printed"
        assert network_printer.lines().count("A001") == 20 and network_printer.cuts() == 1
    finally:
        st.stop()


def test_a_printer_silent_just_after_printing_leaves_the_job_uncertain(network_printer):
    network_printer.after_cut(1, silent=True)
    st = station_for(network_printer, speed_mm_s=150)
    try:
        job = st.submit(TICKET)
        job.wait(st.job_seconds(job) + 1)
        assert job.state == "uncertain" and job.reason == "no_answer" and not job.unprinted
        assert network_printer.cuts() == 1  # it did print
    finally:
        st.stop()


@pytest.mark.parametrize("transport", ["pty", "tcp"])
def test_paper_running_out_mid_job_is_uncertain_not_failed(transport):
    fp = FakePrinter(80, transport=transport).start()
    fp.paper_runs_out_after = 8
    st = station_for(fp)
    try:
        job = st.submit(b"\x1b@hello\nworld\n")
        job.wait(3)
        assert (job.state, job.reason) == ("uncertain", "paper_out") and "after printing" in job.detail
        fp.wait_idle()
        assert fp.lines() == ["hello"] and fp.lost_bytes > 0
    finally:
        st.stop()
        fp.stop()


def test_a_job_refused_before_any_byte_was_sent_is_known_unprinted(network_printer):
    network_printer.paper_out = True
    st = station_for(network_printer)
    try:
        job = st.submit(TICKET)
        job.wait(2)
        assert job.state == "failed" and job.unprinted and network_printer.lost_bytes == 0
    finally:
        st.stop()


def test_write_and_job_deadlines_grow_with_the_document():
    small = PrintStation(printer_from_url("tcp://127.0.0.1:9", 80, speed_mm_s=100))
    slip = cmd.INIT + cmd.raster(72, 1800, b"\x00" * 72 * 1800)  # a 130 KB picture slip, 225 mm of paper
    assert small.write_seconds(slip) >= 225 / 100  # the printer reads only as fast as it prints
    assert small.write_seconds(slip) > small.write_seconds(TICKET)
    serial = PrintStation(printer_from_url("serial:///dev/ttyS9?baudrate=9600", 80, speed_mm_s=100))
    assert serial.write_seconds(slip) >= len(slip) * 10 / 9600  # 9600 baud: 10 bits a byte


def test_the_station_does_not_wait_forever_for_a_stalled_printer(network_printer):
    network_printer.after_cut(1, stalled=True)  # then takes the bytes, prints nothing, answers nothing
    st = station_for(network_printer, speed_mm_s=400)
    try:
        started = time.monotonic()
        job = st.submit(cmd.INIT + b"x\n" + cmd.cut() + b"y\n")
        job.wait(st.job_seconds(job) + 1)
        assert job.state == "uncertain" and time.monotonic() - started < st.job_seconds(job) + 1
    finally:
        st.stop()


def test_a_job_is_either_cancelled_or_started_never_both():
    from hardware.printing.station import PrintJob

    first = PrintJob(b"x", "k1")
    assert first.cancel() and not first.start() and first.state == "cancelled"
    second = PrintJob(b"x", "k1")
    assert second.start() and not second.cancel() and second.state == "printing"


@pytest.mark.parametrize("transport", ["pty", "tcp"])
def test_a_printer_without_gs_r_is_confirmed_by_its_status_answer_instead(transport):
    fp = FakePrinter(80, transport=transport, speed_mm_s=400, status_behind_data=True)
    fp.answers_sync = False  # ignores GS r 1, as some printers do
    fp.start()
    st = station_for(fp, speed_mm_s=400)
    try:
        jobs = [st.submit(TICKET) for _ in range(2)]
        assert all(job.wait(st.job_seconds(job) * 2 + 1) for job in jobs)
        assert st.sync is False and fp.cuts() == 2
    finally:
        st.stop()
        fp.stop()


def test_a_printer_slow_to_answer_just_after_printing_has_still_printed():
    fp = FakePrinter(80, transport="pty", name="slow-answer").start()
    fp.after_cut(1, answer_delay=0.6)  # busy after the cut: its answers come 600 ms late
    st = station_for(fp)
    try:
        job = st.submit(TICKET)
        assert job.wait(st.job_seconds(job) + 1) and job.state == "printed"
    finally:
        st.stop()
        fp.stop()


def test_a_cover_opened_just_after_the_cut_leaves_the_job_printed_and_the_next_one_waiting():
    fp = FakePrinter(80, transport="pty", name="cover").start()
    fp.after_cut(1, cover_open=True)  # someone takes the ticket and opens the cover
    st = station_for(fp)
    try:
        job = st.submit(TICKET)
        assert job.wait(st.job_seconds(job) + 1) and job.state == "printed"
        assert st.status.problem == "cover_open"
        second = st.submit(TICKET)
        second.wait(2)
        assert second.state == "failed" and second.reason == "cover_open" and fp.cuts() == 1
    finally:
        st.stop()
        fp.stop()
