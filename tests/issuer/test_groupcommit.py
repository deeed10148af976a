"""Group commit: concurrent submissions share a run, a bad job fails alone, and the
service's single issuances keep their numbers, indices, audit chain and idempotency when
they are committed together."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlmodel import Session, select

from issuer.groupcommit import AsyncGroupCommitter, GroupCommitter, Job
from issuer.models import Credential
from issuer.service import IssuerService
from passerelle.errors import IdempotencyConflictError

from .helpers import QUALIFICATION, claims


class Recorder:
    """A ``run_group`` that doubles numbers, fails on negative ones (the whole group, as a
    database error would) and can hold its first run until released."""

    def __init__(self, hold_first: bool = False) -> None:
        self.groups: list[list[int]] = []
        self.entered = threading.Event()
        self.release = threading.Event()
        if not hold_first:
            self.release.set()

    def __call__(self, jobs: Sequence[Job[int, int]]) -> None:
        self.groups.append([job.item for job in jobs])
        self.entered.set()
        self.release.wait(10)
        if any(job.item < 0 for job in jobs):
            raise ValueError("negative")
        for job in jobs:
            job.succeed(job.item * 2)


def test_jobs_queued_during_a_run_go_together_in_the_next() -> None:
    recorder = Recorder(hold_first=True)
    committer = GroupCommitter(recorder)
    with ThreadPoolExecutor(6) as pool:
        first = pool.submit(committer.submit, 0)
        assert recorder.entered.wait(10)
        rest = [pool.submit(committer.submit, n) for n in range(1, 6)]
        while len(committer._queue) < 5:  # every follower has queued its job
            threading.Event().wait(0.01)
        recorder.release.set()
        assert first.result(10) == 0
        assert [f.result(10) for f in rest] == [2, 4, 6, 8, 10]
    assert recorder.groups[0] == [0]
    assert sorted(recorder.groups[1]) == [1, 2, 3, 4, 5]  # one run for the five
    assert len(recorder.groups) == 2


def test_a_failing_job_fails_alone() -> None:
    recorder = Recorder(hold_first=True)
    committer = GroupCommitter(recorder)
    with ThreadPoolExecutor(4) as pool:
        first = pool.submit(committer.submit, 1)
        assert recorder.entered.wait(10)
        others = {n: pool.submit(committer.submit, n) for n in (2, -3, 4)}
        while len(committer._queue) < 3:
            threading.Event().wait(0.01)
        recorder.release.set()
        assert first.result(10) == 2
        assert others[2].result(10) == 4 and others[4].result(10) == 8
        with pytest.raises(ValueError, match="negative"):
            others[-3].result(10)
    # the group of three failed, then each ran alone
    assert sorted(recorder.groups[1]) == [-3, 2, 4]
    assert sorted(map(tuple, recorder.groups[2:])) == [(-3,), (2,), (4,)]


def test_the_event_loop_side_groups_waiting_coroutines() -> None:
    recorder = Recorder()
    committer = AsyncGroupCommitter(GroupCommitter(recorder))

    async def main() -> list[int]:
        return list(await asyncio.gather(*(committer.submit(n) for n in range(20))))

    assert asyncio.run(main()) == [n * 2 for n in range(20)]
    assert sum(len(g) for g in recorder.groups) == 20
    assert len(recorder.groups) < 20  # all but the first waited together


def test_the_event_loop_side_reports_each_jobs_error() -> None:
    committer = AsyncGroupCommitter(GroupCommitter(Recorder()))

    async def main() -> list[int | BaseException]:
        calls = (committer.submit(n) for n in (1, -1, 2))
        return list(await asyncio.gather(*calls, return_exceptions=True))

    one, bad, two = asyncio.run(main())
    assert (one, two) == (2, 4)
    assert isinstance(bad, ValueError)


def test_single_issuances_committed_together_stay_consistent(service: IssuerService, tenant):
    async def main() -> list[object]:
        calls = []
        for n in range(24):
            key = f"key-{n % 20}"  # four retries of an earlier request, in the same groups
            calls.append(
                service.issue_async(
                    tenant.principal,
                    type_name=QUALIFICATION,
                    claims=claims(given_name=f"Person {n % 20}"),
                    holder_jwk=None,
                    valid_days=None,
                    idempotency_key=key,
                )
            )
        conflict = service.issue_async(
            tenant.principal,
            type_name=QUALIFICATION,
            claims=claims(given_name="Somebody else"),
            holder_jwk=None,
            valid_days=None,
            idempotency_key="key-3",
        )
        return list(await asyncio.gather(*calls, conflict, return_exceptions=True))

    *issued, conflict = asyncio.run(main())
    assert isinstance(conflict, IdempotencyConflictError)
    ids = [c.record.id for c in issued]  # type: ignore[union-attr]
    assert ids[20:] == ids[:4]  # a retry answers what the first request got
    with Session(service.engine) as session:
        rows = session.exec(
            select(Credential).where(Credential.tenant_id == tenant.principal.tenant_id)
        ).all()
    assert len(rows) == 20
    assert sorted(r.number for r in rows) == list(range(1, 21))
    assert len({(r.status_list_id, r.status_idx) for r in rows}) == 20
    assert service.verify_audit(tenant.principal).valid
