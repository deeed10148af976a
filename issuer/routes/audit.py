"""``/api/v1/audit``: the tenant's hash-chained audit log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from issuer.deps import PrincipalDep, ServiceDep
from issuer.models import AuditPage, AuditVerification
from issuer.responses import PROBLEMS

router = APIRouter(prefix="/api/v1/audit", tags=["audit"], responses=PROBLEMS)


@router.get("", response_model=AuditPage)
def audit(
    service: ServiceDep,
    principal: PrincipalDep,
    after: Annotated[int, Query(ge=0, le=2**53, description="Events after this seq.")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> AuditPage:
    return service.audit_page(principal, after=after, limit=limit)


@router.get("/verify", response_model=AuditVerification)
def verify(service: ServiceDep, principal: PrincipalDep) -> AuditVerification:
    """Recompute the chain: ``valid`` false names the first event that does not fit."""
    return service.verify_audit(principal)
