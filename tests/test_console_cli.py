"""`onewindow console add-user` makes accounts with hashed secrets; the console refuses to start without any."""
from __future__ import annotations

import os
import subprocess
import sys

from console.accounts import Accounts

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def onewindow(*args, env=None, stdin=""):
    return subprocess.run([sys.executable, "-m", "cli", *args], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, **(env or {})}, input=stdin, timeout=60)


def test_add_user_stores_a_hash_and_refuses_a_short_password(tmp_path):
    users = tmp_path / "users.db"
    out = onewindow("console", "add-user", "wang", "--role", "clerk", "--pin", "--users", str(users),
                    env={"ONEWINDOW_NEW_PASSWORD": "long enough pass", "ONEWINDOW_NEW_PIN": "2580"})
    assert out.returncode == 0, out.stderr
    accounts = Accounts(users)
    assert accounts.verify("wang", password="long enough pass").role == "clerk"
    assert accounts.verify("wang", pin="2580") is not None
    accounts.close()
    assert b"long enough pass" not in users.read_bytes()
    out = onewindow("console", "add-user", "li", "--users", str(users), env={"ONEWINDOW_NEW_PASSWORD": "short"})
    assert out.returncode == 2 and "at least 8" in out.stderr


def test_the_console_will_not_start_without_a_users_file(tmp_path):
    out = onewindow("console", "--users", str(tmp_path / "none.db"), "--port", "1")
    assert out.returncode == 2 and "add-user" in out.stderr
