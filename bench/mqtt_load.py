"""MQTT request/reply load on loopback: an echo responder, a one-in-flight round-trip meter and a
pipelined load generator that runs in its own processes.

The protocol is the server's (docs: bench/README.md): a request is published with QoS 1 to
`onewindow/{site}/cmd/{client}/issue` as `{"v":2,"request_id":..,"reply_to":"onewindow/{site}/reply/<client>",..}`;
the reply arrives on `reply_to`. The echo responder answers `{"v":2,"request_id":..,"ok":true}` the same
way, so "bare broker" and "server" figures are comparable.

    python -m bench.mqtt_load patterns      # compare echo threading patterns and QoS 0/1
    python -m bench.mqtt_load echo --broker mqtt://127.0.0.1:1883 --site demo-county [--pattern network]
    python -m bench.mqtt_load load ...      # one load process (started by pipelined_load)
"""
from __future__ import annotations

import argparse
import json
import os
import queue
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from broker.mosquitto import ManagedBroker
from onewindow import PROTOCOL_VERSION
from onewindow.broker import BrokerSettings, read_credentials
from bench.echo import Echo, ThreadedClient
from onewindow.mqtt import MqttTransport
from onewindow.stats import quantile
from onewindow.topics import Topics

ROOT = Path(__file__).resolve().parent.parent
ECHO_PATTERNS = ("network", "worker", "select")
MAX_SECONDS = 600  # no benchmark process lives longer than this


def cmd_topic(site: str, client: str = "+", command: str = "issue") -> str:
    """`cmd/{client}/{command}`; the echo subscribes with client "+" (protocol 2: sender in the topic)."""
    return Topics(site).cmd(command, client)


def reply_topic(site: str, client_id: str) -> str:
    return Topics(site).reply(client_id)


def percentile(values: list[float], q: float) -> float | None:
    """The q-quantile (onewindow.stats), or None for no values (JSON has no NaN)."""
    return quantile(values, q) if values else None


# --- the echo responder ----------------------------------------------------------------------------

def run_echo(settings: BrokerSettings, site: str, pattern: str = "network", qos: int = 1,
             max_seconds: float = MAX_SECONDS, work: str = "none") -> None:
    """Answer every request at once; `pattern` is how the paho side is driven.

    network: paho's own network thread (loop_start) publishes the reply from on_message.
    worker:  the same, but on_message queues; a worker thread takes what is queued (a batch) and
             publishes replies (the shape of a server that writes SQLite once per batch).
    select:  onewindow's MqttTransport: one thread reads every waiting message, the handlers collect
             them, `on_batch_end` answers the batch; replies are written in one go; no queue, no 2nd thread.
    work="sqlite" adds a server's cost: one SQLite transaction (WAL, synchronous=NORMAL) per batch
    (per message for "network", which cannot batch).
    """
    if pattern not in ECHO_PATTERNS:
        raise ValueError(f"unknown echo pattern {pattern!r}; choose from {', '.join(ECHO_PATTERNS)}")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    signal.signal(signal.SIGINT, lambda *a: stop.set())
    with tempfile.TemporaryDirectory(prefix="onewindow-echo-") as tmp:
        echo = Echo(qos, os.path.join(tmp, "echo.db") if work == "sqlite" else None)
        client_id = f"echo-{os.getpid()}"
        if pattern == "select":
            echo.transport = MqttTransport(settings, site, client_id, role="echo", on_batch_end=echo.end_of_batch)
            echo.transport.subscribe(cmd_topic(site), echo.collect, qos=qos)
            echo.transport.start(timeout=10)
        elif pattern == "worker":
            inbox: queue.Queue[bytes] = queue.Queue()
            threading.Thread(target=echo.work_from, args=(inbox, stop), daemon=True, name="echo-worker").start()
            echo.transport = ThreadedClient(settings, client_id, cmd_topic(site), qos,
                                             lambda topic, payload: inbox.put(payload))
        else:
            echo.transport = ThreadedClient(settings, client_id, cmd_topic(site), qos,
                                             lambda topic, payload: echo.answer([payload]))
        print(f"echo ready ({pattern}, QoS {qos}, work {work})", flush=True)
        stop.wait(max_seconds)
        echo.transport.stop()
        echo.close()


def start_echo(url: str, site: str, pattern: str = "network", qos: int = 1, work: str = "none",
               credentials: str | None = None) -> subprocess.Popen:
    """The echo responder in its own process; returns once it is subscribed. On a locked-down broker it
    connects with the server's `credentials` (only the server may answer)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.mqtt_load", "echo", "--broker", url, "--site", site, "--pattern", pattern,
         "--qos", str(qos), "--work", work, *(["--credentials", credentials] if credentials else [])],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wait_for_line(proc, "echo ready", 20)
    return proc


def wait_for_line(proc: subprocess.Popen, marker: str, timeout: float) -> list[str]:
    """Read the process's output until a line contains `marker`; the lines read so far are returned."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.2)
        if ready:
            line = proc.stdout.readline()
            if not line:
                break
            seen.append(line.rstrip())
            if marker in line:
                threading.Thread(target=_drain, args=(proc.stdout,), daemon=True).start()
                return seen
        elif proc.poll() is not None:
            break
    stop_process(proc)
    tail = "\n".join(seen[-15:])
    raise RuntimeError(f"{proc.args[:5]}... did not print {marker!r} within {timeout:.0f} s:\n{tail}")


def _drain(stream) -> None:
    for _ in stream:
        pass


def stop_process(proc: subprocess.Popen, timeout: float = 10) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)


# --- clients driven by hand (no paho threads) ------------------------------------------------------

def as_device(settings: BrokerSettings, client_id: str, secure_dir: str | None) -> BrokerSettings:
    """On a locked-down broker (`--secure`): connect as device `client_id` with its own credentials from
    `secure_dir` (written by `onewindow credentials`): the ACL lets it send only under its own name."""
    if not secure_dir:
        return settings
    creds = read_credentials(Path(secure_dir) / "devices" / f"{client_id}.conf")
    return BrokerSettings(settings.host, settings.port, client_id, creds.get("password"), tls=settings.tls,
                          ca=str(Path(secure_dir) / "ca.crt"))


def _connect(settings: BrokerSettings, client_id: str, qos: int, on_reply) -> paho.Client:
    c = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv311)
    if settings.username:
        c.username_pw_set(settings.username, settings.password)
    if settings.tls:
        c.tls_set(ca_certs=settings.ca)
    c.max_inflight_messages_set(1000)
    c.max_queued_messages_set(0)
    c.on_message = lambda client, userdata, msg: on_reply(msg.payload)
    c.suback = False
    c.on_subscribe = lambda client, *a: setattr(client, "suback", True)
    c.connect(settings.host, settings.port, keepalive=60)
    c.socket().setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return c


def _until(clients: list[paho.Client], done, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if done():
            return True
        for c in clients:
            c.loop(0.01)
    return done()


def measure_rtt(settings: BrokerSettings, site: str, samples: int = 2000, warmup: int = 200, qos: int = 1,
                business_type: str = "A", timeout: float = 60.0, secure_dir: str | None = None) -> dict:
    """Round trips with one request in flight, from a client driven in this thread (no paho thread)."""
    client_id = "bench-rtt" if secure_dir else f"rtt-{os.getpid()}"
    settings = as_device(settings, client_id, secure_dir)
    replies: list[bytes] = []
    c = _connect(settings, client_id, qos, replies.append)
    reply_to = reply_topic(site, client_id)
    # Request ids new in every call (a server answers a repeated id from memory), in letters: digits next
    # to the counter's could read as a phone number.
    run = "".join(chr(ord("a") + b % 26) for b in os.urandom(6))
    try:
        if not _until([c], c.is_connected, 10):
            raise RuntimeError("the round-trip client could not connect")
        c.subscribe(reply_to, qos)
        _until([c], lambda: c.suback, 10)
        rtts, errors, deadline = [], 0, time.monotonic() + timeout
        for i in range(warmup + samples):
            if time.monotonic() > deadline:
                break
            rid = f"{client_id}-{run}-{i}"
            body = json.dumps({"v": PROTOCOL_VERSION, "request_id": rid, "reply_to": reply_to,
                               "business_type": business_type})
            replies.clear()
            t0 = time.perf_counter()
            c.publish(cmd_topic(site, client_id), body, qos=qos)
            answered = False
            while time.monotonic() < deadline:
                c.loop(0.05)
                for r in replies:
                    reply = json.loads(r)
                    if reply.get("request_id") == rid:
                        answered = True
                        errors += 0 if reply.get("ok") else 1
                if answered:
                    break
            if answered and i >= warmup:
                rtts.append((time.perf_counter() - t0) * 1000)
    finally:
        c.disconnect()
    return rtt_figures(rtts, errors)


def rtt_figures(rtts: list[float], errors: int = 0) -> dict:
    """p50/p99/max of round trips in ms; `values` keeps them (rounds are pooled by concatenating these)."""
    return {"samples": len(rtts), "errors": errors, "p50_ms": percentile(rtts, 0.50),
            "p99_ms": percentile(rtts, 0.99), "max_ms": max(rtts) if rtts else None, "values": rtts}


def run_load(settings: BrokerSettings, site: str, clients: int, inflight: int, warmup: float, duration: float,
             qos: int, tag: str, business_types: list[str], max_requests: int = 2_000_000,
             secure_dir: str | None = None) -> dict:
    """One load process: `clients` connections, each keeping `inflight` requests outstanding.

    Waits for a line on stdin ("go") after printing "load ready", so all processes start together.
    Replies that arrive in [warmup, warmup + duration] count towards throughput.
    """
    state = {"sent": 0, "sending": True, "t_start": 0.0, "t_end": 0.0}
    counted, lat, errors = [0], [], [0]
    conns = []

    def make(i: int):
        cid = f"load-{tag}-{i}"
        conn = {"id": cid, "reply_to": reply_topic(site, cid), "seq": 0, "outstanding": {}}

        def on_reply(payload: bytes) -> None:
            now = time.perf_counter()
            try:
                reply = json.loads(payload)
                t0 = conn["outstanding"].pop(reply["request_id"])
            except (ValueError, KeyError):
                return
            if not reply.get("ok"):
                errors[0] += 1
            if state["t_start"] <= now <= state["t_end"]:
                counted[0] += 1
                lat.append((now - t0) * 1000)
            if state["sending"] and now < state["t_end"] and state["sent"] < max_requests:
                send(conn)

        conn["client"] = _connect(as_device(settings, cid, secure_dir), cid, qos, on_reply)
        return conn

    def send(conn) -> None:
        conn["seq"] += 1
        state["sent"] += 1
        rid = f"{conn['id']}-{conn['seq']}"
        bt = business_types[conn["seq"] % len(business_types)]
        body = json.dumps({"v": PROTOCOL_VERSION, "request_id": rid, "reply_to": conn["reply_to"],
                           "business_type": bt})
        conn["outstanding"][rid] = time.perf_counter()
        conn["client"].publish(cmd_topic(site, conn["id"]), body, qos=qos)

    for i in range(clients):
        conns.append(make(i))
    all_clients = [c["client"] for c in conns]
    _subscribe_and_wait_for_go(conns, all_clients, qos)

    now = time.perf_counter()
    state["t_start"], state["t_end"] = now + warmup, now + warmup + duration
    for c in conns:
        for _ in range(inflight):
            send(c)
    _drive(conns, all_clients, state)
    lost = sum(len(c["outstanding"]) for c in conns)
    for c in all_clients:
        c.disconnect()
    return {"tag": tag, "completed": counted[0], "window_s": duration, "errors": errors[0], "lost": lost,
            "sent": state["sent"], "latencies_ms": lat}


def _subscribe_and_wait_for_go(conns: list[dict], all_clients: list[paho.Client], qos: int) -> None:
    if not _until(all_clients, lambda: all(c.is_connected() for c in all_clients), 15):
        raise RuntimeError("load clients could not connect")
    for c in conns:
        c["client"].subscribe(c["reply_to"], qos)
    _until(all_clients, lambda: all(c.suback for c in all_clients), 15)
    print("load ready", flush=True)
    if not select.select([sys.stdin], [], [], 60)[0]:
        raise RuntimeError("no go signal within 60 s")
    sys.stdin.readline()


def _drive(conns: list[dict], all_clients: list[paho.Client], state: dict) -> None:
    """One select loop over every connection until the window ends and every reply is in (or 5 s more)."""
    by_sock = {c.socket(): c for c in all_clients}
    hard_stop = state["t_end"] + 5.0
    next_misc = 0.0
    while time.perf_counter() < hard_stop:
        now = time.perf_counter()
        if now > state["t_end"]:
            state["sending"] = False
            if not any(c["outstanding"] for c in conns):
                break
        socks = [s for s in by_sock if s is not None]
        rd, wr, _ = select.select(socks, [s for s in socks if by_sock[s].want_write()], [], 0.05)
        for s in rd:
            by_sock[s].loop_read()
        for c in all_clients:
            if c.want_write():
                c.loop_write()
        if now > next_misc:
            for c in all_clients:
                c.loop_misc()
            next_misc = now + 1.0


def pipelined_load(url: str, site: str, processes: int = 2, clients: int = 8, inflight: int = 32,
                   warmup: float = 1.0, duration: float = 5.0, qos: int = 1,
                   business_types: tuple[str, ...] = ("A",), secure_dir: str | None = None) -> dict:
    """Sustained throughput: `processes` x `clients` connections, `inflight` requests outstanding each."""
    procs = []
    try:
        for p in range(processes):
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "bench.mqtt_load", "load", "--broker", url, "--site", site,
                 "--clients", str(clients), "--inflight", str(inflight), "--warmup", str(warmup),
                 "--duration", str(duration), "--qos", str(qos), "--tag", f"p{p}",
                 "--business-types", ",".join(business_types),
                 *(["--secure-dir", secure_dir] if secure_dir else [])],
                cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True))
        for proc in procs:
            ready, _, _ = select.select([proc.stdout], [], [], 30)
            line = proc.stdout.readline() if ready else ""
            if "load ready" not in line:
                raise RuntimeError(f"a load process did not get ready: {line!r}")
        for proc in procs:
            proc.stdin.write("go\n")
            proc.stdin.flush()
        results = []
        for proc in procs:
            out, _ = proc.communicate(timeout=warmup + duration + 30)
            results.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for proc in procs:
            stop_process(proc)
    lat = [x for r in results for x in r["latencies_ms"]]
    completed = sum(r["completed"] for r in results)
    return {"throughput_per_s": completed / duration, "completed": completed,
            "errors": sum(r["errors"] for r in results), "lost": sum(r["lost"] for r in results),
            "loaded_p50_ms": percentile(lat, 0.5), "loaded_p99_ms": percentile(lat, 0.99),
            "connections": processes * clients, "inflight_per_connection": inflight}


# --- pattern comparison ----------------------------------------------------------------------------

def compare_patterns(patterns=ECHO_PATTERNS, qos_levels=(0, 1), samples: int = 2000, duration: float = 4.0,
                     site: str = "bench", work: str = "none") -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="onewindow-bench-") as tmp:
        os.chmod(tmp, 0o711)  # mosquitto, dropping to its own user, must reach its persistence dir
        broker = ManagedBroker(Path(tmp) / "broker").start()
        try:
            rows += _compare(broker, patterns, qos_levels, samples, duration, site, work)
        finally:
            broker.stop()
    return rows


def _compare(broker, patterns, qos_levels, samples, duration, site, work) -> list[dict]:
    rows = []
    for qos in qos_levels:
        for pattern in patterns:
            echo = start_echo(broker.url, site, pattern, qos, work)
            try:
                rtt = measure_rtt(broker.settings, site, samples=samples, qos=qos)
                load = pipelined_load(broker.url, site, duration=duration, qos=qos)
            finally:
                stop_process(echo)
            row = {"pattern": pattern, "qos": qos, "rtt_p50_ms": rtt["p50_ms"], "rtt_p99_ms": rtt["p99_ms"],
                   "throughput_per_s": load["throughput_per_s"], "loaded_p50_ms": load["loaded_p50_ms"],
                   "loaded_p99_ms": load["loaded_p99_ms"], "lost": load["lost"]}
            rows.append(row)
            print(f"  echo {pattern:8s} QoS {qos} work {work:6s}: round trip p50 {rtt['p50_ms']:.3f} ms  p99 "
                  f"{rtt['p99_ms']:.3f} ms | pipelined {load['throughput_per_s']:7.0f} round trips/s "
                  f"(under load p50 {load['loaded_p50_ms']:.1f} ms, p99 {load['loaded_p99_ms']:.1f} ms, "
                  f"lost {load['lost']})", flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.mqtt_load", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what")
    p = sub.add_parser("patterns", help="compare echo threading patterns and QoS levels (default)")
    p.add_argument("--patterns", default=",".join(ECHO_PATTERNS))
    p.add_argument("--qos", default="0,1")
    p.add_argument("--samples", type=int, default=2000)
    p.add_argument("--duration", type=float, default=4.0)
    p.add_argument("--work", choices=("none", "sqlite"), default="none")
    p = sub.add_parser("echo", help="run an echo responder")
    p.add_argument("--broker", required=True)
    p.add_argument("--site", required=True)
    p.add_argument("--pattern", choices=ECHO_PATTERNS, default="network")
    p.add_argument("--qos", type=int, default=1)
    p.add_argument("--max-seconds", type=float, default=MAX_SECONDS)
    p.add_argument("--work", choices=("none", "sqlite"), default="none")
    p.add_argument("--credentials", default=None, help="the server's credential file (locked-down broker)")
    p = sub.add_parser("load", help="one pipelined load process (prints one JSON line)")
    p.add_argument("--broker", required=True)
    p.add_argument("--site", required=True)
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--inflight", type=int, default=32)
    p.add_argument("--warmup", type=float, default=1.0)
    p.add_argument("--duration", type=float, default=5.0)
    p.add_argument("--qos", type=int, default=1)
    p.add_argument("--tag", default="p0")
    p.add_argument("--business-types", default="A")
    p.add_argument("--secure-dir", default=None, help="credentials of a locked-down broker (one per client)")
    args = parser.parse_args(argv)
    if args.what == "echo":
        creds = read_credentials(args.credentials) if args.credentials else {}
        run_echo(BrokerSettings.from_url(args.broker, creds.get("username"), creds.get("password")), args.site, args.pattern, args.qos, args.max_seconds,
                 args.work)
    elif args.what == "load":
        result = run_load(BrokerSettings.from_url(args.broker), args.site, args.clients, args.inflight,
                          args.warmup, min(args.duration, MAX_SECONDS), args.qos, args.tag,
                          args.business_types.split(","), secure_dir=args.secure_dir)
        print(json.dumps(result), flush=True)
    else:
        patterns = tuple(getattr(args, "patterns", ",".join(ECHO_PATTERNS)).split(","))
        qos = tuple(int(q) for q in getattr(args, "qos", "0,1").split(","))
        print("Echo patterns on loopback through a managed Mosquitto (2 load processes x 8 clients x 32 in "
              "flight):")
        compare_patterns(patterns, qos, getattr(args, "samples", 2000), getattr(args, "duration", 4.0),
                         work=getattr(args, "work", "none"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
