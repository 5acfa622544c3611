"""The pseudo-terminal every serial fake stands behind: a raw pty whose device a driver opens by a path.

    master, slave = open_raw()       # the fake reads and writes `master`; the driver opens the slave's device
    link(path, slave)                # `path` -> the slave's /dev/pts/N, replaced atomically (a replug)
    close_quietly(master, slave)     # unplugged: the driver's next read or write fails
"""
from __future__ import annotations

import os
import tty
from pathlib import Path


def open_raw() -> tuple[int, int]:
    """A new pty, raw (no echo, no line editing, every byte as it is) on both ends."""
    master, slave = os.openpty()
    tty.setraw(slave)
    tty.setraw(master)
    return master, slave


def link(path: str | Path, slave: int) -> None:
    """Point `path` at the pty's device; a driver polling the path never sees it missing mid-replug."""
    path = Path(path)
    tmp = path.with_name(path.name + ".new")
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(os.ttyname(slave))
    os.replace(tmp, path)


def close_quietly(*fds: int | None) -> None:
    for fd in fds:
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass
