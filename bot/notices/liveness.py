"""Who holds a claim: worker ids that name their process and host, so a claim left by a dead
process on this host can be taken back at once; and the one-dispatcher-per-file lock of
SQLite."""

from __future__ import annotations

import fcntl
import itertools
import os
import socket
from pathlib import Path

LIVE_WORKERS: set[str] = set()  # worker ids of the dispatchers running in this process
_instances = itertools.count(1)


def host_tag() -> str | None:
    """Names this kernel boot and PID namespace: processes with the same tag can see each
    other's PIDs, so a claim left by a dead one can be taken back without waiting."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip().replace("-", "")
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        return None
    return f"{boot[:10]}.{namespace.strip('pid:[]')}"


def new_worker_id(tag: str | None) -> str:
    local = f"{os.getpid()}.{next(_instances)}"
    return (f"{local}@{tag}:" if tag else f"{local}:") + socket.gethostname()


def worker_alive(worker_id: str, tag: str) -> bool:
    """False only when worker_id is certainly gone: a process of this host and namespace
    that no longer exists, or an earlier dispatcher of this very process."""
    head, _, rest = worker_id.partition("@")
    if not rest.startswith(f"{tag}:"):
        return True  # another host or namespace: its lease decides
    if worker_id in LIVE_WORKERS:
        return True
    try:
        pid = int(head.split(".")[0])
    except ValueError:
        return True
    if pid == os.getpid():
        return False  # this process, but no dispatcher of it holds that id: a previous life
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


class SqliteLock:
    """One dispatcher per SQLite database: an advisory lock on a file beside it, released by
    the kernel when the holder dies."""

    def __init__(self, database: str) -> None:
        self.path = f"{database}.dispatcher-lock"
        self._fd: int | None = None

    def acquire(self) -> bool:
        if self._fd is not None:
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
