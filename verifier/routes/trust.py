"""``GET /api/v1/trust``: the anchors, the lists in use, their ages and last errors."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from verifier.deps import VerificationDep
from verifier.models import TrustReportOut

router = APIRouter(prefix="/api/v1", tags=["trust"])


@router.get("/trust", summary="Trust anchors, trust lists and status lists in use")
async def trust_report(service: VerificationDep) -> TrustReportOut:
    report: dict[str, Any] = service.trust_report()
    return TrustReportOut.model_validate(report)
