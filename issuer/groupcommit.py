"""Group commit: the writes that concurrent threads submit are committed together.

A tenant's issuances cannot run side by side: each takes the next credential numbers, the
next status indices and the next links of the tenant's audit chain, under the tenant's row
lock (or SQLite's write lock). One transaction per request would make 32 concurrent
registrars wait for 32 commits in a row. Instead, each thread queues its job and then
takes the *leader* lock; the leader takes every job queued so far and runs them as one
group (one transaction), then finishes each job with its result or its error. A thread
whose job a previous leader already ran finds it finished and returns at once. Under no
load a group is one job; under load the group grows to what arrived during the previous
commit, so the cost of the transaction is shared and the queue never stalls.

This is the leader/follower form of the technique databases use for their own log
("group commit"); no thread is started and nothing outlives a call.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

__all__ = ["AsyncGroupCommitter", "GroupCommitter", "Job"]

T = TypeVar("T")
R = TypeVar("R")


class Job(Generic[T, R]):
    """One submitted piece of work: ``item`` in, then a ``result`` or an ``error`` out."""

    __slots__ = ("error", "finished", "item", "result")

    def __init__(self, item: T) -> None:
        self.item = item
        self.result: R | None = None
        self.error: BaseException | None = None
        self.finished = False

    def succeed(self, result: R) -> None:
        self.result, self.finished = result, True

    def fail(self, error: BaseException) -> None:
        self.error, self.finished = error, True


class GroupCommitter(Generic[T, R]):
    """Runs submitted items in groups through ``run_group``.

    ``run_group(jobs)`` must either finish every job (``succeed`` or ``fail``) and return,
    or raise having committed nothing. When a group of several jobs raises, each of its
    jobs is run again alone, so that one bad job cannot fail the others; an exception
    raised by a job alone is that job's error.
    """

    def __init__(self, run_group: Callable[[Sequence[Job[T, R]]], None]) -> None:
        self._run_group = run_group
        self._queue: list[Job[T, R]] = []
        self._queue_lock = threading.Lock()
        self._leader = threading.Lock()

    def submit(self, item: T) -> R:
        """Run ``item`` (in a group with whatever else is queued) and return its result.

        Raises:
            Whatever ``run_group`` gave as this job's error.
        """
        job: Job[T, R] = Job(item)
        with self._queue_lock:
            self._queue.append(job)
        with self._leader:
            if not job.finished:
                with self._queue_lock:
                    group, self._queue = self._queue, []
                self.run(group)
        if job.error is not None:
            raise job.error
        assert job.finished
        return job.result  # type: ignore[return-value]

    def run(self, group: Sequence[Job[T, R]]) -> None:
        """Run ``group`` now, in this thread, and finish each of its jobs."""
        try:
            self._run_group(group)
        except Exception as exc:
            if len(group) == 1:
                group[0].fail(exc)
                return
            for job in group:
                job.finished = False
                self.run([job])
            return
        except BaseException as exc:  # an interrupt: the waiting threads learn of it too
            for job in group:
                if not job.finished:
                    job.fail(exc)
            raise
        for job in group:
            if not job.finished:
                job.fail(RuntimeError("the group commit left a job unfinished"))


class AsyncGroupCommitter(Generic[T, R]):
    """The same for coroutines on one event loop: jobs wait on the loop, not in threads.

    While a group runs in a worker thread, the jobs that arrive wait in a list; when it
    ends, they all go to the thread as the next group. A request costs no thread switch of
    its own (on a virtual machine, waking a thread is dear); a group costs two.
    """

    def __init__(self, committer: GroupCommitter[T, R]) -> None:
        self._committer = committer
        self._waiting: list[tuple[Job[T, R], asyncio.Future[None]]] = []
        self._drainer: asyncio.Task[None] | None = None  # held: the loop keeps tasks weakly

    async def submit(self, item: T) -> R:
        """Run ``item`` in the next group and return its result (or raise its error)."""
        loop = asyncio.get_running_loop()
        job: Job[T, R] = Job(item)
        done: asyncio.Future[None] = loop.create_future()
        self._waiting.append((job, done))
        if self._drainer is None:
            self._drainer = loop.create_task(self._drain())
        await asyncio.shield(done)  # a client gone away must not cancel the others' group
        if job.error is not None:
            raise job.error
        return job.result  # type: ignore[return-value]

    async def _drain(self) -> None:
        try:
            while self._waiting:
                group, self._waiting = self._waiting, []
                try:
                    await asyncio.to_thread(self._committer.run, [job for job, _ in group])
                finally:
                    for job, done in group:
                        if not job.finished:
                            job.fail(RuntimeError("the group commit was interrupted"))
                        if not done.done():
                            done.set_result(None)
        finally:
            self._drainer = None
