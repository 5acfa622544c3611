"""A print station: one printer, a job queue, a worker thread and a status cache.

    station = PrintStation(printer_config).start()
    job = station.submit(document)           # or raw bytes
    if job.wait(2.0): ...                    # printed; else job.reason says why ("paper_out", ...)
    station.status                           # last known status, at once (never blocks)
    station.reprint(job.id)                  # the same bytes again

A job ends in one of three fates, decided from what the printer really did:

    printed     the printer was fit before, took every byte, and confirmed afterwards that it processed
                the job (GS r 1 answered within the job's deadline) and is still fit. A printer that
                cannot be asked (a device file, status = false) counts a job it took whole as printed.
    failed      known not printed: the printer refused before any byte of the job reached it (paper out,
                cover open, silent, unplugged, or the kiosk cancelled the job while it was queued).
    uncertain   bytes went out but the printer did not confirm in time, or reported a fault afterwards:
                the job may have printed, whole or in part. Never retried, never counted as failed.

Deadlines grow with the job: the write may take as long as the printer needs to print what does not fit
in its buffer (`write_seconds`), and the confirmation as long as the job's paper at the configured
`speed_mm_s` (`drain_seconds`); `job_seconds` bounds the whole job. I/O failures before any byte went out
(a dropped TCP connection, a re-enumerated USB device) are retried once on a fresh connection; paper-out,
cover-open and a silent printer are not retried (a person has to act). While idle the worker refreshes the
status every `poll_interval` seconds, so a kiosk can warn "printer out of paper" before anyone asks.
"""
from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable

from hardware.printing.config import PrinterConfig
from hardware.printing.connections import Connection, PrinterFault, open_connection
from hardware.printing.document import Document
from hardware.printing.escpos import SYNC_STATUS, paper_dots
from hardware.printing.paper import DOTS_PER_MM
from hardware.printing.render import RenderError, render
from hardware.printing.status import UNKNOWN, PrinterStatus, confirm, query

log = logging.getLogger("onewindow.printer")
_job_ids = itertools.count(1)

RETRYABLE = {"unplugged", "write_timeout"}


@dataclass
class PrintJob:
    """One thing to print. `state`: queued | printing | printed | failed | uncertain | cancelled."""

    data: bytes
    printer_id: str
    kind: str = ""
    meta: dict = field(default_factory=dict)
    id: int = field(default_factory=lambda: next(_job_ids))
    state: str = "queued"
    reason: str | None = None
    detail: str = ""
    attempts: int = 0
    _done: threading.Event = field(default_factory=threading.Event, repr=False)
    _claim: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def ok(self) -> bool:
        return self.state == "printed"

    @property
    def unprinted(self) -> bool:
        """Known not to have printed: no byte of it reached the printer."""
        return self.state in ("failed", "cancelled")

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the job's fate is known (at most `timeout` s); True if printed. A job still waiting for
        the printer when the time is up is cancelled, so it cannot print later (a voided ticket must not)."""
        if not self._done.wait(timeout):
            self.cancel("timeout")
        return self.ok

    def cancel(self, reason: str = "cancelled") -> bool:
        """Cancel the job if it has not started printing; True if it will not print."""
        with self._claim:  # the worker starts a job under the same lock: never both
            if self.state == "queued":
                self._finish("cancelled", reason)
            return self.state in ("cancelled", "failed")

    def start(self) -> bool:
        """The worker takes the job; False if it was cancelled first."""
        with self._claim:
            if self.state != "queued":
                return False
            self.state = "printing"
            return True

    def _finish(self, state: str, reason: str | None = None, detail: str = "") -> None:
        self.state, self.reason, self.detail = state, reason, detail
        self._done.set()


class PrintStation:
    def __init__(self, config: PrinterConfig, connect: Callable[..., Connection] = open_connection,
                 clock: Callable[[], float] = time.monotonic, poll_interval: float = 5.0, retries: int = 1,
                 history: int = 50):
        self.config = config
        self.id = config.id
        self.profile = config.profile
        self._connect = connect
        self.clock = clock
        self.poll_interval = poll_interval
        self.retries = retries
        self._conn: Connection | None = None
        self._io = threading.RLock()  # one conversation with the printer at a time
        self._queue: queue.Queue[PrintJob | None] = queue.Queue()
        self._status: PrinterStatus = UNKNOWN
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self.history: deque[PrintJob] = deque(maxlen=history)
        self._status_listeners: list[Callable[[str, PrinterStatus], None]] = []
        self.sync: bool | None = None if config.confirm else False  # answers GS r 1? (None: not known yet)

    # -------------------------------------------------------------- public
    @property
    def timeout(self) -> float:
        return self.config.timeout_ms / 1000

    @property
    def status(self) -> PrinterStatus:
        """The last known status (from the last job or idle poll); never blocks."""
        return self._status

    def on_status(self, listener: Callable[[str, PrinterStatus], None]) -> None:
        """Call `listener(printer_id, status)` whenever the status problem changes."""
        self._status_listeners.append(listener)

    def start(self) -> "PrintStation":
        if self._thread is None:
            self._stopping.clear()
            self._thread = threading.Thread(target=self._run, name=f"printer-{self.id}", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        self._stopping.set()
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self._close()

    def submit(self, what: Document | bytes, kind: str = "", meta: dict | None = None) -> PrintJob:
        """Queue a document (rendered for this printer) or raw ESC/POS bytes."""
        if isinstance(what, Document):
            kind = kind or what.kind
            meta = {**what.meta, **(meta or {})}
            try:
                data = render(what, self.profile)
            except RenderError as exc:
                job = PrintJob(b"", self.id, kind, meta or {})
                log.error("printer %s: cannot lay out %s: %s", self.id, kind, exc)
                job._finish("failed", "render_error", str(exc))
                self.history.append(job)
                return job
        else:
            data = bytes(what)
        job = PrintJob(data, self.id, kind, meta or {})
        self.history.append(job)
        if self._thread is None:
            self.start()
        self._queue.put(job)
        return job

    def reprint(self, job_id: int) -> PrintJob:
        """Print a past job's bytes again (a jammed ticket, a citizen who lost a slip)."""
        old = next((j for j in self.history if j.id == job_id), None)
        if old is None:
            raise KeyError(f"no job {job_id} in printer {self.id}'s recent history")
        return self.submit(old.data, old.kind, {**old.meta, "reprint_of": job_id})

    def check_status(self) -> PrinterStatus:
        """Query the printer now (blocks at most about `timeout`); used by the worker and by tools."""
        if not self.config.status:
            st = PrinterStatus(None, checked_at=self.clock(), detail="status not supported by this printer",
                               answered=False)
            self._set_status(st)
            return st
        with self._io:
            try:
                conn = self._connection()
            except PrinterFault as exc:
                st = PrinterStatus(exc.reason, checked_at=self.clock(), detail=exc.detail)
                self._set_status(st)
                return st
            st = query(conn, self.timeout, self.clock)
            if st.problem == "unplugged":
                self._close()
        self._set_status(st)
        return st

    # -------------------------------------------------------------- worker
    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                job = self._queue.get(timeout=self.poll_interval)
            except queue.Empty:
                self._idle_poll()
                continue
            if job is None:
                break
            try:
                self._print(job)
            except Exception as exc:  # noqa: BLE001 - the worker must survive anything
                log.exception("printer %s: job %s crashed", self.id, job.id)
                job._finish("failed", "printer_error", repr(exc))
                self._close()

    def _idle_poll(self) -> None:
        if self.config.status:
            try:
                self.check_status()
            except Exception:  # noqa: BLE001
                log.exception("printer %s: status poll failed", self.id)

    def _print(self, job: PrintJob) -> None:
        if not job.start():
            return  # cancelled while waiting
        while True:
            job.attempts += 1
            with self._io:
                fate, reason, detail = self._attempt(job)
            if fate == "printed":
                log.info("printer %s: printed %s (job %s, %d bytes)", self.id, job.kind or "job", job.id, len(job.data))
                job._finish("printed")
                return
            if (fate == "failed" and reason in RETRYABLE and job.attempts <= self.retries
                    and not self._stopping.is_set()):
                log.warning("printer %s: %s (%s); retrying job %s", self.id, reason, detail, job.id)
                continue
            log.error("printer %s: job %s (%s) %s: %s %s", self.id, job.id, job.kind, fate, reason, detail)
            job._finish(fate, reason, detail)
            return

    def _attempt(self, job: PrintJob) -> tuple[str, str | None, str]:
        """One try: (printed | failed | uncertain, reason, detail)."""
        try:
            conn = self._connection()
        except PrinterFault as exc:
            self._set_status(PrinterStatus(exc.reason, checked_at=self.clock(), detail=exc.detail))
            return "failed", exc.reason, exc.detail
        if self.config.status:
            before = self._checked(query(conn, self.timeout, self.clock))
            if not before.ok:
                return "failed", before.problem, f"before printing: {before.detail}".rstrip(": ")
            if self.sync is None:
                self.sync = self._probe_sync(conn)
        try:
            conn.write(job.data, self.write_seconds(job.data))
        except PrinterFault as exc:
            self._close()
            self._set_status(PrinterStatus(exc.reason, checked_at=self.clock(), detail=exc.detail))
            return ("uncertain" if exc.sent else "failed"), exc.reason, exc.detail
        if not self.config.status:
            return "printed", None, ""  # it took every byte; it cannot be asked more
        printed, after = confirm(conn, self.drain_seconds(job.data), self.timeout, bool(self.sync), self.clock)
        self._checked(after)
        if not printed:
            # The job's bytes went out but the printer did not confirm them: it may have printed.
            return "uncertain", after.problem, f"after printing: {after.detail}".rstrip(": ")
        return "printed", None, ""

    def _probe_sync(self, conn: Connection) -> bool:
        """Does the printer answer GS r 1? Asked once, while it is idle (it has just answered DLE EOT)."""
        try:
            conn.write(SYNC_STATUS, self.timeout)
            answer = conn.read(1, self.timeout)
        except PrinterFault:
            return False
        if answer and not answer[0] & 0x90:
            return True
        log.warning("printer %s does not answer GS r 1: a job counts as printed when DLE EOT answers after it",
                    self.id)
        return False

    def _checked(self, st: PrinterStatus) -> PrinterStatus:
        self._set_status(st)
        if st.problem == "unplugged":
            self._close()
        return st

    # -------------------------------------------------------------- deadlines
    def paper_seconds(self, data: bytes) -> float:
        """How long the printer takes to print `data` at its configured (slowest) speed."""
        return paper_dots(data) / DOTS_PER_MM / self.config.speed_mm_s

    def write_seconds(self, data: bytes) -> float:
        """The write deadline: the bytes down the line, and the printing of what its buffer cannot hold."""
        baud = self.config.endpoint.options.get("baudrate") if self.config.endpoint.scheme == "serial" else None
        line = len(data) * 10 / baud if baud else 0.0
        floor = self.config.endpoint.options.get("write_timeout_ms", 0) / 1000  # the URL may allow more
        return max(floor, 1.0 + 1.5 * (line + self.paper_seconds(data)))

    def drain_seconds(self, data: bytes) -> float:
        """How long the printer may take, after the write, to confirm that it printed the job."""
        return 0.5 + self.timeout + 1.5 * self.paper_seconds(data)

    def job_seconds(self, job: PrintJob | bytes) -> float:
        """An upper bound for one job from the worker picking it up to its fate (status before, write,
        confirmation, status after, one retry of a failed connection)."""
        data = job.data if isinstance(job, PrintJob) else job
        return 3 * self.timeout + self.write_seconds(data) + self.drain_seconds(data) + 0.5

    def _connection(self) -> Connection:
        if self._conn is None:
            self._conn = self._connect(self.config.endpoint)
        return self._conn

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _set_status(self, st: PrinterStatus) -> None:
        old = self._status
        self._status = st
        if old.problem != st.problem or old.paper != st.paper:
            level = logging.INFO if st.ok else logging.WARNING
            log.log(level, "printer %s: %s%s", self.id, st.problem or ("paper low" if st.paper_low else "ready"),
                    f" ({st.detail})" if st.detail else "")
            for listener in self._status_listeners:
                try:
                    listener(self.id, st)
                except Exception:  # noqa: BLE001
                    log.exception("printer %s: status listener failed", self.id)
