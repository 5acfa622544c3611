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
DEFAULT_TLS_PORT = 8883

@dataclass(frozen=True)
class BrokerSettings:
    """How to reach a broker: host, port, optional credentials, and TLS with the site CA (`mqtts://`)."""

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    username: str | None = None
    password: str | None = None
    tls: bool = False
    ca: str | None = None  # the site CA certificate (PEM) for mqtts://; None: the system's CAs

    @classmethod
    def from_url(cls, url: str, username: str | None = None, password: str | None = None,
                 ca: str | None = None) -> "BrokerSettings":
        """Parse `mqtt://[user:pass@]host[:port]` (also `tcp://`, or a bare `host:port`), or
        `mqtts://...` (also `ssl://`; port 8883 by default) for TLS checked against `ca`.

        Explicit `username`/`password` win over those in the URL.
        """
        if "://" not in url:
            url = "mqtt://" + url
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "tcp", "mqtts", "ssl"):
            raise ValueError(f"broker URL {url!r}: scheme must be mqtt:// or mqtts://")
        tls = parts.scheme in ("mqtts", "ssl")
        if not parts.hostname:
            raise ValueError(f"broker URL {url!r} names no host")
        try:
            port = parts.port or (DEFAULT_TLS_PORT if tls else DEFAULT_PORT)
        except ValueError:
            raise ValueError(f"broker URL {url!r}: the port must be a number from 1 to 65535") from None
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ValueError(f"broker URL {url!r}: only mqtt://[user:pass@]host:port is understood")
        user = unquote(parts.username) if parts.username else None
        pw = unquote(parts.password) if parts.password is not None else None
        return cls(host=parts.hostname, port=port, username=username or user,
                   password=password if password is not None else pw, tls=tls, ca=ca)

    @property
    def url(self) -> str:
        """The URL without the password (safe to log)."""
        user = f"{self.username}@" if self.username else ""
        return f"{'mqtts' if self.tls else 'mqtt'}://{user}{self.host}:{self.port}"

def add_broker_arguments(parser: argparse.ArgumentParser, default: str | None = None) -> None:
    """Add `--broker URL`, `--username`, `--password` to a component's command."""
    parser.add_argument("--broker", metavar="URL", default=default,
                        help="MQTT broker, mqtt://[user:pass@]host:port"
                             + (f" (default: {default})" if default else ""))
    parser.add_argument("--username", default=os.environ.get("ONEWINDOW_MQTT_USERNAME"),
                        help="broker user name (or in the URL; env ONEWINDOW_MQTT_USERNAME)")
    parser.add_argument("--password", default=os.environ.get("ONEWINDOW_MQTT_PASSWORD"),
                        help="broker password (or in the URL; env ONEWINDOW_MQTT_PASSWORD)")
    parser.add_argument("--credentials", default=os.environ.get("ONEWINDOW_MQTT_CREDENTIALS"), metavar="FILE",
                        help="this device's credential file from `onewindow credentials` (user name, password, "
                             "CA, URL; env ONEWINDOW_MQTT_CREDENTIALS)")
    parser.add_argument("--ca", default=os.environ.get("ONEWINDOW_MQTT_CA"), metavar="FILE",
                        help="site CA certificate for mqtts:// (env ONEWINDOW_MQTT_CA)")

def read_credentials(path: str | os.PathLike) -> dict[str, str]:
    """A device credential file (`key = value` lines: site, username, password, ca, url)."""
    out: dict[str, str] = {}
    try:
        text = open(path, encoding="utf-8").read()
    except FileNotFoundError:
        return out
    for line in text.splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            out[key.strip()] = value.strip()
    return out


def settings_from_args(args: argparse.Namespace) -> BrokerSettings:
    """Settings from --broker/--username/--password/--ca, filled in from --credentials FILE."""
    creds: dict[str, str] = {}
    path = getattr(args, "credentials", None)
    if path:
        creds = read_credentials(path)
        if not creds.get("username"):
            raise ValueError(f"credential file {path} does not exist or names no username")
    url = args.broker or creds.get("url") or f"mqtt://127.0.0.1:{DEFAULT_PORT}"
    return BrokerSettings.from_url(url, username=args.username or creds.get("username"),
                                   password=args.password if args.password is not None else creds.get("password"),
                                   ca=getattr(args, "ca", None) or creds.get("ca"))

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
