"""Worker processes that share one listening socket fairly (``serve --workers N``).

uvicorn's workers all accept from the socket their supervisor bound, and a worker that
wakes drains the whole accept queue at once. A burst of connections (a reverse proxy
opening its keep-alive pool, a load test, a clinic's scanners coming back online) can so
land on one worker while the other idles, and a kept-alive connection stays where it
landed: measured with 32 connections on 2 workers, splits of 26/6 and 32/0, with the
latency of the busy half doubled or worse.

Each worker publishes how many connections it holds in a shared table (:class:`WorkerTable`,
one slot per worker, claimed with a file lock that its process holds until it ends), and
a worker holding :data:`AHEAD` or more connections than the least loaded other one pauses
for a moment (at most :data:`PAUSES` x :data:`PAUSE`) before it accepts again, so that the
others take the next connections. A balanced worker never pauses, nor does a lone one.

This module imports uvicorn: only ``serve_factory`` loads it, in the serve commands.
"""

from __future__ import annotations

import asyncio
import fcntl
import mmap
import os
import struct
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

__all__ = ["AHEAD", "PAUSE", "PAUSES", "BalancedHttpToolsProtocol", "WorkerTable", "worker_table"]

#: Environment variable naming the table's folder (set by the supervisor for its workers).
TABLE_ENV = "PASSERELLE_WORKER_TABLE"
#: Connections a worker may hold above the least loaded other worker before it pauses.
AHEAD = 2
#: One pause (seconds): long enough for a woken worker on another core to accept.
PAUSE = 0.00015
#: Pauses at most before each accept: a worker never stalls its loop for longer (0.9 ms).
#: Two were not enough where the load generator shares a core with the lagging worker.
PAUSES = 6

_SLOT = struct.Struct("=q")


class WorkerTable:
    """Connection counts of a group of workers, in a memory-mapped file of one signed
    64-bit slot per worker. A slot belongs to the process holding its lock file. Every
    slot starts at 0: a worker still starting holds no connection, and the others leave
    it the next ones. A process that dies leaves its slot to the worker that replaces it."""

    COUNTS = "counts"

    def __init__(self, folder: Path, slot: int, size: int) -> None:
        self.slot = slot
        self.size = size
        with (folder / self.COUNTS).open("r+b") as file:
            self._map = mmap.mmap(file.fileno(), size * _SLOT.size)
        self._lock: int | None = None

    @classmethod
    def create(cls, folder: Path, size: int) -> None:
        """Lay out a table for ``size`` workers in ``folder`` (the supervisor's part)."""
        (folder / cls.COUNTS).write_bytes(_SLOT.pack(0) * size)

    @classmethod
    def claim(cls, folder: Path) -> WorkerTable | None:
        """The table with a free slot locked for this process, or None when every slot
        is held (more workers than slots: that worker simply takes no part)."""
        size = (folder / cls.COUNTS).stat().st_size // _SLOT.size
        for slot in range(size):
            fd = os.open(folder / f"slot-{slot}.lock", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            table = cls(folder, slot, size)
            table._lock = fd  # held, and so the slot, until the process ends
            table.publish(0)
            return table
        return None

    def publish(self, held: int) -> None:
        _SLOT.pack_into(self._map, self.slot * _SLOT.size, held)

    def least_of_others(self) -> int | None:
        """The fewest connections any other worker holds (None: no other worker)."""
        counts = [
            _SLOT.unpack_from(self._map, slot * _SLOT.size)[0]
            for slot in range(self.size)
            if slot != self.slot
        ]
        return min(counts) if counts else None

    def pause_while_ahead(self, held: int, *, sleep: Callable[[float], None] = time.sleep) -> int:
        """Pause (blocking: the accept loop is what must wait) while this worker holds
        :data:`AHEAD` or more connections than the least loaded other one; the number of
        pauses taken, at most :data:`PAUSES`."""
        for taken in range(PAUSES):
            least = self.least_of_others()
            if least is None or held - least < AHEAD:
                return taken
            sleep(PAUSE)
        return PAUSES

    def close(self) -> None:
        self._map.close()
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None


_table: WorkerTable | None = None
_claimed = False


def _worker_table() -> WorkerTable | None:
    """This worker's slot, claimed on its first connection (None outside a group)."""
    global _table, _claimed
    if not _claimed:
        _claimed = True
        folder = os.environ.get(TABLE_ENV)
        if folder:
            try:
                _table = WorkerTable.claim(Path(folder))
            except OSError:  # the table went away: serve unbalanced rather than fail
                _table = None
    return _table


class BalancedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, publishing its worker's connection count.

    uvloop makes the protocol of an accepted connection before it accepts the next one,
    so a pause here holds back this worker's next accept and nothing else.
    """

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        table = _worker_table()
        if table is not None:
            held = len(server_state.connections) + 1  # this one joins them on connection_made
            table.publish(held)
            table.pause_while_ahead(held)

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        table = _worker_table()
        if table is not None:
            table.publish(len(self.connections))


@contextmanager
def worker_table(workers: int) -> Iterator[None]:
    """A table for ``workers`` workers, named in the environment the workers inherit,
    removed on exit; nothing for a single worker."""
    if workers < 2:
        yield
        return
    with tempfile.TemporaryDirectory(prefix="passerelle-workers-") as name:
        WorkerTable.create(Path(name), workers)
        os.environ[TABLE_ENV] = name
        try:
            yield
        finally:
            os.environ.pop(TABLE_ENV, None)
