"""`onewindow` command line: one small command per process (server, broker, demo, ...).

Each subcommand lives in its own module exposing `register(subparsers)`; it adds its parser and
sets `func` to a callable taking the parsed arguments and returning an exit code.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

from onewindow import __version__

# Modules that add subcommands, in the order `--help` lists them.
COMMAND_MODULES = [
    "demo.command",
    "queue_server.command",
    "broker.command",
    "cli.check_config",
    "hardware.printing.cli",
    "sim.cli",
    "queue_server.backup_command",
    "broker.credentials_command",
    "kiosk.command",
    "console.command",
    "clerk.command",
    "display.command",
    "city.command",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="onewindow",
        description="Single-window kiosk and queue system for medical-insurance service points.",
    )
    parser.add_argument("--version", action="version", version=f"onewindow {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug detail")
    parser.add_argument("--log-file", default=os.environ.get("ONEWINDOW_LOG_FILE"), metavar="FILE",
                        help="also log to FILE, rotated at 10 MB, 5 old files kept (env ONEWINDOW_LOG_FILE)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def setup_logging(verbose: bool = False, log_file: str | None = None) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    if log_file:
        from onewindow.logsafe import add_rotating_file
        add_rotating_file(log_file)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    setup_logging(args.verbose, args.log_file)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
