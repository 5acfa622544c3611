"""Where the MQTT broker is: `BrokerSettings` from `--broker mqtt://[user:pass@]host:port`.

Every component takes `--broker` (`add_broker_arguments`, `settings_from_args`). A site with no broker
of its own runs the managed Mosquitto of the `broker` package (`onewindow broker`).
"""
from __future__ import annotations

import argparse
import os
import socket
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

DEFAULT_PORT = 1883

@dataclass(frozen=True)
class BrokerSettings:
    """How to reach a broker: host, port and optional credentials."""

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    username: str | None = None
    password: str | None = None

    @classmethod
    def from_url(cls, url: str, username: str | None = None, password: str | None = None) -> "BrokerSettings":
        """Parse `mqtt://[user:pass@]host[:port]` (also `tcp://`, or a bare `host:port`).

        Explicit `username`/`password` win over those in the URL.
        """
        if "://" not in url:
            url = "mqtt://" + url
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "tcp"):
            raise ValueError(f"broker URL {url!r}: scheme must be mqtt:// (TLS is not supported yet)")
        if not parts.hostname:
            raise ValueError(f"broker URL {url!r} names no host")
        try:
            port = parts.port or DEFAULT_PORT
        except ValueError:
            raise ValueError(f"broker URL {url!r}: the port must be a number from 1 to 65535") from None
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ValueError(f"broker URL {url!r}: only mqtt://[user:pass@]host:port is understood")
        user = unquote(parts.username) if parts.username else None
        pw = unquote(parts.password) if parts.password is not None else None
        return cls(host=parts.hostname, port=port, username=username or user,
                   password=password if password is not None else pw)

    @property
    def url(self) -> str:
        """The URL without the password (safe to log)."""
        user = f"{self.username}@" if self.username else ""
        return f"mqtt://{user}{self.host}:{self.port}"

def add_broker_arguments(parser: argparse.ArgumentParser, default: str | None = None) -> None:
    """Add `--broker URL`, `--username`, `--password` to a component's command."""
    parser.add_argument("--broker", metavar="URL", default=default,
                        help="MQTT broker, mqtt://[user:pass@]host:port"
                             + (f" (default: {default})" if default else ""))
    parser.add_argument("--username", default=os.environ.get("ONEWINDOW_MQTT_USERNAME"),
                        help="broker user name (or in the URL; env ONEWINDOW_MQTT_USERNAME)")
    parser.add_argument("--password", default=os.environ.get("ONEWINDOW_MQTT_PASSWORD"),
                        help="broker password (or in the URL; env ONEWINDOW_MQTT_PASSWORD)")

def settings_from_args(args: argparse.Namespace) -> BrokerSettings:
    return BrokerSettings.from_url(args.broker or f"mqtt://127.0.0.1:{DEFAULT_PORT}",
                                   username=args.username, password=args.password)

def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]

def port_open(host: str, port: int, timeout: float = 0.2) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False
