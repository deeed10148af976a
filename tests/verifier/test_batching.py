"""The verification service runs the cores of the requests of one event-loop turn back to
back: each request still gets its own result, error or cancellation."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from passerelle import errors
from tests.factories import credential
from tests.verifier.conftest import Clock, Server, make_app
from verifier.service import VerificationService
from verifier.settings import VerifierSettings

Scenario = Callable[[VerificationService, list[list[str]]], Awaitable[None]]


def run(settings: VerifierSettings, server: Server, clock: Clock, scenario: Scenario) -> None:
    """Run ``scenario`` with the app's service, every core run recorded by batch."""

    async def main() -> None:
        app = make_app(settings, server, clock)
        async with app.router.lifespan_context(app):
            service: VerificationService = app.state.verification
            batches: list[list[str]] = []
            run_batch, run_one = service._run_batch, service._run

            def recorded_batch() -> None:
                batches.append([])
                run_batch()

            def recorded_run(token: str, *args: Any) -> Any:
                batches[-1].append(token)
                return run_one(token, *args)

            service._run_batch = recorded_batch  # type: ignore[method-assign]
            service._run = recorded_run  # type: ignore[method-assign]
            await scenario(service, batches)

    asyncio.run(main())


def test_requests_of_one_turn_are_verified_together_each_with_its_own_result(
    settings: VerifierSettings, server: Server, clock: Clock
) -> None:
    good, revoked, suspended = (credential(status_idx=i) for i in (3, 7, 8))
    jws, rest = good.split("~", 1)
    header, payload, signature = jws.split(".")
    forged = f"{header}.{payload}.{'B' if signature[0] == 'A' else 'A'}{signature[1:]}~{rest}"

    async def scenario(service: VerificationService, batches: list[list[str]]) -> None:
        await service.verify(good)  # fetches the status list: verified twice, once batched
        batches.clear()
        tokens = [good, revoked, forged, suspended]
        results = await asyncio.gather(*(service.verify(t) for t in tokens))
        assert batches == [tokens]  # one batch, in arrival order
        assert [r.status for r in results] == ["valid", "revoked", "unknown", "suspended"]
        assert [r.valid for r in results] == [True, False, False, False]
        assert results[2].check("signature").ok is False
        alone = await service.verify(revoked)
        assert batches[-1] == [revoked] and alone.status == "revoked"

    run(settings, server, clock, scenario)


@pytest.mark.parametrize(
    "error", [errors.RequestInvalidError("refused for the test"), RuntimeError("a bug")]
)
def test_an_error_reaches_only_its_own_caller(
    settings: VerifierSettings, server: Server, clock: Clock, error: Exception
) -> None:
    good = credential(status_idx=3)

    async def scenario(service: VerificationService, batches: list[list[str]]) -> None:
        await service.verify(good)
        recorded = service._run

        def refusing(token: str, *args: Any) -> Any:
            if token == "refused":
                recorded(token, *args)
                raise error
            return recorded(token, *args)

        service._run = refusing  # type: ignore[method-assign]
        batches.clear()
        outcomes = await asyncio.gather(
            service.verify(good), service.verify("refused"), service.verify(good),
            return_exceptions=True,
        )  # fmt: skip
        assert batches == [[good, "refused", good]]
        assert outcomes[1] is error
        assert [getattr(o, "valid", None) for o in (outcomes[0], outcomes[2])] == [True, True]

    run(settings, server, clock, scenario)


def test_a_cancelled_request_is_not_verified(
    settings: VerifierSettings, server: Server, clock: Clock
) -> None:
    good, other = credential(status_idx=3), credential(status_idx=4)

    async def scenario(service: VerificationService, batches: list[list[str]]) -> None:
        await service.verify(good)
        batches.clear()
        gone = asyncio.ensure_future(service.verify(other))
        kept = asyncio.ensure_future(service.verify(good))
        await asyncio.sleep(0)  # both are queued for the turn's batch
        gone.cancel()
        assert (await kept).valid
        with pytest.raises(asyncio.CancelledError):
            await gone
        assert batches == [[good]]

    run(settings, server, clock, scenario)
