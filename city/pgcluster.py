"""A throw-away PostgreSQL cluster for tests, demos and benchmarks: initdb + pg_ctl on a unix socket.

    with PgCluster("/tmp/city-pg") as pg:       # initdb on first use, then start
        conninfo = pg.conninfo("onewindow_city") # "host=/tmp/city-pg/socket port=... dbname=..."
        pg.kill()                                # SIGKILL the postmaster, as a crash would
        pg.start()                               # crash recovery, same data

It listens on no TCP port unless `tcp_port` is given (127.0.0.1 only). initdb and postgres refuse to
run as root: as root the cluster runs as the unprivileged user `run_as` (default `nobody`), which gets
the data directory; the directory above it must be enterable by that user (a `tempfile.mkdtemp` dir is
made so; pytest's `tmp_path` is not, its parents are mode 0700).
"""
from __future__ import annotations

import glob
import logging
import os
import pwd
import shutil
import signal
import subprocess
import time
from pathlib import Path

log = logging.getLogger("onewindow.city.pg")

INSTALL_HINT = ("PostgreSQL is not installed: `apt-get install postgresql` (Debian/Ubuntu) or `./run setup`; "
                "or point onewindow at an existing one with --city-store 'host=... dbname=...'.")


class PgError(RuntimeError):
    """The cluster could not be created, started or stopped."""


def pg_bin_dir() -> Path:
    """The directory of initdb/pg_ctl: PATH first, then Debian's /usr/lib/postgresql/<newest>/bin."""
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda d: int(Path(d).parent.name)
                  if Path(d).parent.name.isdigit() else 0)
    for d in reversed(dirs):
        if os.access(os.path.join(d, "pg_ctl"), os.X_OK):
            return Path(d)
    raise PgError(INSTALL_HINT)


class PgCluster:
    def __init__(self, base_dir: str | os.PathLike, tcp_port: int | None = None, run_as: str = "nobody",
                 fsync: bool = True, settings: dict[str, str] | None = None):
        self.base = Path(base_dir).resolve()
        self.data = self.base / "data"
        self.socket_dir = self.base / "socket"
        self.tcp_port = tcp_port
        self.port = tcp_port or 5432  # the socket file is named after the port
        self.bin = pg_bin_dir()
        self.fsync = fsync
        self.settings = settings or {}
        self.user = pwd.getpwnam(run_as) if os.geteuid() == 0 else None

    # --- running PostgreSQL's own programs as the unprivileged user -------------------------------
    def _cmd(self, program: str, *args: str) -> list[str]:
        cmd = [str(self.bin / program), *args]
        if self.user is not None:
            cmd = ["runuser", "-u", self.user.pw_name, "--", *cmd]
        return cmd

    def _run(self, program: str, *args: str, timeout: float = 60) -> str:
        proc = subprocess.run(self._cmd(program, *args), capture_output=True, text=True, timeout=timeout,
                              cwd="/")
        if proc.returncode != 0:
            raise PgError(f"{program} failed ({proc.returncode}): {(proc.stderr or proc.stdout).strip()[-2000:]}")
        return proc.stdout

    def _own(self, path: Path) -> None:
        if self.user is not None:
            os.chown(path, self.user.pw_uid, self.user.pw_gid)

    def initialised(self) -> bool:
        return (self.data / "PG_VERSION").exists()

    def _check_reachable(self) -> None:
        """As root, PostgreSQL runs as `run_as`, which must be able to enter every directory above the data."""
        if self.user is None:
            return
        for parent in self.base.parents:
            st = parent.stat()
            if st.st_uid == self.user.pw_uid or st.st_mode & 0o001:
                continue
            raise PgError(f"PostgreSQL runs as user {self.user.pw_name}, who cannot enter {parent} (mode "
                          f"{st.st_mode & 0o777:o}): put the cluster elsewhere (e.g. under /var/lib or /tmp), "
                          f"or chmod o+x {parent}")

    def init(self) -> None:
        """initdb (once): a cluster whose superuser is `postgres`, trusting local socket connections only."""
        self._check_reachable()
        self.base.mkdir(parents=True, exist_ok=True)
        self.base.chmod(0o755)
        for d in (self.data, self.socket_dir):
            d.mkdir(exist_ok=True)
            self._own(d)
        self.data.chmod(0o700)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                  "--locale=C", "--no-sync", timeout=120)
        log.info("PostgreSQL cluster created in %s", self.data)

    def _options(self) -> str:
        opts = {"unix_socket_directories": f"'{self.socket_dir}'", "port": str(self.port),
                "listen_addresses": "'127.0.0.1'" if self.tcp_port else "''",
                "fsync": "on" if self.fsync else "off", "max_connections": "200", **self.settings}
        return " ".join(f"-c {k}={v}" for k, v in opts.items())

    # --- life cycle ------------------------------------------------------------------------------
    def start(self, timeout: float = 60) -> "PgCluster":
        if not self.initialised():
            self.init()
        self._own(self.socket_dir)
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.data / "server.log"), "-o", self._options(),
                  "-w", "-t", str(int(timeout)), "start", timeout=timeout + 5)
        log.info("PostgreSQL ready on %s (port %d)", self.socket_dir, self.port)
        return self

    def stop(self, mode: str = "fast", timeout: float = 30) -> None:
        """pg_ctl stop; `mode` "immediate" is an unclean stop (crash recovery at the next start)."""
        if self.pid() is None:
            return
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", str(int(timeout)), "stop",
                  timeout=timeout + 5)

    def kill(self) -> None:
        """SIGKILL the postmaster and its children, as a power cut of the database would."""
        pid = self.pid()
        if pid is None:
            return
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
            time.sleep(0.05)
        # The backends notice their postmaster is gone and exit; wait for the shared memory to free.
        while time.monotonic() < deadline and self._backends_alive():
            time.sleep(0.05)

    def _backends_alive(self) -> bool:
        for proc in Path("/proc").iterdir():
            if proc.name.isdigit():
                try:
                    if str(self.data).encode() in (proc / "cmdline").read_bytes():
                        return True
                except OSError:
                    continue
        return False

    def pid(self) -> int | None:
        try:
            pid = int((self.data / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None
        return pid if Path(f"/proc/{pid}").exists() else None

    def destroy(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self) -> "PgCluster":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- connecting ------------------------------------------------------------------------------
    def conninfo(self, dbname: str = "postgres") -> str:
        return f"host={self.socket_dir} port={self.port} user=postgres dbname={dbname}"

    def create_database(self, name: str) -> str:
        """Create database `name` if it is missing; its conninfo."""
        import psycopg
        with psycopg.connect(self.conninfo(), autocommit=True) as conn:
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
                conn.execute(f'CREATE DATABASE "{name}"')
        return self.conninfo(name)
