"""Who holds a lease, and whether that holder is known to be dead.

A lease owner is ``host:pid-namespace:pid:random``. A worker that finds leases held by a process of
its own host and PID namespace that no longer exists (killed, crashed, reaped or a zombie) gives
them back at once instead of waiting for them to run out: a dead process sends nothing, so this
never puts a delivery in flight twice. Any other holder is left to its lease.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection

if TYPE_CHECKING:
    from ktwidget.services.context import Gateway

log = logging.getLogger("ktwidget.worker")


def _pid_namespace() -> str:
    try:
        link = os.readlink("/proc/self/ns/pid")  # "pid:[4026531836]"
    except OSError:
        return "0"
    return "".join(ch for ch in link if ch.isdigit()) or "0"


def local_prefix() -> str:
    """``host:namespace:`` shared by every owner id made on this machine and PID namespace."""
    host = socket.gethostname().replace(":", "_")[:24] or "localhost"
    return f"{host}:{_pid_namespace()}:"


def owner_id() -> str:
    return f"{local_prefix()}{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _alive(pid: int) -> bool:
    if pid <= 0:
        return True  # not ours to judge
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return True
    return fields[0] != "Z"  # a zombie sends nothing


def is_dead_local(owner: str, prefix: str | None = None) -> bool:
    """True only when ``owner`` was made on this machine and its process is gone."""
    prefix = local_prefix() if prefix is None else prefix
    if not owner.startswith(prefix):
        return False
    pid_text = owner[len(prefix) :].split(":", 1)[0]
    if not pid_text.isdigit():
        return False
    return int(pid_text) != os.getpid() and not _alive(int(pid_text))


def release_dead_leases(
    gateway: Gateway,
    own: str,
    held_by: Callable[[Connection, str, datetime], list[str]],
    give_back: Callable[[Connection, str], int],
    event: str,
) -> int:
    """Give back leases held by dead worker processes of this machine; how many."""
    released = 0
    prefix = local_prefix()
    with gateway.db.write() as conn:
        for owner in held_by(conn, prefix, gateway.clock.now()):
            if owner != own and is_dead_local(owner, prefix):
                count = give_back(conn, owner)
                released += count
                log.info(event, extra={"dead_owner": owner, "count": count})
    return released
