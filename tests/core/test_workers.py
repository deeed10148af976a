"""``serve --workers N``: the workers' connection table and the fair share of connections."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from passerelle.cli._workers import AHEAD, PAUSES, TABLE_ENV, WorkerTable, worker_table
from tests.e2e.system import free_port, wait_until_up


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    WorkerTable.create(tmp_path, 3)
    return tmp_path


def claimed(folder: Path) -> WorkerTable:
    table = WorkerTable.claim(folder)
    assert table is not None
    return table


def test_each_worker_claims_its_own_slot(folder: Path) -> None:
    tables = [claimed(folder) for _ in range(3)]
    assert [t.slot for t in tables] == [0, 1, 2]
    assert WorkerTable.claim(folder) is None  # more workers than slots: that one stays out
    tables[1].close()  # a worker that ends frees its slot for its replacement
    assert claimed(folder).slot == 1


def test_least_of_others_counts_workers_still_starting(folder: Path) -> None:
    first, second = claimed(folder), claimed(folder)
    first.publish(5)
    second.publish(3)
    assert first.least_of_others() == 0  # the third worker is not up yet: it holds none
    third = claimed(folder)
    third.publish(4)
    assert (first.least_of_others(), second.least_of_others()) == (3, 4)


def test_a_lone_worker_has_nobody_to_compare_with(tmp_path: Path) -> None:
    WorkerTable.create(tmp_path, 1)
    assert claimed(tmp_path).least_of_others() is None


def test_a_worker_pauses_only_while_ahead(folder: Path) -> None:
    mine, other, third = claimed(folder), claimed(folder), claimed(folder)
    pauses: list[float] = []
    other.publish(4)
    third.publish(9)
    assert mine.pause_while_ahead(4 + AHEAD - 1, sleep=pauses.append) == 0
    assert mine.pause_while_ahead(4 + AHEAD, sleep=pauses.append) == PAUSES
    assert len(pauses) == PAUSES and all(0 < p < 0.01 for p in pauses)

    def other_catches_up(seconds: float) -> None:
        other.publish(10)

    assert mine.pause_while_ahead(4 + AHEAD, sleep=other_catches_up) == 1


def test_worker_table_names_its_folder_while_serving() -> None:
    with worker_table(1):
        assert TABLE_ENV not in os.environ  # one worker: nothing to share
    with worker_table(2):
        folder = Path(os.environ[TABLE_ENV])
        assert (folder / WorkerTable.COUNTS).stat().st_size == 2 * 8
    assert TABLE_ENV not in os.environ and not folder.exists()


def _sockets(pid: int) -> int:
    count = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            count += os.readlink(fd).startswith("socket:")
        except OSError:
            continue
    return count


def _workers(supervisor: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        parent = int(stat.rpartition(")")[2].split()[1])
        if parent == supervisor and b"resource_tracker" not in cmdline:
            found.append(int(entry.name))
    return found


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[tuple[int, list[int]]]:
    port = free_port()
    passerelle = str(Path(sys.executable).with_name("passerelle"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("VERIFIER_")}
    with (tmp_path / "serve.log").open("wb") as log:
        process = subprocess.Popen(
            [passerelle, "verifier", "serve", "--port", str(port), "--workers", "2",
             "--log-level", "warning"],
            stdout=log, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
        try:
            wait_until_up(f"http://127.0.0.1:{port}/healthz", process)
            deadline = time.monotonic() + 30
            while len(workers := _workers(process.pid)) < 2 and time.monotonic() < deadline:
                time.sleep(0.1)  # the second worker may still be starting
            assert len(workers) == 2, (tmp_path / "serve.log").read_text()
            yield port, workers
        finally:
            process.terminate()
            process.wait(timeout=20)


def _burst(port: int, workers: list[int], size: int = 32) -> list[int]:
    """Open ``size`` connections at once, one request on each: how many each worker held."""
    before = {pid: _sockets(pid) for pid in workers}
    connections = [socket.create_connection(("127.0.0.1", port)) for _ in range(size)]
    try:
        for connection in connections:
            connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
        for connection in connections:
            assert connection.recv(4096).startswith(b"HTTP/1.1 200")
        return [_sockets(pid) - before[pid] for pid in workers]
    finally:
        for connection in connections:
            connection.close()


@pytest.mark.skipif(not Path("/proc/self/fd").exists(), reason="counts sockets in /proc")
def test_a_burst_of_connections_is_shared_between_workers(
    two_workers: tuple[int, list[int]],
) -> None:
    """32 connections opened at once (what a load balancer's pool or wrk does): each
    worker takes its share, where both used to drain the queue greedily (26/6, 32/0)."""
    port, workers = two_workers
    deadline = time.monotonic() + 30
    while 0 in _burst(port, workers) and time.monotonic() < deadline:
        time.sleep(0.2)  # a worker still loading the app takes nothing yet
    for _ in range(3):
        time.sleep(0.2)  # the closed connections are counted out
        held = _burst(port, workers)
        assert sum(held) == 32
        assert min(held) >= 12, held  # a fair share is 16 each
