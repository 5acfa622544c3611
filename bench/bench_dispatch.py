"""Dispatch proof figures: simulated service days driving the real engine (see docs/DISPATCH.md).

    .venv/bin/python bench/bench_dispatch.py            # full run (~14 min on the shared, loaded 2 cores)
    .venv/bin/python bench/bench_dispatch.py --quick    # smoke run (~1.5 min)

Prints each check with what was set and ends with one JSON line of figures (unit-carrying names).
Exit status 1 when a check fails in a full run.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sim import report  # noqa: E402

if __name__ == "__main__":
    sys.exit(report.main(sys.argv[1:]))
