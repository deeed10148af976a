"""``/api/v1/tenant``, ``/api/v1/api-keys``, ``/api/v1/signing-keys``: the tenant's own
profile and keys."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from issuer.deps import PrincipalDep, ServiceDep
from issuer.models import ApiKeyCreate, ApiKeyCreated, ApiKeyPublic, SigningKeyPublic, TenantPublic
from issuer.responses import PROBLEMS

router = APIRouter(prefix="/api/v1", tags=["tenant"], responses=PROBLEMS)


@router.get("/tenant", response_model=TenantPublic)
def tenant(service: ServiceDep, principal: PrincipalDep) -> TenantPublic:
    """The caller's tenant profile."""
    return service.tenant_public(principal)


@router.post("/api-keys", status_code=201, response_model=ApiKeyCreated)
def create_api_key(
    body: ApiKeyCreate, service: ServiceDep, principal: PrincipalDep
) -> ApiKeyCreated:
    """A new API key (admin); the secret is in this response only."""
    return service.create_api_key(principal, body.role, body.label)


@router.get("/api-keys", response_model=list[ApiKeyPublic])
def list_api_keys(service: ServiceDep, principal: PrincipalDep) -> list[ApiKeyPublic]:
    return service.list_api_keys(principal)


@router.post("/api-keys/{key_id}/revoke", response_model=ApiKeyPublic)
def revoke_api_key(
    key_id: Annotated[str, Path(max_length=32)], service: ServiceDep, principal: PrincipalDep
) -> ApiKeyPublic:
    return service.revoke_api_key(principal, key_id)


@router.get("/signing-keys", response_model=list[SigningKeyPublic])
def signing_keys(service: ServiceDep, principal: PrincipalDep) -> list[SigningKeyPublic]:
    return service.signing_keys(principal)


@router.post("/signing-keys/rotate", status_code=201, response_model=SigningKeyPublic)
def rotate_signing_key(service: ServiceDep, principal: PrincipalDep) -> SigningKeyPublic:
    """A new active signing key (admin); the old one stays published for verification."""
    return service.rotate_signing_key(principal)
