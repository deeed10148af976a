"""RFC 9457 problem responses: the one handler and the request body limit.

Every error leaves the service as ``application/problem+json`` with a stable ``code``:
:class:`passerelle.errors.PasserelleError` as it is; FastAPI's validation errors as
``request_invalid`` (422, the locations and messages of the errors, never the values sent,
which may be personal data); Starlette's HTTP errors (unknown path, wrong method) under
``not_found``/``method_not_allowed``/``http_error``; a client gone before its whole body
came as ``request_invalid``.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from passerelle import errors

__all__ = ["PROBLEM_MEDIA_TYPE", "BodyLimitMiddleware", "problem_handler", "problem_response"]

PROBLEM_MEDIA_TYPE = "application/problem+json"
_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}
#: A client that closed its connection before its whole body came (a phone losing its
#: network mid-upload): the answer goes nowhere, but the request ends as a handled error
#: instead of a logged traceback and an attempted 500.
_LEFT = "the client left before sending the whole body"


def problem_response(error: errors.PasserelleError) -> JSONResponse:
    return _respond(error.to_problem())


def _respond(problem: dict[str, Any]) -> JSONResponse:
    status = int(problem["status"])
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(problem, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def _problem(exc: Exception) -> dict[str, Any]:
    if isinstance(exc, errors.PasserelleError):
        return exc.to_problem()
    if isinstance(exc, RequestValidationError):
        problems = [
            {"loc": [str(part) for part in item.get("loc", ())], "msg": str(item.get("msg", ""))}
            for item in exc.errors()[:20]
        ]
        return errors.RequestInvalidError(
            "the request does not match its schema", errors=problems
        ).to_problem()
    if isinstance(exc, StarletteHTTPException):
        if exc.status_code == 404:
            return errors.NotFoundError("no such resource").to_problem()
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        return {
            "type": f"tag:passerelle,2026:error:{code}",
            "title": code.replace("_", " ").capitalize(),
            "status": exc.status_code,
            "detail": str(exc.detail),
            "code": code,
        }
    if isinstance(exc, ClientDisconnect):
        return errors.RequestInvalidError(_LEFT).to_problem()
    return errors.ServiceError("internal error").to_problem() | {"status": 500}


async def problem_handler(request: Request, exc: Exception) -> JSONResponse:
    """The app's one exception handler (registered for the four families above)."""
    return _respond(_problem(exc))


class BodyLimitMiddleware:
    """Refuse request bodies over ``max_bytes`` (413 ``payload_too_large``).

    A declared ``Content-Length`` over the limit is refused before anything is read; a body
    sent without one (chunked) is counted as it is received and refused when it passes.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length":
                if not value.isdigit() or int(value) > self.max_bytes:
                    await self._refuse(scope, receive, send)
                    return
                break
        seen = 0
        limit = self.max_bytes

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise errors.PayloadTooLargeError(f"request body over {limit} bytes")
            return message

        await self.app(scope, limited, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        error = errors.PayloadTooLargeError(f"request body over {self.max_bytes} bytes")
        await problem_response(error)(scope, receive, send)


_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
_PROBLEM_SCHEMA = {
    "title": "Problem",
    "type": "object",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string", "description": "Stable snake_case error code."},
        "reason": {"type": "string", "description": "Finer reason of a conflict."},
        "errors": {"type": "array", "items": {"type": "object"}},
    },
}


def problem_openapi(schema: dict[str, Any]) -> dict[str, Any]:
    """Document every error answer as ``application/problem+json`` (FastAPI says JSON).

    Every operation gets 422 (``request_invalid``), and 413 when it takes a body.
    """
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Problem"] = _PROBLEM_SCHEMA
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            responses["422"] = {"description": "Malformed request (request_invalid)"}
            if "requestBody" in operation:
                responses["413"] = {"description": "Body over the limit (payload_too_large)"}
            for status, response in responses.items():
                if status.isdigit() and int(status) >= 400:
                    response["content"] = {PROBLEM_MEDIA_TYPE: {"schema": _PROBLEM_REF}}
    return schema
