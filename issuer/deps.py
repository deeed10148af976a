"""Dependencies handed to the routes: the service and the caller's principal."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from issuer.service import IssuerService, Principal

__all__ = ["PrincipalDep", "ServiceDep"]


def get_service(request: Request) -> IssuerService:
    service: IssuerService = request.app.state.service
    return service


ServiceDep = Annotated[IssuerService, Depends(get_service)]


def get_principal(
    service: ServiceDep,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
    x_api_key: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Principal:
    """The caller, from ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``."""
    key = x_api_key
    if authorization:
        scheme, _, value = authorization.partition(" ")
        key = value.strip() if scheme.lower() == "bearer" else None
    return service.authenticate(key)


PrincipalDep = Annotated[Principal, Depends(get_principal)]
