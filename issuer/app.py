"""The issuer service: :func:`create_app` wires settings, storage, keys and routes.

Nothing is built at import: the engine, the key ring and the service are made in the
lifespan from the :class:`IssuerSettings` given to :func:`create_app`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from issuer.certificate import PdfRenderer
from issuer.db import create_db_engine
from issuer.keyring import TenantKeyring
from issuer.responses import PROBLEM_MEDIA_TYPE
from issuer.routes import admin, audit, certificates, credentials, public, registrar
from issuer.routes import oid4vci as oid4vci_routes
from issuer.service import IssuerService
from issuer.settings import IssuerSettings
from passerelle import errors
from passerelle.credtypes import TypeRegistry, load_types
from passerelle.errors import MethodNotAllowedError
from passerelle.keys import resolve_passphrase

__all__ = ["create_app", "problem_response"]


def problem_response(error: errors.PasserelleError) -> JSONResponse:
    """The one rendering of an error: RFC 9457 problem+json with the stable ``code``."""
    problem = error.to_problem()
    # a request never gets a 500: server-side conditions (a locked key store) are a 503
    status = 503 if error.status >= 500 else error.status
    problem["status"] = status
    return JSONResponse(problem, status_code=status, media_type=PROBLEM_MEDIA_TYPE)


class BodyLimit:
    """Refuse request bodies over ``limit`` bytes with a 413 problem: at once when the
    ``Content-Length`` says so, else (a chunked body) as soon as the bytes read pass it.

    Plain ASGI, not ``@app.middleware("http")``: Starlette's ``BaseHTTPMiddleware`` runs
    every request through a task group and a streamed response, a cost paid on every call.
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        if length is not None:
            if not length.isdigit() or int(length) > self.limit:
                error = errors.PayloadTooLargeError(f"the request body exceeds {self.limit} bytes")
                await problem_response(error)(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise errors.PayloadTooLargeError(f"the request body exceeds {self.limit} bytes")
            return message

        await self.app(scope, counted, send)


def _validation_error(exc: RequestValidationError) -> errors.RequestInvalidError:
    found = []
    for item in exc.errors():
        where = [str(p) for p in item.get("loc", ())]
        found.append({"field": ".".join(where), "message": str(item.get("msg", ""))})
    listed = "; ".join(f"{f['field']}: {f['message']}" for f in found[:5])
    return errors.RequestInvalidError(listed or "malformed request", errors=found)


def _http_error(exc: StarletteHTTPException) -> errors.PasserelleError:
    if exc.status_code == 404:
        return errors.NotFoundError("no such resource")
    if exc.status_code == 405:
        return MethodNotAllowedError("this method is not allowed here")
    if exc.status_code == 413:
        return errors.PayloadTooLargeError(str(exc.detail))
    if exc.status_code == 401:
        return errors.AuthenticationError(str(exc.detail))
    return errors.RequestInvalidError(str(exc.detail))


def _register_error_handlers(app: FastAPI) -> None:
    async def on_passerelle(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, errors.PasserelleError)
        return problem_response(exc)

    async def on_validation(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return problem_response(_validation_error(exc))

    async def on_http(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        return problem_response(_http_error(exc))

    async def on_disconnect(_: Request, exc: Exception) -> Response:
        # a client gone before its whole body came: the answer goes nowhere, but the
        # request ends as a handled error, not as a logged traceback and an attempted 500
        # (the verifier's wording, verifier/problems.py)
        return problem_response(
            errors.RequestInvalidError("the client left before sending the whole body")
        )

    async def on_database(_: Request, exc: Exception) -> Response:
        return problem_response(errors.ServiceUnavailableError("the database is unavailable"))

    app.add_exception_handler(errors.PasserelleError, on_passerelle)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(SQLAlchemyError, on_database)
    app.add_exception_handler(ClientDisconnect, on_disconnect)


def create_app(
    settings: IssuerSettings,
    *,
    clock: Callable[[], datetime] | None = None,
    types: TypeRegistry | None = None,
) -> FastAPI:
    """The issuer's ASGI application. The database must be migrated (``issuer init``)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_db_engine(settings.database_url)
        passphrase = (
            settings.key_passphrase.get_secret_value()
            if settings.key_passphrase
            else resolve_passphrase()
        )
        keyring = TenantKeyring(settings.key_store, passphrase)
        options: dict[str, Any] = {"clock": clock} if clock else {}
        app.state.service = IssuerService(
            engine, settings, types or load_types(), keyring, **options
        )
        # Chromium is launched on the first PDF, then kept until shutdown
        app.state.pdf_renderer = PdfRenderer()
        try:
            yield
        finally:
            await app.state.pdf_renderer.close()
            engine.dispose()

    app = FastAPI(
        title="Passerelle issuer",
        version="1",
        summary="Issue, list and revoke SD-JWT VC skills credentials for training centres.",
        lifespan=lifespan,
    )
    _register_error_handlers(app)

    # multipart framing adds a little to the file itself
    app.add_middleware(BodyLimit, limit=settings.max_upload_bytes + 64 * 1024)
    # the issuing API first: a request is matched against the routes in this order
    for module in (credentials, certificates, admin, audit, public, registrar):
        app.include_router(module.router)
    app.include_router(oid4vci_routes.router)
    return app
