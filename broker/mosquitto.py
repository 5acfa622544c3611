"""A supervised local Mosquitto (`ManagedBroker`), for a site with no MQTT broker of its own.

A site with no broker of its own runs `onewindow broker`: it writes a Mosquitto configuration into a
state dir (loopback listener, anonymous access, TCP_NODELAY, burst-sized queues, persistence of
retained messages), starts `mosquitto -c <conf>` as a child process, restarts it if it dies and stops
it on SIGTERM/SIGINT. Every other component takes `--broker mqtt://[user:pass@]host:port` instead.

    with ManagedBroker("var/broker", port=0) as broker:    # port 0: pick a free port
        print(broker.url)                                  # mqtt://127.0.0.1:40123
"""
from __future__ import annotations

import logging
import os
import pwd
import shutil
import signal
import stat
import subprocess
import threading
import time
import ipaddress
from pathlib import Path
from typing import TYPE_CHECKING

from onewindow.broker import BrokerSettings, free_port, port_open

if TYPE_CHECKING:
    from broker.security import SecurityFiles

log = logging.getLogger("onewindow.broker")

DEFAULT_STATE_DIR = Path("var/broker")
MOSQUITTO_DIRS = ("/usr/sbin", "/usr/local/sbin", "/opt/homebrew/sbin", "/usr/local/opt/mosquitto/sbin")
INSTALL_HINT = (
    "mosquitto (the MQTT broker) is not installed. Install it with `apt-get install mosquitto` "
    "(Debian/Ubuntu), or run `./run setup`; or point onewindow at an existing broker with "
    "--broker mqtt://HOST:PORT."
)


class BrokerError(RuntimeError):
    """The managed broker could not be started or stopped."""


class MosquittoNotFound(BrokerError):
    def __init__(self, looked_in: str = ""):
        super().__init__(INSTALL_HINT + (f" (looked for it in {looked_in})" if looked_in else ""))


def find_mosquitto(explicit: str | None = None) -> str:
    """Path of the mosquitto binary, or MosquittoNotFound saying how to install it."""
    if explicit:
        if os.path.isfile(explicit) and os.access(explicit, os.X_OK):
            return explicit
        raise MosquittoNotFound(explicit)
    found = shutil.which("mosquitto")
    if found:
        return found
    for d in MOSQUITTO_DIRS:
        candidate = os.path.join(d, "mosquitto")
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    raise MosquittoNotFound("PATH and " + ", ".join(MOSQUITTO_DIRS))


# --- the configuration ---------------------------------------------------------------------------

def _reachable_by(path: Path, user: pwd.struct_passwd) -> bool:
    """Whether `user` can traverse every directory above `path` (ancestors only)."""
    for parent in path.resolve().parents:
        st = parent.stat()
        if st.st_uid == user.pw_uid:
            ok = st.st_mode & stat.S_IXUSR
        elif st.st_gid == user.pw_gid:
            ok = st.st_mode & stat.S_IXGRP
        else:
            ok = st.st_mode & stat.S_IXOTH
        if not ok:
            return False
    return True


def _run_as(state_dir: Path) -> str | None:
    """The `user` line for mosquitto.conf, making the persistence dir writable by that user.

    Mosquitto started as root drops to the `mosquitto` user; if that user cannot write the persistence
    dir, nothing is saved and nothing is said. So: chown the dir to it, or, when the state dir sits
    below a directory that user cannot enter (e.g. /root), keep the broker running as root.
    """
    if os.geteuid() != 0:
        return None  # mosquitto only drops privileges when started as root
    for name in ("mosquitto", "nobody"):
        try:
            user = pwd.getpwnam(name)
        except KeyError:
            continue
        st = state_dir.stat()
        if st.st_uid == os.geteuid() and not st.st_mode & stat.S_IXOTH:
            state_dir.chmod(st.st_mode | stat.S_IXOTH)  # let it reach persistence/ (enter, not list)
        if not _reachable_by(state_dir / "persistence", user):
            log.warning("broker state dir %s cannot be entered by user %s: mosquitto will run as root "
                        "so that retained messages are saved", state_dir, name)
            return "root"
        for p in (state_dir / "persistence", *(state_dir / "persistence").iterdir()):
            os.chown(p, user.pw_uid, user.pw_gid)
        return name
    return "root"


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def write_config(state_dir: Path, port: int, host: str = "127.0.0.1", max_queued: int = 100_000,
                 autosave_seconds: int = 5, security: "SecurityFiles | None" = None,
                 tls_port: int | None = None) -> Path:
    """Write `mosquitto.conf` into `state_dir`; returns its path.

    With `security` (broker/security.py): no anonymous clients, passwords and the ACL on every listener,
    the plain listener on 127.0.0.1 only and, with `tls_port`, a TLS listener on `host` with the site's
    certificate. Without it (tests, development): anonymous access, and only on a loopback address.
    """
    if security is None and not _is_loopback(host):
        raise BrokerError(f"refusing to listen on {host} with anonymous access and no TLS: anyone on the "
                          "network could run the queue. Generate credentials (`onewindow credentials`) and "
                          "run the broker locked down, or listen on 127.0.0.1.")
    state_dir.mkdir(parents=True, exist_ok=True)
    (state_dir / "persistence").mkdir(exist_ok=True)
    user = _run_as(state_dir)
    if security is None:
        listeners = [f"listener {port} {host}", "allow_anonymous true"]  # loopback only (checked above)
    else:
        from broker.security import mosquitto_lines
        listeners = mosquitto_lines(security, port, tls_port, host)
    lines = [
        "# Written by `onewindow broker`; rewritten on every start. Edit the command's options instead.",
        *listeners,
        "set_tcp_nodelay true",               # without it QoS 1 round trips take 40-90 ms (Nagle)
        f"max_queued_messages {max_queued}",  # the default 1000 drops messages in a burst
        "max_inflight_messages 100",
        "persistence true",                   # retained state survives a broker restart
        f"persistence_location {(state_dir / 'persistence').resolve()}/",
        f"autosave_interval {autosave_seconds}",
        "log_dest stderr",                    # the supervisor appends it to mosquitto.log
        "log_type error",
        "log_type warning",
        "log_type notice",
        "log_type information",
        "log_timestamp_format %Y-%m-%dT%H:%M:%S",
    ]
    if user:
        lines.append(f"user {user}")
    conf = state_dir / "mosquitto.conf"
    conf.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return conf


# --- the supervised process ----------------------------------------------------------------------

class ManagedBroker:
    """A Mosquitto child process on `host:port`, restarted (with backoff) whenever it dies.

    `port=0` picks a free port once; restarts keep it. Use as a context manager, or call `start()` and
    `stop()`. `kill()` SIGKILLs the broker (the supervisor brings it back); `restart()` stops it cleanly
    (saving retained messages) and starts it again.
    """

    def __init__(self, state_dir: str | os.PathLike = DEFAULT_STATE_DIR, port: int = 0,
                 host: str = "127.0.0.1", mosquitto: str | None = None,
                 min_backoff: float = 0.1, max_backoff: float = 10.0, autosave_seconds: int = 5,
                 security: "SecurityFiles | None" = None, tls_port: int | None = None):
        self.state_dir = Path(state_dir)
        self.security = security
        self.host = host
        if security is not None:  # passwords everywhere; plain on loopback, TLS on `host`
            self.tls_host, self.host = host, "127.0.0.1"
            self.tls_port = tls_port if tls_port is not None else free_port(self.host)
        else:
            self.tls_host, self.tls_port = None, None
        if security is None and not _is_loopback(host):
            raise BrokerError(f"refusing to listen on {host} with anonymous access and no TLS: generate "
                              "credentials (`onewindow credentials`) and run the broker locked down")
        self.port = port or free_port(self.host)
        self.binary = find_mosquitto(mosquitto)
        self.min_backoff, self.max_backoff = min_backoff, max_backoff
        self.backoffs: list[float] = []  # the wait before each unplanned restart, in seconds
        self.autosave_seconds = autosave_seconds
        self.restarts = 0  # unplanned restarts done by the supervisor
        self._proc: subprocess.Popen | None = None
        self._lock = threading.Condition()
        self._stopping = False
        self._planned_exit = False
        self._generation = 0  # bumped each time a broker process becomes ready
        self._failure: str | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    @property
    def settings(self) -> BrokerSettings:
        return BrokerSettings(host=self.host, port=self.port)

    @property
    def tls_url(self) -> str | None:
        return f"mqtts://{self.tls_host}:{self.tls_port}" if self.tls_port else None

    def settings_for(self, user: str, tls: bool = False) -> BrokerSettings:
        """How device `user` reaches this (locked-down) broker: its credentials, plain or TLS."""
        if self.security is None:
            raise BrokerError("this broker has no credentials: it was started without security files")
        password = self.security.password(user)
        if password is None:
            raise BrokerError(f"no credentials for {user} in {self.security.directory}")
        if tls:
            host = "127.0.0.1" if self.tls_host in ("0.0.0.0", "::") else self.tls_host
            return BrokerSettings(host=host, port=self.tls_port, username=user, password=password, tls=True,
                                  ca=str(self.security.ca))
        return BrokerSettings(host=self.host, port=self.port, username=user, password=password)

    @property
    def pid(self) -> int | None:
        proc = self._proc
        return proc.pid if proc and proc.poll() is None else None

    @property
    def generation(self) -> int:
        """How many broker processes have become ready so far (for `wait_ready`)."""
        return self._generation

    @property
    def log_path(self) -> Path:
        return self.state_dir / "mosquitto.log"

    def __enter__(self) -> "ManagedBroker":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self, timeout: float = 10.0) -> "ManagedBroker":
        """Write the configuration, start mosquitto and return once the port accepts connections."""
        if self._thread is not None:
            raise BrokerError("the broker is already started")
        self.conf_path = write_config(self.state_dir, self.port, self.tls_host or self.host,
                                      autosave_seconds=self.autosave_seconds, security=self.security,
                                      tls_port=self.tls_port)
        self._stop_leftover()
        self._stopping = False
        self._thread = threading.Thread(target=self._supervise, name="mosquitto-supervisor", daemon=True)
        self._thread.start()
        try:
            self.wait_ready(0, timeout)
        except BrokerError:
            self.stop()
            raise
        log.info("broker ready at %s (mosquitto pid %s, state in %s)", self.url, self.pid, self.state_dir)
        return self

    def wait_ready(self, after_generation: int, timeout: float = 10.0) -> int:
        """Wait until a broker process newer than `after_generation` accepts connections."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._generation <= after_generation:
                if self._failure and self._generation == 0:
                    raise BrokerError(self._failure)
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._thread is None:
                    raise BrokerError(f"mosquitto did not accept connections on {self.host}:{self.port} "
                                      f"within {timeout:.0f} s; see {self.log_path}:\n{self._log_tail()}")
                self._lock.wait(min(remaining, 0.1))
            return self._generation

    def kill(self) -> None:
        """SIGKILL the broker process (as a crash would); the supervisor restarts it."""
        proc = self._proc
        if proc and proc.poll() is None:
            proc.kill()

    def reload(self) -> None:
        """SIGHUP: mosquitto re-reads its password file and ACL (after `onewindow credentials --rotate`);
        connected clients stay connected, new connections need the new passwords."""
        proc = self._proc
        if proc and proc.poll() is None:
            proc.send_signal(signal.SIGHUP)

    def restart(self, timeout: float = 10.0) -> None:
        """Stop mosquitto cleanly (it saves retained messages) and start it again."""
        with self._lock:
            generation, proc = self._generation, self._proc
            self._planned_exit = True
        if proc and proc.poll() is None:
            proc.terminate()
        self.wait_ready(generation, timeout)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the supervisor and mosquitto (SIGTERM, then SIGKILL after `timeout`)."""
        with self._lock:
            self._stopping = True
            self._lock.notify_all()
        self._terminate(self._proc, timeout)
        if self._thread is not None:
            self._thread.join(timeout + 1)
            self._thread = None
        self._terminate(self._proc, timeout)  # in case the supervisor was starting one just then
        (self.state_dir / "mosquitto.pid").unlink(missing_ok=True)

    @staticmethod
    def _terminate(proc: subprocess.Popen | None, timeout: float = 5.0) -> None:
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("mosquitto did not stop within %.0f s; killing it", timeout)
            proc.kill()
            proc.wait(timeout)

    # The supervisor thread starts every mosquitto process and waits on it.
    def _supervise(self) -> None:
        try:
            self._supervise_loop()
        finally:
            self._terminate(self._proc)

    def _supervise_loop(self) -> None:
        delay = self.min_backoff
        while not self._stopping:
            started = time.monotonic()
            if not self._spawn():
                self._failure = f"mosquitto failed to start; see {self.log_path}:\n{self._log_tail()}"
                log.error("%s", self._failure)
            else:
                if self.restarts:
                    log.info("mosquitto is back (pid %d) after %d restart(s)", self._proc.pid, self.restarts)
                rc = self._proc.wait()
                with self._lock:
                    planned, self._planned_exit = self._planned_exit, False
                if self._stopping:
                    break
                if planned:
                    log.info("broker stopped for a restart; starting it again")
                    continue
                log.warning("mosquitto exited unexpectedly (exit code %s)", rc)
            if time.monotonic() - started > 30:
                delay = self.min_backoff  # it had been running fine: restart promptly
            self.restarts += 1
            self.backoffs.append(delay)
            log.warning("restarting mosquitto in %.1f s (restart %d)", delay, self.restarts)
            with self._lock:
                self._lock.wait_for(lambda: self._stopping, timeout=delay)
            delay = min(delay * 2, self.max_backoff)

    def _ports(self) -> list[tuple[str, int]]:
        ports = [(self.host, self.port)]
        if self.tls_port:
            ports.append((self.tls_host, self.tls_port))
        return ports

    def _spawn(self) -> bool:
        """Start one mosquitto process and wait until IT listens on its ports (not another process)."""
        taken = [f"{h}:{p}" for h, p in self._ports() if not port_free(h, p)]
        if taken:
            with open(self.log_path, "ab") as logfile:
                logfile.write(f"onewindow: port {', '.join(taken)} is taken by another process "
                              "(another broker?): not starting mosquitto\n".encode())
            return False
        with open(self.log_path, "ab") as logfile:
            proc = subprocess.Popen(
                [self.binary, "-c", str(self.conf_path)], stdin=subprocess.DEVNULL, stdout=logfile,
                stderr=subprocess.STDOUT, start_new_session=True,  # Ctrl-C reaches us, not mosquitto
            )
        self._proc = proc
        (self.state_dir / "mosquitto.pid").write_text(f"{proc.pid}\n")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not self._stopping:
            if proc.poll() is not None:
                return False
            if all(listens(proc.pid, p) for _, p in self._ports()):
                with self._lock:
                    self._generation += 1
                    self._failure = None
                    self._lock.notify_all()
                return True
            time.sleep(0.02)
        self._terminate(proc)
        return False

    def _stop_leftover(self) -> None:
        """Stop a mosquitto left running on this state dir by a process that was killed."""
        pidfile = self.state_dir / "mosquitto.pid"
        try:
            pid = int(pidfile.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError):
            return
        if str(self.conf_path).encode() in cmdline:
            log.warning("stopping mosquitto pid %d left over from an earlier run", pid)
            os.kill(pid, signal.SIGTERM)
            for _ in range(100):
                if not Path(f"/proc/{pid}").exists():
                    break
                time.sleep(0.05)

    def _log_tail(self, lines: int = 8) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


def port_free(host: str, port: int) -> bool:
    """Whether `host:port` can be bound now (nobody listens there)."""
    import socket
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as mosquitto does: TIME_WAIT is fine
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def listens(pid: int, port: int) -> bool:
    """Whether process `pid` itself has a listening TCP socket on `port` (Linux /proc; elsewhere: the
    port accepts connections). A broker must not report ready on a port another process holds."""
    try:
        inodes = set()
        for name in ("tcp", "tcp6"):
            try:
                lines = Path(f"/proc/net/{name}").read_text().splitlines()[1:]
            except OSError:
                continue
            for line in lines:
                f = line.split()
                if f[3] == "0A" and int(f[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(f[9])
        fds = Path(f"/proc/{pid}/fd")
        if not fds.exists():
            return port_open("127.0.0.1", port)
        for fd in fds.iterdir():
            try:
                link = os.readlink(fd)
            except OSError:
                continue
            if link.startswith("socket:[") and link[8:-1] in inodes:
                return True
        return False
    except OSError:
        return port_open("127.0.0.1", port)
