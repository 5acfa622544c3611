"""Make the screen pictures in docs/images from the code that draws them.

    .venv/bin/python docs/make_screens.py

Runs a county hall in-process (the real server and engine, an in-process broker, simulated kiosks
and clerks at 600x speed, window 1 left to a person) for a few seconds and records the demo's live
terminal view as SVG, with the console's address and sign-ins the demo shows above it.
"""
from __future__ import annotations

import io
import sys
import time
from pathlib import Path

from rich.console import Console

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from onewindow import config  # noqa: E402
from demo.command import BUSY_HALL_WINDOWS  # noqa: E402
from demo.console import console_lines, demo_sign_ins  # noqa: E402
from demo.hall import SimulatedHall  # noqa: E402
from demo.view import HallView, render  # noqa: E402
from onewindow.mqtt import LocalBroker  # noqa: E402
from queue_server.server import QueueServer  # noqa: E402
from queue_server.store import Store  # noqa: E402


def demo_terminal(out: Path, seconds: float = 4.0) -> Path:
    site = config.load(config.sample_path("county-hall"))
    broker = LocalBroker()
    transport = broker.transport("server", "server", site.site_id).start()
    server = QueueServer(site, Store(":memory:", site.site_id, site.timezone), transport, always_open=True)
    server.start()
    view = HallView(broker.transport("view", "display", site.site_id).start(), site.site_id)
    sim = SimulatedHall(site, lambda cid, role: broker.transport(cid, role, site.site_id).start(), speed=600,
                        seed=3, windows=BUSY_HALL_WINDOWS, human_windows=(1,))  # as `onewindow demo` runs it
    started = time.time()
    sim.start()
    time.sleep(seconds)
    sim.stop()
    time.sleep(0.6)
    transport.tick()  # an idle batch: the server publishes the queue states it held back
    console = Console(record=True, width=132, force_terminal=True, color_system="truecolor", file=io.StringIO())
    banner = console_lines("http://127.0.0.1:PORT", demo_sign_ins([1]), [1],  # the port is a free one
                           site.business_type(sim.human_type))
    console.print(render(view, sim, started, banner))
    server.stop()
    console.save_svg(str(out), title="onewindow demo")
    return out


if __name__ == "__main__":
    print(demo_terminal(HERE / "images" / "demo-terminal.svg"))
