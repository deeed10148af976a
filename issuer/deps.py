"""Dependencies handed to the routes: the service and the caller's principal."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from issuer.service import IssuerService, Principal

__all__ = ["PrincipalDep", "ServiceDep"]


async def get_service(request: Request) -> IssuerService:
    service: IssuerService = request.app.state.service
    return service


ServiceDep = Annotated[IssuerService, Depends(get_service)]


async def get_principal(request: Request) -> Principal:
    """The caller, from ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``.

    Runs on the event loop (cheaper than a hop to a worker thread): a key seen in the last
    :data:`issuer.service.PRINCIPAL_CACHE_SECONDS` is known in memory, else it is one read
    by primary key (a WAL snapshot on SQLite, which never waits for writers). The headers
    are read here rather than declared, which FastAPI would inspect on every request."""
    headers = request.headers
    key = headers.get("x-api-key")
    authorization = headers.get("authorization")
    if authorization:
        scheme, _, value = authorization.partition(" ")
        key = value.strip() if scheme.lower() == "bearer" else None
    service: IssuerService = request.app.state.service
    return service.authenticate(key)


PrincipalDep = Annotated[Principal, Depends(get_principal)]
