"""Ticket issue through the queue server against a bare echo, both behind the same managed Mosquitto.

    python -m bench issue                 # echo, then the server; prints figures, ratios, one JSON line
    python -m bench issue --echo-only     # only the bare broker figures
    python -m bench issue --secure        # the locked-down broker: TLS, passwords, ACL, role checks

Measured on loopback: (a) round trip with one request in flight (p50/p99), (b) sustained round trips/s
under a pipelined load (2 processes x 8 clients x 32 in flight), first against the echo responder
(no logic), then against `onewindow server --always-open`. The ratios are what carry from machine to
machine; the absolute figures depend on the CPU.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from pathlib import Path

from bench.mqtt_load import (ECHO_PATTERNS, ROOT, measure_rtt, pipelined_load, rtt_figures, start_echo,
                             stop_process, wait_for_line)
from onewindow import config as cfg
from broker.mosquitto import ManagedBroker

SERVER_READY = "server ready"


def _enterable(tmp: str) -> Path:
    Path(tmp).chmod(0o711)  # mosquitto, dropping to its own user, must reach its persistence dir
    return Path(tmp)


def start_server(url: str, db: Path, config: Path, timeout: float = 30, credentials: str | None = None,
                 durability: str = "power"):
    """The server; on an open broker with --open (the load's clients are not in any registry), on a
    locked-down one with the server's credentials and role checks."""
    import subprocess
    access = ["--credentials", credentials] if credentials else ["--open"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli", "server", "--broker", url, "--db", str(db), "-c", str(config),
         "--always-open", "--backup-every", "0", "--durability", durability, *access],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wait_for_line(proc, SERVER_READY, timeout)
    return proc


def measure_rtt_rounds(start_echo_proc, start_server_proc, settings, site: str, args, secure_dir: str | None):
    """The one-in-flight round trip in `args.rounds` alternating rounds (echo, server, echo, server, ...),
    each of `args.samples / rounds` samples after its own warm-up, pooled per responder: both are measured
    under the same conditions of a machine whose speed drifts (one long phase each made the ratio swing
    with whatever else the machine did then). The server keeps its log from round to round."""
    pooled = {"echo": ([], 0), "server": ([], 0)}
    per_round = max(1, args.samples // args.rounds)
    for _ in range(args.rounds):
        for kind, start in (("echo", start_echo_proc), ("server", start_server_proc)):
            if kind == "server" and start is None:
                continue
            proc = start()
            try:
                r = measure_rtt(settings, site, samples=per_round, warmup=args.rtt_warmup, qos=args.qos,
                                business_type=args.business_type, secure_dir=secure_dir)
            finally:
                stop_process(proc)
            values, errors = pooled[kind]
            pooled[kind] = (values + r["values"], errors + r["errors"])
    return {kind: rtt_figures(*pooled[kind]) for kind in pooled}


def measure_load(start, url: str, site: str, args, secure_dir: str | None) -> dict:
    proc = start()
    try:
        return pipelined_load(url, site, processes=args.processes, clients=args.clients, inflight=args.inflight,
                              warmup=args.warmup, duration=args.duration, qos=args.qos,
                              business_types=(args.business_type,), secure_dir=secure_dir)
    finally:
        stop_process(proc)


def secure_site(config: Path, tmp: Path, args) -> Path:
    """The site configuration plus a device per load connection (and the round-trip client), as
    consoles: the counter's role, which may issue at any pace (a kiosk is throttled to a person's)."""
    text = config.read_text(encoding="utf-8")
    text = re.sub(r'(?m)^catalogue\s*=\s*"([^"]+)"', lambda m: f'catalogue = "{(config.parent / m.group(1)).resolve()}"',
                  text)
    names = ["bench-rtt"] + [f"load-p{p}-{i}" for p in range(args.processes) for i in range(args.clients)]
    text += "".join(f'\n[[device]]\nid = "{n}"\nrole = "console"\n' for n in names)
    out = tmp / "bench-site.toml"
    out.write_text(text, encoding="utf-8")
    return out


def secure_broker(site, tmp: Path) -> ManagedBroker:
    from broker import security
    files = security.generate(site, tmp / "broker" / "security")
    return ManagedBroker(tmp / "broker", port=0, security=files)


def describe(name: str, m: dict) -> None:
    rtt, load = m["rtt"], m["load"]
    print(f"{name}:")
    print(f"  round trip, one in flight ({rtt['samples']} samples): p50 {rtt['p50_ms']:.3f} ms, "
          f"p99 {rtt['p99_ms']:.3f} ms, max {rtt['max_ms']:.2f} ms, errors {rtt['errors']}")
    print(f"  pipelined ({load['connections']} connections x {load['inflight_per_connection']} in flight): "
          f"{load['throughput_per_s']:.0f} round trips/s; latency under load p50 {load['loaded_p50_ms']:.1f} ms, "
          f"p99 {load['loaded_p99_ms']:.1f} ms; error replies {load['errors']}, unanswered {load['lost']}",
          flush=True)


def run_both(broker: ManagedBroker, site, config: Path, tmp: Path, args) -> tuple[dict, dict | None]:
    """The echo's figures, then the server's, on the same broker (TLS clients when it is locked down)."""
    secure_dir = str(broker.security.directory) if args.secure else None
    server_creds = str(broker.security.device_file(f"server-{site.site_id}")) if args.secure else None
    client_url = broker.tls_url if args.secure else broker.url
    client_settings = broker.settings_for("bench-rtt", tls=True) if args.secure else broker.settings
    print(f"Mosquitto at {client_url}{' (TLS, passwords, ACL)' if args.secure else ''}; site {site.site_id}; "
          f"QoS {args.qos}; round trips in {args.rounds} alternating rounds; load {args.processes} processes x "
          f"{args.clients} clients x {args.inflight} in flight, {args.duration:.0f} s counted", flush=True)

    def echo():
        return start_echo(broker.url, site.site_id, args.echo_pattern, args.qos, credentials=server_creds)

    def server():
        return start_server(broker.url, tmp / "queue.db", config, credentials=server_creds,
                            durability=args.durability)
    rtt = measure_rtt_rounds(echo, None if args.echo_only else server, client_settings, site.site_id, args,
                             secure_dir)
    bare = {"rtt": rtt["echo"], "load": measure_load(echo, client_url, site.site_id, args, secure_dir)}
    describe(f"Bare broker (echo, {args.echo_pattern} pattern)", bare)
    if args.echo_only:
        return bare, None
    issue = {"rtt": rtt["server"], "load": measure_load(server, client_url, site.site_id, args, secure_dir)}
    describe(f"Ticket issue (onewindow server, durability {args.durability})", issue)
    return bare, issue


def disk_flush_ms(directory: Path, flushes: int = 200) -> dict:
    """What one flush to the device costs here (write 4 KiB in place + fdatasync): the floor of a round
    trip whose reply waits for its command to be on the disk (durability "power")."""
    import os
    import time
    from onewindow.stats import quantile
    path = directory / "flush-probe"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        os.ftruncate(fd, 1 << 20)
        os.fsync(fd)
        took = []
        for i in range(flushes):
            os.pwrite(fd, b"x" * 4096, (i % 256) * 4096)
            t0 = time.perf_counter()
            os.fdatasync(fd)
            took.append((time.perf_counter() - t0) * 1000)
    finally:
        os.close(fd)
        path.unlink()
    return {"p50_ms": quantile(took, 0.5), "p99_ms": quantile(took, 0.99)}


def ratio(a, b):
    return round(a / b, 3) if a is not None and b else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench issue", description=__doc__.splitlines()[0])
    parser.add_argument("--echo-only", action="store_true", help="measure only the bare broker (echo)")
    parser.add_argument("-c", "--config", default=str(cfg.sample_path("county-hall")), help="site configuration")
    parser.add_argument("--business-type", default="A", help="business type of the issued tickets")
    parser.add_argument("--samples", type=int, default=2000, help="round trips with one in flight (per responder)")
    parser.add_argument("--rounds", type=int, default=4,
                        help="alternating rounds of the one-in-flight round trip (echo, server, ...; default 4)")
    parser.add_argument("--rtt-warmup", type=int, default=200, help="warm-up round trips at the start of each round")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds of pipelined load counted")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds of load before counting")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--clients", type=int, default=8, help="connections per load process")
    parser.add_argument("--inflight", type=int, default=32, help="requests in flight per connection")
    parser.add_argument("--qos", type=int, choices=(0, 1), default=1)
    parser.add_argument("--secure", action="store_true",
                        help="the locked-down broker: clients over TLS with their own passwords, the ACL, the "
                             "server checking roles (the echo answers as the server, on the same broker)")
    parser.add_argument("--durability", choices=("power", "crash"), default="power",
                        help="the server's durability (default %(default)s: each batch fsynced before its replies; "
                             "crash: written to the OS, synced each second)")
    parser.add_argument("--echo-pattern", choices=ECHO_PATTERNS, default="network",
                        help="how the echo drives paho (default: %(default)s, the plainest)")
    args = parser.parse_args(argv)
    args.duration = min(args.duration, 120.0)
    args.samples = min(args.samples, 100_000)
    args.rounds = max(1, min(args.rounds, 50))
    with tempfile.TemporaryDirectory(prefix="onewindow-bench-") as tmp:
        flush = disk_flush_ms(Path(tmp))
        print(f"Disk flush here (4 KiB + fdatasync): p50 {flush['p50_ms']:.3f} ms, p99 {flush['p99_ms']:.3f} ms",
              flush=True)
        config = secure_site(Path(args.config), Path(tmp), args) if args.secure else Path(args.config)
        site = cfg.load(config)
        broker = secure_broker(site, _enterable(tmp)) if args.secure else ManagedBroker(_enterable(tmp) / "broker", port=0)
        with broker:
            bare, issue = run_both(broker, site, config, Path(tmp), args)

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
        "secure": args.secure,
        "durability": args.durability,
        "disk_flush_p50_ms": round(flush["p50_ms"], 3), "disk_flush_p99_ms": round(flush["p99_ms"], 3),
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
