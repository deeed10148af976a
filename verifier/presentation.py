"""Presentation requests: what the verifier asks a wallet for, and its single-use answer.

The request follows OpenID4VP 1.0 (``response_type=vp_token``, ``response_mode=
direct_post``, a DCQL query, a fresh ``nonce``), with two simplifications documented in the
README: the request object behind ``request_uri`` is plain JSON (not a signed JWT), and the
``client_id`` is the verifier's configured audience.

A request lives ``request_lifetime`` seconds (5 minutes by default) and is answered once:
the first response moves it to ``answered`` before it is verified, so that a replayed or a
concurrent second response is refused (``reason: presentation_replayed``).

:class:`InMemoryRequestStore` keeps requests in the memory of one process: with several
worker processes, a wallet's answer must reach the process that created the request (run
one worker, or route by request id, or implement :class:`RequestStore` over a shared
database or Redis).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from passerelle import errors

__all__ = ["InMemoryRequestStore", "PresentationRequest", "RequestStore", "dcql_query"]

State = Literal["pending", "answered", "expired"]
QUERY_ID = "q"
SD_JWT_FORMAT = "dc+sd-jwt"


def dcql_query(vct_values: list[str], claims: list[list[Any]]) -> dict[str, Any]:
    """The DCQL query (OpenID4VP 1.0 section 6) for one SD-JWT VC."""
    credential: dict[str, Any] = {"id": QUERY_ID, "format": SD_JWT_FORMAT}
    credential["meta"] = {"vct_values": list(vct_values)}
    if claims:
        credential["claims"] = [{"path": list(path)} for path in claims]
    return {"credentials": [credential]}


@dataclass(slots=True)
class PresentationRequest:
    id: str
    nonce: str
    client_id: str
    dcql_query: dict[str, Any]
    created_at: datetime
    expires_at: datetime
    answered_at: datetime | None = None
    result: dict[str, Any] | None = None
    missing_claims: list[list[Any]] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def state(self, now: datetime) -> State:
        if self.answered_at is not None:
            return "answered"
        return "expired" if now >= self.expires_at else "pending"


class RequestStore(Protocol):
    """Where requests live between their creation and their answer."""

    def create(
        self, *, client_id: str, dcql: dict[str, Any], now: datetime, lifetime: timedelta
    ) -> PresentationRequest: ...

    def get(self, request_id: str, now: datetime) -> PresentationRequest:
        """Raises NotFoundError: unknown, or expired long ago and forgotten."""
        ...

    def claim(self, request_id: str, now: datetime) -> PresentationRequest:
        """Mark the request answered (atomically) and return it.

        Raises:
            NotFoundError: unknown request. ConflictError: expired, or already answered.
        """
        ...


class InMemoryRequestStore:
    """One process's requests (see the module docstring); expired ones are purged."""

    def __init__(self, *, max_pending: int = 10_000) -> None:
        self.max_pending = max_pending
        self._requests: dict[str, PresentationRequest] = {}

    def _purge(self, now: datetime) -> None:
        # answered and expired requests stay readable for one more lifetime, then go
        forget = [
            key
            for key, req in self._requests.items()
            if now >= req.expires_at + (req.expires_at - req.created_at)
        ]
        for key in forget:
            del self._requests[key]

    def create(
        self, *, client_id: str, dcql: dict[str, Any], now: datetime, lifetime: timedelta
    ) -> PresentationRequest:
        self._purge(now)
        if len(self._requests) >= self.max_pending:
            raise errors.ConflictError(
                "too many open presentation requests; retry later", reason="too_many_requests"
            )
        request = PresentationRequest(
            id=secrets.token_urlsafe(16),
            nonce=secrets.token_urlsafe(32),
            client_id=client_id,
            dcql_query=dcql,
            created_at=now,
            expires_at=now + lifetime,
        )
        self._requests[request.id] = request
        return request

    def get(self, request_id: str, now: datetime) -> PresentationRequest:
        found = self._requests.get(request_id)
        if found is None:
            raise errors.NotFoundError("no such presentation request")
        return found

    def claim(self, request_id: str, now: datetime) -> PresentationRequest:
        request = self.get(request_id, now)
        state = request.state(now)
        if state == "answered":
            raise errors.PresentationReplayedError(
                "this presentation request has already been answered"
            )
        if state == "expired":
            raise errors.RequestExpiredError("this presentation request has expired")
        request.answered_at = now  # no await between the check and this line: atomic
        return request
