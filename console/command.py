"""`onewindow console`: the web console for clerks and managers; `onewindow console add-user`."""
from __future__ import annotations

import argparse
import getpass
import os
import socket
import sys

from onewindow.broker import add_broker_arguments, settings_from_args

DEFAULT_USERS = "var/console-users.db"


def register(sub) -> None:
    p = sub.add_parser("console", help="the web console for clerks and managers",
                       description="Serve the web console (clerk page, manager pages). Accounts live in a "
                                   "users file; create them with `onewindow console add-user`.")
    add_broker_arguments(p)
    p.add_argument("--site", default="demo-county", help="site id (default: demo-county)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080, help="port (default: 8080)")
    p.add_argument("--users", default=DEFAULT_USERS, help=f"users file (default: {DEFAULT_USERS})")
    p.add_argument("--secret-file", default="var/console-secret",
                   help="session signing key, made on first use (default: var/console-secret)")
    p.add_argument("--client-id", default=f"console-{socket.gethostname()}"[:64],
                   help="MQTT client id (default: console-<host name>)")
    p.add_argument("--session-hours", type=float, default=12.0, help="sign-in lifetime (default: 12)")
    p.add_argument("--secure-cookies", action="store_true", help="send the session cookie over HTTPS only")
    p.add_argument("--db", default=None, help="the queue server's SQLite event log, read for the manager's "
                                              "reports (default: var/<site id>.db)")
    p.add_argument("--alerts-db", default="var/console-alerts.db",
                   help="the console's own SQLite for alerts and their acknowledgements (default: var/console-alerts.db)")
    p.add_argument("--alert-wait-minutes", type=float, default=30.0,
                   help="alert when a ticket has waited longer than this (default: 30)")
    p.add_argument("--alert-max-waiting", type=int, default=15,
                   help="alert when more than this many wait for one business type (default: 15)")
    p.set_defaults(func=run)
    sub2 = p.add_subparsers(dest="console_command", metavar="add-user")
    a = sub2.add_parser("add-user", help="create (or with --replace, reset) a console account")
    a.add_argument("username")
    a.add_argument("--role", choices=("viewer", "clerk", "manager", "admin"), default="clerk")
    a.add_argument("--name", default="", help="the person's display name")
    a.add_argument("--users", dest="users_file", default=None, help=f"users file (default: {DEFAULT_USERS})")
    a.add_argument("--pin", action="store_true", help="also set a PIN (asked for)")
    a.add_argument("--no-password", action="store_true", help="PIN only")
    a.add_argument("--replace", action="store_true", help="replace an existing account")
    a.set_defaults(func=add_user)


def _secret(prompt: str) -> str:
    env = os.environ.get("ONEWINDOW_NEW_" + prompt.split()[0].upper())  # for scripts: ONEWINDOW_NEW_PASSWORD/PIN
    if env is not None:
        return env
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass(f"{prompt}: ")
    if getpass.getpass(f"{prompt} again: ") != first:
        raise SystemExit("the two entries differ")
    return first


def add_user(args: argparse.Namespace) -> int:
    from console.accounts import AccountError, Accounts
    path = args.users_file or args.users
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    password = None if args.no_password else _secret("password")
    pin = _secret("PIN") if args.pin or args.no_password else None
    accounts = Accounts(path)
    try:
        user = accounts.add(args.username, args.role, password=password, pin=pin, name=args.name,
                            replace=args.replace)
    except AccountError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        accounts.close()
    print(f"account {user.username} ({user.role}) saved in {path}")
    return 0


def run(args: argparse.Namespace) -> int:
    from console.runner import ConsoleRunner, load_secret
    if not os.path.exists(args.users):
        print(f"no users file at {args.users}: create an account first with "
              f"`onewindow console add-user NAME --role admin --users {args.users}`", file=sys.stderr)
        return 2
    from console.alerts import AlertPolicy
    manager = {"log_db": args.db or f"var/{args.site}.db", "alerts_db": args.alerts_db,
               "policy": AlertPolicy(wait_minutes=args.alert_wait_minutes, max_waiting=args.alert_max_waiting)}
    runner = ConsoleRunner(settings_from_args(args), args.site, args.users, host=args.host, port=args.port,
                           client_id=args.client_id, secret=load_secret(args.secret_file),
                           session_ttl=args.session_hours * 3600, secure_cookies=args.secure_cookies,
                           manager=manager)
    print(f"console: http://{args.host}:{args.port}/ (site {args.site})", flush=True)
    runner.serve()
    return 0
