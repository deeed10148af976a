"""Dependencies handed to the routes: the service and the caller's principal."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from issuer.service import IssuerService, Principal

__all__ = ["PrincipalDep", "ServiceDep"]


async def get_service(request: Request) -> IssuerService:
    service: IssuerService = request.app.state.service
    return service


ServiceDep = Annotated[IssuerService, Depends(get_service)]


async def get_principal(
    service: ServiceDep,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
    x_api_key: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Principal:
    """The caller, from ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``.

    Runs on the event loop: the lookup is one read by primary key (a WAL snapshot on
    SQLite, which never waits for writers), cheaper than a hop to a worker thread."""
    key = x_api_key
    if authorization:
        scheme, _, value = authorization.partition(" ")
        key = value.strip() if scheme.lower() == "bearer" else None
    return service.authenticate(key)


PrincipalDep = Annotated[Principal, Depends(get_principal)]
