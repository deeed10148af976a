"""``/api/v1/requests``: presentation requests (OpenID4VP-style) and their answers."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Path
from fastapi.responses import JSONResponse, Response

from verifier.deps import PresentationsDep
from verifier.models import (
    PresentationRequestIn,
    PresentationRequestOut,
    PresentationResponseOut,
    Problem,
    RequestStateOut,
)

router = APIRouter(prefix="/api/v1/requests", tags=["presentation requests"])

RequestId = Annotated[str, Path(max_length=64, description="The request's id.")]
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": Problem, "description": "No such request (not_found)"}
}
_CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {
        "model": Problem,
        "description": "conflict: reason presentation_replayed (answered already) or "
        "request_expired",
    }
}


@router.post("", status_code=201, summary="Create a presentation request")
async def create_request(
    body: PresentationRequestIn, presentations: PresentationsDep
) -> PresentationRequestOut:
    request = presentations.create(body.vct_values, body.claims)
    return PresentationRequestOut.model_validate(presentations.describe(request))


@router.get("/{request_id}", summary="State and result of a request", responses=_NOT_FOUND)
async def request_state(request_id: RequestId, presentations: PresentationsDep) -> RequestStateOut:
    return RequestStateOut.model_validate(presentations.status(request_id))


@router.get(
    "/{request_id}/qr",
    summary="The request's openid4vp:// link as a QR code",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}, **_NOT_FOUND},
)
async def request_qr(request_id: RequestId, presentations: PresentationsDep) -> Response:
    return Response(presentations.qr_png(request_id), media_type="image/png")


@router.get(
    "/{request_id}/object",
    summary="The authorization request behind request_uri (for the wallet)",
    responses={**_NOT_FOUND, **_CONFLICT},
)
async def request_object(request_id: RequestId, presentations: PresentationsDep) -> JSONResponse:
    return JSONResponse(presentations.request_object(request_id))


@router.post(
    "/{request_id}/response",
    summary="The wallet's answer (direct_post)",
    responses={**_NOT_FOUND, **_CONFLICT},
)
async def request_response(
    request_id: RequestId,
    vp_token: Annotated[str, Form(min_length=1, max_length=2 * 1024 * 1024)],
    presentations: PresentationsDep,
    state: Annotated[str | None, Form(max_length=64)] = None,
) -> PresentationResponseOut:
    return PresentationResponseOut.model_validate(await presentations.respond(request_id, vp_token))
