"""Public documents: Status List Tokens, JWT VC Issuer Metadata, JWKS, Type Metadata."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Response

from issuer.deps import ServiceDep
from issuer.responses import PUBLIC_PROBLEMS
from passerelle.statuslist import STATUS_LIST_MEDIA_TYPE

router = APIRouter(tags=["public"], responses=PUBLIC_PROBLEMS)

Slug = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[a-z0-9-]+$")]


@router.get(
    "/status/{slug}/{number}",
    response_class=Response,
    responses={
        200: {
            "description": "The Status List Token",
            "content": {STATUS_LIST_MEDIA_TYPE: {"schema": {"type": "string"}}},
        },
        304: {"description": "Not modified (If-None-Match)"},
    },
)
def status_list(
    slug: Slug,
    number: Annotated[int, Path(ge=1, le=2**31 - 1)],
    service: ServiceDep,
    if_none_match: Annotated[str | None, Header(max_length=200)] = None,
) -> Response:
    """A Status List Token (``application/statuslist+jwt``), cacheable for its ``ttl``."""
    token, etag = service.status_list_token(slug, number)
    headers = {
        "ETag": etag,
        "Cache-Control": f"public, max-age={service.settings.status_ttl}",
    }
    if if_none_match and etag in [t.strip() for t in if_none_match.split(",")]:
        return Response(status_code=304, headers=headers)
    return Response(token, media_type=STATUS_LIST_MEDIA_TYPE, headers=headers)


@router.get("/.well-known/jwt-vc-issuer/tenants/{slug}", response_model=dict[str, Any])
def issuer_metadata(slug: Slug, service: ServiceDep) -> dict[str, Any]:
    """JWT VC Issuer Metadata of the issuer ``https://host/tenants/<slug>`` (the
    well-known segment is inserted before the path, as the SD-JWT VC draft says)."""
    return service.issuer_metadata(slug)


@router.get("/tenants/{slug}/jwks.json", response_model=dict[str, Any])
def jwks(slug: Slug, service: ServiceDep) -> dict[str, Any]:
    """The tenant's public keys (active and retired)."""
    return service.jwks(slug)


@router.get("/types/{path:path}", response_model=dict[str, Any])
def type_document(
    path: Annotated[str, Path(max_length=300)], service: ServiceDep
) -> dict[str, Any]:
    """SD-JWT VC Type Metadata at the path of its ``vct`` (``/types/qualification/v1``),
    and the claims JSON Schema at the path of its ``$id``."""
    return service.type_document(f"types/{path}")


@router.get("/health", response_model=dict[str, str])
async def health() -> dict[str, str]:
    """Liveness (also the benchmark's framework baseline)."""
    return {"status": "ok"}
