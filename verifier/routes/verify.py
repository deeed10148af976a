"""``POST /api/v1/verify``: a token (JSON) or a photo of its QR code (multipart)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response
from fastapi.routing import APIRoute
from pydantic import ValidationError
from starlette.requests import ClientDisconnect

from passerelle import errors
from passerelle.encoding import json_dumps
from verifier.deps import get_verification
from verifier.models import Problem, VerificationResultOut, VerifyIn


class _SelfServedRoute(APIRoute):
    """A route whose endpoint reads its request and makes its response itself.

    FastAPI still documents it (OpenAPI) and hands its errors to the app's handler, but
    no longer resolves the parameters and dependencies it does not have, nor checks a
    response it does not serialise: about 15 µs per request on the service's busiest
    route (FastAPI's documented extension point, a custom ``route_class``).
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        endpoint: Callable[[Request], Coroutine[Any, Any, Response]] = self.endpoint
        return endpoint


router = APIRouter(prefix="/api/v1", tags=["verify"], route_class=_SelfServedRoute)

_OPTIONS = {name: field for name, field in VerifyIn.model_json_schema()["properties"].items()}
_IMAGE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["image"],
    "properties": {
        "image": {"type": "string", "format": "binary", "description": "PNG or JPEG photo."},
        **{name: _OPTIONS[name] for name in ("nonce", "audience", "at", "lang")},
    },
}
_REQUEST_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": VerifyIn.model_json_schema()},
            "multipart/form-data": {"schema": _IMAGE_SCHEMA},
        },
    }
}
_PROBLEMS: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem, "content": {"application/problem+json": {}}, "description": what}
    for status, what in (
        (400, "Unreadable QR image (qr_invalid, qr_not_found, qr_multiple)"),
        (413, "Body over the limit (payload_too_large)"),
        (422, "Malformed request (request_invalid)"),
    )
}


def _invalid(exc: ValidationError) -> errors.RequestInvalidError:
    """The problem for a body that breaks the schema (locations and messages, no values)."""
    problems = [
        {"loc": [str(p) for p in item["loc"]], "msg": item["msg"]} for item in exc.errors()[:20]
    ]
    return errors.RequestInvalidError("the request does not match its schema", errors=problems)


def _encoded(result: dict[str, Any]) -> bytes:
    """The result as compact JSON: orjson's bytes, or :func:`json_dumps` when orjson fails.

    orjson writes NaN and infinities as ``null``, but a result holds none: the core builds
    it from its own strings, integers and booleans and from JSON it parsed, and every
    parser of :mod:`passerelle.encoding` refuses non-finite numbers (``1e400`` included).
    """
    try:
        return orjson.dumps(result)
    except TypeError:  # orjson.JSONEncodeError (an integer over 64 bits): json_dumps says why
        return json_dumps(result)


async def _body(request: Request) -> bytes:
    """The request body, read straight from the ASGI channel (Starlette's ``body()`` reads
    it through an async generator: a few microseconds more on the busiest route)."""
    chunks: list[bytes] = []
    while True:
        message = await request.receive()
        if message["type"] != "http.request":  # http.disconnect (see verifier.problems)
            raise ClientDisconnect()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def _image_request(request: Request) -> tuple[bytes, VerifyIn]:
    try:
        form = await request.form(max_files=1, max_fields=8)
    except errors.PasserelleError:
        raise
    except Exception as exc:  # python-multipart / Starlette parse errors, whatever their class
        raise errors.RequestInvalidError("unreadable multipart body") from exc
    try:
        image = form.get("image")
        if image is None or isinstance(image, str):
            raise errors.RequestInvalidError("the 'image' file part is missing")
        options: dict[str, Any] = {"token": "image"}
        for name in ("nonce", "audience", "at", "lang"):
            value = form.get(name)
            if isinstance(value, str):
                options[name] = value
        data = await image.read()
    finally:
        await form.close()
    try:
        return data, VerifyIn.model_validate(options)
    except ValidationError as exc:
        raise _invalid(exc) from None


@router.post(
    "/verify",
    summary="Verify a credential",
    description="Runs every check of DESIGN.md on a compact SD-JWT VC, a compact QR payload, "
    "a URL carrying one in its fragment (JSON body), or a PNG/JPEG photo of its QR code "
    "(multipart, part 'image'). A credential that fails is a 200 with valid: false.",
    response_model=VerificationResultOut,
    responses=_PROBLEMS,
    openapi_extra=_REQUEST_BODY,
)
async def verify(request: Request) -> Response:
    # called, not declared with Depends: FastAPI's dependency resolution cost the busiest
    # route about 20 µs per request, and this one needs nothing from it
    service = await get_verification(request)
    content_type = request.headers.get("content-type", "").lower()
    if content_type.startswith("multipart/form-data"):
        image, options = await _image_request(request)
        result = await service.verify_image(
            image, nonce=options.nonce, audience=options.audience, at=options.at, lang=options.lang
        )
    elif content_type.startswith("application/json") or not content_type:
        body = await _body(request)
        try:
            parsed = VerifyIn.model_validate_json(body)
        except ValidationError as exc:
            raise _invalid(exc) from None
        result = await service.verify(
            parsed.token,
            nonce=parsed.nonce,
            audience=parsed.audience,
            at=parsed.at,
            lang=parsed.lang,
        )
    else:
        raise errors.RequestInvalidError("send application/json or multipart/form-data")
    # the result is already plain JSON data: encode it once, fast (no model round trip)
    return Response(_encoded(result.to_json()), media_type="application/json")
