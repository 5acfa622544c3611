"""Build and run the console: one MQTT transport, the hall link, the users file and the web app.

`ConsoleRunner(...).start()` serves in a background thread (tests, benchmarks, the demo);
`.serve()` serves in the calling thread until Ctrl-C (the `onewindow console` command).
"""
from __future__ import annotations

import logging
import os
import secrets
import threading
import time
from pathlib import Path

import uvicorn

from console.accounts import Accounts
from console.app import create_app
from console.hall import Hall
from console.sessions import DEFAULT_TTL, SessionSigner
from onewindow.broker import BrokerSettings
from onewindow.mqtt import MqttTransport

log = logging.getLogger("onewindow.console")


def load_secret(path: str | os.PathLike | None) -> bytes:
    """The session key: read from `path` (made on first use, mode 600) so sessions survive a
    restart; without a path, a fresh key (every session ends when the console stops)."""
    if path is None:
        return secrets.token_bytes(32)
    p = Path(path)
    if not p.exists():
        p.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
    return bytes.fromhex(p.read_text().strip())


class WebRunner:
    """A web app served by uvicorn beside one MQTT transport: `start()` serves in a background thread,
    `serve()` in the calling thread until Ctrl-C. Subclasses set `transport`, `accounts` and call
    `_serve_app`; the city console (city/viewer.py) is one too."""

    name = "console"

    def _serve_app(self, app, host: str, port: int, lifespan: str) -> None:
        self.app = app
        config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False,
                                timeout_graceful_shutdown=2, lifespan=lifespan)
        self.server = uvicorn.Server(config)
        self.host, self.port = host, port
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0):
        self.transport.start(timeout=None)  # the page works (and says so) while the broker is away
        self._thread = threading.Thread(target=self.server.run, name=f"{self.name.replace(' ', '-')}-http",
                                        daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"the {self.name} did not start on {self.url}")
            time.sleep(0.02)
        return self

    def serve(self) -> None:
        self.transport.start(timeout=None)
        log.info("%s on %s", self.name, self.url)
        try:
            self.server.run()
        finally:
            self.close()

    def stop(self) -> None:
        self._closing()
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)
        self.close()

    def _closing(self) -> None:
        """Before the server is told to exit (end open event streams, so uvicorn need not wait)."""

    def close(self) -> None:
        self.transport.stop()
        self.accounts.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class ConsoleRunner(WebRunner):
    def __init__(self, settings: BrokerSettings, site_id: str, users: str | os.PathLike, *,
                 host: str = "127.0.0.1", port: int = 8080, client_id: str = "console",
                 secret: bytes | None = None, session_ttl: float = DEFAULT_TTL, secure_cookies: bool = False,
                 command_timeout: float = 1.5, routes=(), manager: dict | None = None):
        self.transport = MqttTransport(settings, site_id, client_id, role="console")
        self.hall = Hall(self.transport, site_id, client_id, timeout=command_timeout)
        self.accounts = Accounts(users)
        self.signer = SessionSigner(secret or secrets.token_bytes(32), ttl=session_ttl)
        self._serve_app(create_app(self.hall, self.accounts, self.signer, secure_cookies=secure_cookies,
                                   routes=routes, manager=manager), host, port, lifespan="on")

    def _closing(self) -> None:
        self.hall.closing = True

    def close(self) -> None:
        self.hall.closing = True
        super().close()
