"""OpenID4VCI: the centre's credential offers (``/api/v1/offers``) and, per tenant, the
wallet-facing documents and endpoints (metadata, token, nonce, credential).

The token, nonce and credential endpoints answer errors in the OAuth format (RFC 6749
section 5.2: ``{"error", "error_description"}``, ``application/json``, ``Cache-Control:
no-store``), as OpenID4VCI 1.0 requires, instead of the service's problem+json: their
routes are :class:`OAuthRoute`. An unknown tenant is still a problem+json 404, and a
server-side failure a problem+json 503.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Header, Path, Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from issuer.deps import PrincipalDep, ServiceDep
from issuer.oid4vci import (
    PRE_AUTHORIZED_GRANT,
    CredentialResponse,
    NonceResponse,
    OAuthErrorBody,
    OfferCreate,
    OfferCreated,
    OfferPublic,
    Oid4vciService,
    TokenResponse,
    passphrase_of,
)
from issuer.responses import PROBLEMS, PUBLIC_PROBLEMS
from passerelle import errors
from passerelle.encoding import json_loads

__all__ = ["OAuthRoute", "Oid4vciDep", "oauth_error_response", "router"]

#: Largest token or credential request body read (a proof JWT is about 1 KB).
MAX_OAUTH_BODY = 64 * 1024
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"
#: RFC 6749 section 5.2: error_description is %x20-21 / %x23-5B / %x5D-7E.
_DESCRIPTION_CHARS = frozenset(chr(c) for c in range(0x20, 0x7F)) - {'"', "\\"}

Slug = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[a-z0-9-]+$")]
OfferId = Annotated[str, Path(min_length=1, max_length=32)]


def get_oid4vci(request: Request, service: ServiceDep) -> Oid4vciService:
    """The OpenID4VCI service over the app's issuer service (made on first use, since the
    issuer service itself is made in the lifespan)."""
    current = getattr(request.app.state, "oid4vci", None)
    if not isinstance(current, Oid4vciService) or current.issuer is not service:
        current = Oid4vciService(service, passphrase=passphrase_of(service.settings))
        request.app.state.oid4vci = current
    return current


Oid4vciDep = Annotated[Oid4vciService, Depends(get_oid4vci)]


# -- OAuth error rendering ---------------------------------------------------------------------
def _ascii(text: str, limit: int = 500) -> str:
    cleaned = "".join(c if c in _DESCRIPTION_CHARS else "?" for c in text.replace('"', "'"))
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 3] + "..."


def oauth_error_response(error: errors.OAuthError) -> JSONResponse:
    """RFC 6749 section 5.2 error body; ``invalid_token`` also gets its RFC 6750
    ``WWW-Authenticate`` challenge."""
    description = _ascii(error.detail)
    headers = dict(NO_STORE)
    if isinstance(error, errors.InvalidAccessTokenError):
        headers["WWW-Authenticate"] = (
            f'Bearer error="{error.code}", error_description="{description}"'
        )
    body = {"error": error.code, "error_description": description}
    return JSONResponse(body, status_code=error.status, headers=headers)


class OAuthRoute(APIRoute):
    """A route whose :class:`~passerelle.errors.OAuthError` becomes an OAuth error body."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except errors.OAuthError as exc:
                return oauth_error_response(exc)

        return route


def _oauth_errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {
        status: {"model": OAuthErrorBody, "description": "OAuth error (RFC 6749 section 5.2)"}
        for status in statuses
    }


async def _body(request: Request, error: type[errors.OAuthError]) -> bytes:
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > MAX_OAUTH_BODY:
            raise error(f"the request body exceeds {MAX_OAUTH_BODY} bytes")
    return bytes(body)


def _form(body: bytes, content_type: str | None) -> dict[str, str]:
    """The parameters of a form-encoded token request (RFC 6749 section 3.2: each at most
    once)."""
    if (content_type or "").split(";")[0].strip().lower() != FORM_MEDIA_TYPE:
        raise errors.InvalidTokenRequestError(f"a token request is {FORM_MEDIA_TYPE}")
    try:
        text = body.decode("utf-8")
        fields = parse_qs(text, keep_blank_values=True, strict_parsing=False, max_num_fields=50)
    except (UnicodeDecodeError, ValueError):
        raise errors.InvalidTokenRequestError("the form is not UTF-8 URL-encoded text") from None
    repeated = sorted(name for name, values in fields.items() if len(values) > 1)
    if repeated:
        raise errors.InvalidTokenRequestError(f"parameter(s) repeated: {', '.join(repeated)}")
    return {name: values[0] for name, values in fields.items()}


def _bearer(authorization: str | None) -> str:
    scheme, _, value = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise errors.InvalidAccessTokenError(
            "send the access token from the token endpoint: 'Authorization: Bearer <token>'"
        )
    return value.strip()


# -- the centre's API: offers ------------------------------------------------------------------
offers = APIRouter(prefix="/api/v1/offers", tags=["offers"], responses=PROBLEMS)


@offers.post("", status_code=201, response_model=OfferCreated)
def create_offer(body: OfferCreate, oid4vci: Oid4vciDep, principal: PrincipalDep) -> OfferCreated:
    """Offer one credential to a worker's wallet (roles: admin, issuer). The claims are
    checked now; show the `offer_uri` (or its `qr`) to the worker and send the `tx_code`,
    shown in this response only, by another channel."""
    return oid4vci.create_offer(principal, body)


@offers.get("/{offer_id}", response_model=OfferPublic)
def get_offer(offer_id: OfferId, oid4vci: Oid4vciDep, principal: PrincipalDep) -> OfferPublic:
    """An offer's state: offered, token_issued, issued, expired or voided."""
    return oid4vci.offer(principal, offer_id)


@offers.get(
    "/{offer_id}/qr.png",
    response_class=Response,
    responses={200: {"description": "The QR code", "content": {"image/png": {}}}},
)
def offer_qr(offer_id: OfferId, oid4vci: Oid4vciDep, principal: PrincipalDep) -> Response:
    """The QR code of an open offer's link (roles: admin, issuer); 409 once redeemed."""
    return Response(oid4vci.offer_qr(principal, offer_id), media_type="image/png", headers=NO_STORE)


# -- public metadata ---------------------------------------------------------------------------
metadata = APIRouter(tags=["openid4vci"], responses=PUBLIC_PROBLEMS)


@metadata.get("/.well-known/openid-credential-issuer/tenants/{slug}", response_model=dict[str, Any])
def issuer_metadata(slug: Slug, oid4vci: Oid4vciDep) -> dict[str, Any]:
    """Credential Issuer Metadata of `https://host/tenants/<slug>` (the well-known segment
    inserted before the identifier's path, OpenID4VCI 1.0 section 12.2.2)."""
    return oid4vci.issuer_metadata(slug)


@metadata.get(
    "/tenants/{slug}/.well-known/openid-credential-issuer",
    response_model=dict[str, Any],
    include_in_schema=False,
)
def issuer_metadata_appended(slug: Slug, oid4vci: Oid4vciDep) -> dict[str, Any]:
    """The same document where wallets of older drafts append the well-known segment."""
    return oid4vci.issuer_metadata(slug)


@metadata.get(
    "/.well-known/oauth-authorization-server/tenants/{slug}", response_model=dict[str, Any]
)
def authorization_server_metadata(slug: Slug, oid4vci: Oid4vciDep) -> dict[str, Any]:
    """RFC 8414 metadata of the tenant's authorization server (the issuer itself)."""
    return oid4vci.authorization_server_metadata(slug)


# -- OAuth endpoints ---------------------------------------------------------------------------
oauth = APIRouter(
    prefix="/tenants/{slug}", tags=["openid4vci"], responses=PUBLIC_PROBLEMS, route_class=OAuthRoute
)

_TOKEN_FORM = {
    "requestBody": {
        "required": True,
        "content": {
            FORM_MEDIA_TYPE: {
                "schema": {
                    "type": "object",
                    "properties": {
                        "grant_type": {"type": "string", "enum": [PRE_AUTHORIZED_GRANT]},
                        "pre-authorized_code": {"type": "string"},
                        "tx_code": {"type": "string"},
                    },
                    "required": ["grant_type", "pre-authorized_code"],
                }
            }
        },
    }
}
_CREDENTIAL_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "credential_configuration_id": {"type": "string"},
                        "proofs": {
                            "type": "object",
                            "properties": {"jwt": {"type": "array", "items": {"type": "string"}}},
                        },
                    },
                    "required": ["credential_configuration_id"],
                }
            }
        },
    }
}


@oauth.post(
    "/token",
    response_model=TokenResponse,
    responses=_oauth_errors(400),
    openapi_extra=_TOKEN_FORM,
)
async def token(slug: Slug, request: Request, oid4vci: Oid4vciDep) -> Response:
    """Token endpoint: redeem a pre-authorized code (and its transaction code) once, for an
    access token valid 5 minutes."""
    body = await _body(request, errors.InvalidTokenRequestError)
    form = _form(body, request.headers.get("content-type"))
    answer = await run_in_threadpool(oid4vci.token, slug, form)
    return JSONResponse(answer.model_dump(), headers=NO_STORE)


@oauth.post("/nonce", response_model=NonceResponse)
def nonce(slug: Slug, oid4vci: Oid4vciDep) -> Response:
    """Nonce endpoint: a fresh `c_nonce` (single use, 5 minutes) for the key proof."""
    return JSONResponse(oid4vci.nonce(slug).model_dump(), headers=NO_STORE)


@oauth.post(
    "/credential",
    response_model=CredentialResponse,
    responses=_oauth_errors(400, 401),
    openapi_extra=_CREDENTIAL_BODY,
)
async def credential(
    slug: Slug,
    request: Request,
    oid4vci: Oid4vciDep,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Response:
    """Credential endpoint (`Authorization: Bearer <access token>`): one SD-JWT VC bound to
    the key of the request's `openid4vci-proof+jwt` proof."""
    access_token = _bearer(authorization)
    raw = await _body(request, errors.InvalidCredentialRequestError)
    try:
        parsed = json_loads(raw, "credential request")
    except errors.JsonError as exc:
        raise errors.InvalidCredentialRequestError(exc.detail) from None
    answer = await run_in_threadpool(oid4vci.credential, slug, access_token, parsed)
    return JSONResponse(answer.model_dump(), headers=NO_STORE)


router = APIRouter()
router.include_router(offers)
router.include_router(metadata)
router.include_router(oauth)
