"""Ticket issue through the queue server against a bare echo, both behind the same managed Mosquitto.

    python -m bench issue                 # echo, then the server; prints figures, ratios, one JSON line
    python -m bench issue --echo-only     # only the bare broker figures

Measured on loopback: (a) round trip with one request in flight (p50/p99), (b) sustained round trips/s
under a pipelined load (2 processes x 8 clients x 32 in flight), first against the echo responder
(no logic), then against `onewindow server --always-open`. The ratios are what carry from machine to
machine; the absolute figures depend on the CPU.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from bench.mqtt_load import (ECHO_PATTERNS, ROOT, measure_rtt, pipelined_load, start_echo, stop_process,
                             wait_for_line)
from onewindow import config as cfg
from broker.mosquitto import ManagedBroker

SERVER_READY = "server ready"


def _enterable(tmp: str) -> Path:
    Path(tmp).chmod(0o711)  # mosquitto, dropping to its own user, must reach its persistence dir
    return Path(tmp)


def start_server(url: str, db: Path, config: Path, timeout: float = 30):
    import subprocess
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli", "server", "--broker", url, "--db", str(db), "-c", str(config),
         "--always-open"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wait_for_line(proc, SERVER_READY, timeout)
    return proc


def measure(url: str, settings, site: str, args) -> dict:
    rtt = measure_rtt(settings, site, samples=args.samples, qos=args.qos, business_type=args.business_type)
    load = pipelined_load(url, site, processes=args.processes, clients=args.clients, inflight=args.inflight,
                          warmup=args.warmup, duration=args.duration, qos=args.qos,
                          business_types=(args.business_type,))
    return {"rtt": rtt, "load": load}


def describe(name: str, m: dict) -> None:
    rtt, load = m["rtt"], m["load"]
    print(f"{name}:")
    print(f"  round trip, one in flight ({rtt['samples']} samples): p50 {rtt['p50_ms']:.3f} ms, "
          f"p99 {rtt['p99_ms']:.3f} ms, max {rtt['max_ms']:.2f} ms, errors {rtt['errors']}")
    print(f"  pipelined ({load['connections']} connections x {load['inflight_per_connection']} in flight): "
          f"{load['throughput_per_s']:.0f} round trips/s; latency under load p50 {load['loaded_p50_ms']:.1f} ms, "
          f"p99 {load['loaded_p99_ms']:.1f} ms; error replies {load['errors']}, unanswered {load['lost']}",
          flush=True)


def ratio(a, b):
    return round(a / b, 3) if a is not None and b else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench issue", description=__doc__.splitlines()[0])
    parser.add_argument("--echo-only", action="store_true", help="measure only the bare broker (echo)")
    parser.add_argument("-c", "--config", default=str(cfg.sample_path("county-hall")), help="site configuration")
    parser.add_argument("--business-type", default="A", help="business type of the issued tickets")
    parser.add_argument("--samples", type=int, default=2000, help="round trips with one in flight")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds of pipelined load counted")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds of load before counting")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--clients", type=int, default=8, help="connections per load process")
    parser.add_argument("--inflight", type=int, default=32, help="requests in flight per connection")
    parser.add_argument("--qos", type=int, choices=(0, 1), default=1)
    parser.add_argument("--echo-pattern", choices=ECHO_PATTERNS, default="network",
                        help="how the echo drives paho (default: %(default)s, the plainest)")
    args = parser.parse_args(argv)
    args.duration = min(args.duration, 120.0)
    args.samples = min(args.samples, 100_000)
    site = cfg.load(args.config)

    with tempfile.TemporaryDirectory(prefix="onewindow-bench-") as tmp, \
            ManagedBroker(_enterable(tmp) / "broker", port=0) as broker:
        print(f"Mosquitto at {broker.url}; site {site.site_id}; QoS {args.qos}; load {args.processes} processes "
              f"x {args.clients} clients x {args.inflight} in flight, {args.duration:.0f} s counted", flush=True)
        echo = start_echo(broker.url, site.site_id, args.echo_pattern, args.qos)
        try:
            bare = measure(broker.url, broker.settings, site.site_id, args)
        finally:
            stop_process(echo)
        describe(f"Bare broker (echo, {args.echo_pattern} pattern)", bare)
        issue = None
        if not args.echo_only:
            server = start_server(broker.url, Path(tmp) / "queue.db", Path(args.config))
            try:
                issue = measure(broker.url, broker.settings, site.site_id, args)
            finally:
                stop_process(server)
            describe("Ticket issue (onewindow server)", issue)

    result = {
        "bare_rtt_p50_ms": bare["rtt"]["p50_ms"], "bare_rtt_p99_ms": bare["rtt"]["p99_ms"],
        "issue_rtt_p50_ms": issue and issue["rtt"]["p50_ms"], "issue_rtt_p99_ms": issue and issue["rtt"]["p99_ms"],
        "rtt_p99_ratio": issue and ratio(issue["rtt"]["p99_ms"], bare["rtt"]["p99_ms"]),
        "echo_throughput_per_s": round(bare["load"]["throughput_per_s"]),
        "issue_throughput_per_s": issue and round(issue["load"]["throughput_per_s"]),
        "throughput_ratio": issue and ratio(issue["load"]["throughput_per_s"], bare["load"]["throughput_per_s"]),
        "issue_errors": issue and issue["load"]["errors"] + issue["rtt"]["errors"],
        "issue_unanswered": issue and issue["load"]["lost"],
        "qos": args.qos,
    }
    for k in ("bare_rtt_p50_ms", "bare_rtt_p99_ms", "issue_rtt_p50_ms", "issue_rtt_p99_ms"):
        if result[k] is not None:
            result[k] = round(result[k], 3)
    if issue:
        print(f"Ratios: issue p99 / bare p99 = {result['rtt_p99_ratio']}; "
              f"server throughput / echo throughput = {result['throughput_ratio']}")
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
