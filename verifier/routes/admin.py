"""``/api/v1/admin``: add or remove trust anchors, force a refresh (admin key required)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from passerelle import errors
from verifier.deps import AdminDep, TrustDep, VerificationDep
from verifier.models import AnchorIn, AnchorOut, Problem, TrustReportOut

_PROBLEMS = {
    status: {"model": Problem, "description": what}
    for status, what in (
        (401, "No or wrong admin key (unauthenticated)"),
        (403, "Admin API disabled (forbidden)"),
    )
}
router = APIRouter(prefix="/api/v1/admin", tags=["admin"], responses=_PROBLEMS)  # type: ignore[arg-type]


@router.post(
    "/anchors",
    status_code=201,
    summary="Trust one more anchor",
    responses={422: {"model": Problem, "description": "Not a usable public JWK"}},
)
async def add_anchor(body: AnchorIn, trust: TrustDep, _: AdminDep) -> AnchorOut:
    try:
        key = trust.add_anchor(body.jwk)
    except errors.KeyError_ as exc:
        raise errors.RequestInvalidError(f"jwk: {exc.detail}") from exc
    return AnchorOut(kid=key.kid, alg=key.alg, anchors=len(trust.anchors()))


@router.delete(
    "/anchors/{kid}",
    summary="Stop trusting an anchor",
    responses={404: {"model": Problem, "description": "No such anchor"}},
)
async def remove_anchor(
    kid: Annotated[str, Path(max_length=100)], trust: TrustDep, _: AdminDep
) -> AnchorOut:
    key = next((k for k in trust.anchors() if k.kid == kid), None)
    trust.remove_anchor(kid)
    assert key is not None  # remove_anchor raised NotFoundError otherwise
    return AnchorOut(kid=kid, alg=key.alg, anchors=len(trust.anchors()))


@router.post("/trust/refresh", summary="Fetch every trust list now")
async def refresh(trust: TrustDep, service: VerificationDep, _: AdminDep) -> TrustReportOut:
    await trust.refresh(force=True)
    return TrustReportOut.model_validate(service.trust_report())
