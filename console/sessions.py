"""Signed, time-limited session cookies and the CSRF token that goes with each session.

A session cookie is `base64url(json) . base64url(hmac_sha256(secret, json))`. The JSON holds the
user, role, the window a clerk signed in at, a random session id and the expiry time. Nothing in it
is secret; it cannot be forged or extended without the console's secret key. The CSRF token is an
HMAC of the session id: the page reads it from `/api/me` and sends it in the `X-CSRF-Token` header of
every state-changing request (a cross-site form or script has neither the cookie's contents nor the
token). Signing out puts the session id on a revoked list kept until the session would have expired.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import threading
import time
from dataclasses import dataclass

from onewindow.transport import dumps

COOKIE = "ow_session"
DEFAULT_TTL = 12 * 3600.0  # a working day, then sign in again


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Session:
    sid: str
    username: str
    role: str
    name: str
    window: int | None
    expires: float


class SessionSigner:
    def __init__(self, secret: bytes, ttl: float = DEFAULT_TTL, clock=time.time):
        if len(secret) < 16:
            raise ValueError("the session secret must be at least 16 bytes")
        self.secret = secret
        self.ttl = ttl
        self.clock = clock
        self._revoked: dict[str, float] = {}
        self._lock = threading.Lock()

    def _mac(self, data: bytes, purpose: bytes = b"session") -> bytes:
        return hmac.new(self.secret, purpose + b"\0" + data, hashlib.sha256).digest()

    def issue(self, username: str, role: str, name: str = "", window: int | None = None) -> tuple[str, Session]:
        s = Session(os.urandom(12).hex(), username, role, name, window, self.clock() + self.ttl)
        body = dumps({"sid": s.sid, "u": s.username, "r": s.role, "n": s.name, "w": s.window,
                      "exp": s.expires}).encode("utf-8")
        return f"{_b64(body)}.{_b64(self._mac(body))}", s

    def read(self, cookie: str | None) -> Session | None:
        """The session in a cookie, or None if absent, forged, expired or signed out."""
        if not cookie or "." not in cookie or len(cookie) > 2048:
            return None
        body_text, mac_text = cookie.split(".", 1)
        try:
            body, mac = _unb64(body_text), _unb64(mac_text)
            if not hmac.compare_digest(mac, self._mac(body)):
                return None
            d = json.loads(body)
            s = Session(d["sid"], d["u"], d["r"], d.get("n", ""), d.get("w"), float(d["exp"]))
        except (ValueError, KeyError, TypeError):
            return None
        if s.expires <= self.clock():
            return None
        with self._lock:
            if s.sid in self._revoked:
                return None
        return s

    def revoke(self, session: Session) -> None:
        now = self.clock()
        with self._lock:
            self._revoked[session.sid] = session.expires
            for sid in [k for k, exp in self._revoked.items() if exp <= now]:
                del self._revoked[sid]

    def csrf_token(self, session: Session) -> str:
        return _b64(self._mac(session.sid.encode("ascii"), b"csrf"))

    def check_csrf(self, session: Session, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(token.encode("ascii", "replace"),
                                                   self.csrf_token(session).encode("ascii"))
