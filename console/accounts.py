"""Console accounts: a small SQLite users file with hashed passwords and PINs and one role each.

Passwords and PINs are stored only as scrypt hashes (`scrypt$n$r$p$salt$hash`, hex), never in clear.
Roles, from least to most: viewer (reads the manager pages), clerk (works at a window), manager
(controls the hall), admin (everything, and accounts).

    onewindow console add-user wang --role clerk --db console-users.db   # asks for the password
"""
from __future__ import annotations

import hashlib
import hmac
import os
import re
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

ROLES = ("viewer", "clerk", "manager", "admin")
USERNAME_RE = re.compile(r"^[A-Za-z0-9_.\-]{1,32}$")  # the same as a clerk id in the protocol
PIN_RE = re.compile(r"^\d{4,8}$")
MIN_PASSWORD = 8
SCRYPT = (2 ** 14, 8, 1)  # n, r, p: ~16 MiB and ~30 ms per check


class AccountError(ValueError):
    """A bad username, role, password or PIN (the message says which and why)."""


@dataclass(frozen=True)
class User:
    username: str
    role: str
    name: str

    def has_role(self, *roles: str) -> bool:
        return self.role in roles or self.role == "admin"


def hash_secret(secret: str, salt: bytes | None = None, params: tuple[int, int, int] = SCRYPT) -> str:
    salt = salt or os.urandom(16)
    n, r, p = params
    digest = hashlib.scrypt(secret.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=32, maxmem=64 * 1024 * 1024)
    return f"scrypt${n}${r}${p}${salt.hex()}${digest.hex()}"


def check_secret(secret: str, stored: str | None) -> bool:
    if not stored:
        return False
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        again = hash_secret(secret, bytes.fromhex(salt), (int(n), int(r), int(p)))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(again.rsplit("$", 1)[1], digest)


class Accounts:
    """The users file. Thread-safe; every method opens what it needs (the file is small)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(self.path), check_same_thread=False)
        with self._lock, self._db:
            self._db.execute("CREATE TABLE IF NOT EXISTS users (username TEXT PRIMARY KEY, role TEXT NOT NULL, "
                             "name TEXT NOT NULL DEFAULT '', password_hash TEXT, pin_hash TEXT, "
                             "created_at TEXT NOT NULL DEFAULT (datetime('now')))")
        try:
            os.chmod(self.path, 0o600)
        except OSError:
            pass
        # A failed sign-in with an unknown name costs as much as a wrong password.
        self._dummy = hash_secret("not a password")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def add(self, username: str, role: str, password: str | None = None, pin: str | None = None,
            name: str = "", replace: bool = False) -> User:
        if not USERNAME_RE.fullmatch(username or ""):
            raise AccountError("username: 1-32 characters of A-Z a-z 0-9 _ . -")
        if role not in ROLES:
            raise AccountError(f"role: one of {', '.join(ROLES)}")
        if password is None and pin is None:
            raise AccountError("give a password, a PIN or both")
        if password is not None and len(password) < MIN_PASSWORD:
            raise AccountError(f"password: at least {MIN_PASSWORD} characters")
        if pin is not None and not PIN_RE.fullmatch(pin):
            raise AccountError("PIN: 4 to 8 digits")
        row = (username, role, name, hash_secret(password) if password else None, hash_secret(pin) if pin else None)
        verb = "INSERT OR REPLACE" if replace else "INSERT"
        try:
            with self._lock, self._db:
                self._db.execute(f"{verb} INTO users (username, role, name, password_hash, pin_hash) "
                                 "VALUES (?, ?, ?, ?, ?)", row)
        except sqlite3.IntegrityError:
            raise AccountError(f"user {username} exists already (use --replace)") from None
        return User(username, role, name)

    def get(self, username: str) -> User | None:
        with self._lock:
            row = self._db.execute("SELECT username, role, name FROM users WHERE username = ?",
                                   (username,)).fetchone()
        return User(*row) if row else None

    def users(self) -> list[User]:
        with self._lock:
            rows = self._db.execute("SELECT username, role, name FROM users ORDER BY username").fetchall()
        return [User(*r) for r in rows]

    def verify(self, username: str, password: str | None = None, pin: str | None = None) -> User | None:
        """The user if the password (or the PIN) is right, else None."""
        with self._lock:
            row = self._db.execute("SELECT username, role, name, password_hash, pin_hash FROM users "
                                   "WHERE username = ?", (username,)).fetchone()
        secret, stored = (password, row[3] if row else None) if password else (pin, row[4] if row else None)
        if not secret:
            return None
        if row is None or stored is None:
            check_secret(secret, self._dummy)
            return None
        return User(row[0], row[1], row[2]) if check_secret(secret, stored) else None
