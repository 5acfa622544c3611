"""Credentials, ACL and TLS files for a locked-down site broker (`onewindow credentials`).

From the site's device registry (`[[device]]` in the site configuration; a default one when it has
none, see `default_devices`) this writes into one directory:

    passwd            Mosquitto password file: one PBKDF2-SHA512 hash per device (mosquitto's `$7$` form)
    acl               Mosquitto ACL: who may read and write which topics (see `acl_text`, docs/SECURITY.md)
    ca.crt, ca.key    the site CA (the key never leaves this directory; mode 600)
    server.crt/.key   the broker's TLS certificate, signed by the site CA, for the names given
    devices/<id>.conf one file per device (and one for the queue server): user name, password, CA, URL;
                      give each device its own, nothing else

Files Mosquitto reads (passwd, acl, server.key, server.crt) are owned root:mosquitto, mode 640:
Mosquitto drops to its own user before it reads them. Running again keeps existing passwords and the
CA; `rotate` names devices to get new passwords; `rotate_ca` makes a new CA and server certificate.
"""
from __future__ import annotations

import base64
import grp
import hashlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from onewindow.broker import read_credentials
from onewindow.config import Device, SiteConfig

ITERATIONS = 101  # mosquitto_passwd's own default; each connect pays for it once
WINDOW_COMMANDS = ("sign_in", "sign_out", "pause", "resume", "call_next", "call", "recall", "start", "finish",
                   "no_show", "transfer", "hold", "call_back")


def server_user(site_id: str) -> str:
    """The queue server's MQTT user name (and client id)."""
    return f"server-{site_id}"


def default_devices(site: SiteConfig) -> tuple[Device, ...]:
    """The registry of a site that lists no devices: two kiosks, a display, a device per window, one
    console and one manager console."""
    return (Device("kiosk-1", "kiosk"), Device("kiosk-2", "kiosk"), Device("display-1", "display"),
            *(Device(f"window-{w.number}", "window", (w.number,)) for w in site.windows),
            Device("console", "console"), Device("manager", "manager"))


def registry(site: SiteConfig) -> tuple[Device, ...]:
    return site.devices or default_devices(site)


def hash_password(password: str, salt: bytes | None = None, iterations: int = ITERATIONS) -> str:
    """A password hash in mosquitto 2's format: $7$iterations$base64(salt)$base64(pbkdf2-sha512)."""
    salt = salt if salt is not None else secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, iterations, 64)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def acl_text(site_id: str, devices: tuple[Device, ...]) -> str:
    """The Mosquitto ACL of a site. Identity is in the topic: a client may publish commands only under
    its own user name (`pattern ... %u`), read only its own replies; only the server writes state,
    calls, the event log and replies."""
    root = f"onewindow/{site_id}"
    lines = [
        f"# Mosquitto ACL of site {site_id}, written by `onewindow credentials`. Edit the registry, not this.",
        "# Every client: commands only under its own name, replies only its own, its presence and status.",
        f"pattern write {root}/cmd/%u/+",
        f"pattern read {root}/reply/%u",
        f"pattern readwrite {root}/presence/%u",
        f"pattern write {root}/device/%u/status",
        "",
        "# The queue server: the whole site.",
        f"user {server_user(site_id)}",
        f"topic readwrite {root}/#",
    ]
    reads = {
        "kiosk": ("state/#", f"presence/{server_user(site_id)}"),  # the server's presence: "out of service"
        "display": ("state/#", "event/call", f"presence/{server_user(site_id)}"),  # marks "server offline"
        "window": ("state/#", "event/call", f"presence/{server_user(site_id)}"),
        "console": ("state/#", "event/#", "presence/+", "device/+/status"),
        "manager": ("state/#", "event/#", "presence/+", "device/+/status"),
    }
    writes = {"kiosk": ("event/print",)}
    for device in devices:
        lines += ["", f"# {device.role}" + (f" for window {', '.join(map(str, device.windows))}"
                                            if device.windows else ""), f"user {device.id}"]
        lines += [f"topic read {root}/{t}" for t in reads[device.role]]
        lines += [f"topic write {root}/{t}" for t in writes.get(device.role, ())]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class SecurityFiles:
    directory: Path

    @property
    def passwd(self) -> Path:
        return self.directory / "passwd"

    @property
    def acl(self) -> Path:
        return self.directory / "acl"

    @property
    def ca(self) -> Path:
        return self.directory / "ca.crt"

    @property
    def ca_key(self) -> Path:
        return self.directory / "ca.key"

    @property
    def cert(self) -> Path:
        return self.directory / "server.crt"

    @property
    def key(self) -> Path:
        return self.directory / "server.key"

    def device_file(self, device_id: str) -> Path:
        return self.directory / "devices" / f"{device_id}.conf"

    def password(self, device_id: str) -> str | None:
        return read_credentials(self.device_file(device_id)).get("password")

    def exists(self) -> bool:
        return all(p.exists() for p in (self.passwd, self.acl, self.ca, self.cert, self.key))


def _owned(path: Path, mode: int, group: str | None = "mosquitto") -> None:
    """chmod, and when running as root chown to root:<group> so that mosquitto (after it drops to its
    own user) can read the file."""
    os.chmod(path, mode)
    if os.geteuid() == 0 and group:
        try:
            os.chown(path, 0, grp.getgrnam(group).gr_gid)
        except KeyError:
            pass


def _write(path: Path, data: bytes | str, mode: int, group: str | None = "mosquitto") -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data.encode("utf-8") if isinstance(data, str) else data)
    _owned(tmp, mode, group)
    os.replace(tmp, path)


def generate(site: SiteConfig, directory: str | Path, hosts: tuple[str, ...] = ("127.0.0.1", "localhost"),
             url: str | None = None, rotate: tuple[str, ...] = (), rotate_ca: bool = False) -> SecurityFiles:
    """Write (or refresh) the site's security files into `directory`; see the module docstring."""
    from broker import tls  # cryptography is only needed here

    files = SecurityFiles(Path(directory))
    files.directory.mkdir(parents=True, exist_ok=True)
    (files.directory / "devices").mkdir(exist_ok=True)
    _owned(files.directory, 0o750)
    os.chmod(files.directory / "devices", 0o700)
    devices = registry(site)
    users = [server_user(site.site_id), *(d.id for d in devices)]
    if rotate_ca or not (files.ca.exists() and files.ca_key.exists()):
        ca_cert, ca_key = tls.make_ca(f"onewindow site CA {site.site_id}")
        _write(files.ca_key, ca_key, 0o600, group=None)
        _write(files.ca, ca_cert, 0o644)
        rotate_ca = True
    if rotate_ca or not files.cert.exists() or not tls.covers(files.cert.read_bytes(), hosts):
        cert, key = tls.make_server_cert(files.ca.read_bytes(), files.ca_key.read_bytes(), hosts)
        _write(files.key, key, 0o640)
        _write(files.cert, cert, 0o640)
    lines = []
    for user in users:
        password = None if user in rotate or "all" in rotate else files.password(user)
        password = password or secrets.token_urlsafe(24)
        lines.append(f"{user}:{hash_password(password)}")
        role = "server" if user == server_user(site.site_id) else next(d.role for d in devices if d.id == user)
        body = (f"# onewindow credentials of {user} ({role}) at site {site.site_id}. Keep it secret.\n"
                f"site = {site.site_id}\nusername = {user}\npassword = {password}\n"
                f"ca = {files.ca.resolve()}\n" + (f"url = {url}\n" if url else ""))
        _write(files.device_file(user), body, 0o600, group=None)
    for stale in (files.directory / "devices").glob("*.conf"):
        if stale.stem not in users:
            stale.unlink()  # a device taken out of the registry loses its credentials
    _write(files.passwd, "\n".join(lines) + "\n", 0o640)
    _write(files.acl, acl_text(site.site_id, devices), 0o640)
    return files


def mosquitto_lines(files: SecurityFiles, plain_port: int | None, tls_port: int | None,
                    tls_host: str = "0.0.0.0") -> list[str]:
    """The mosquitto.conf lines of a locked-down broker: no anonymous clients, passwords and the ACL for
    every listener, a plain listener on loopback only and a TLS listener with the site's certificate."""
    d = files.directory.resolve()
    lines = ["per_listener_settings false", "allow_anonymous false",
             f"password_file {d / 'passwd'}", f"acl_file {d / 'acl'}"]
    if plain_port is not None:
        lines.append(f"listener {plain_port} 127.0.0.1")
    if tls_port is not None:
        lines += [f"listener {tls_port} {tls_host}", f"cafile {d / 'ca.crt'}", f"certfile {d / 'server.crt'}",
                  f"keyfile {d / 'server.key'}", "tls_version tlsv1.2"]
    return lines
