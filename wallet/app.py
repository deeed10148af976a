"""``create_app(settings)``: the worker's wallet as a web page on this device.

A small app on ``127.0.0.1`` (a phone running it locally, or a shared computer at a migrant
resource centre) that serves a mobile-first page: unlock the wallet with its passphrase, see
the credentials in English, French, Spanish or Arabic (right to left), open one, choose what
to disclose and show a presentation QR code; paste a credential offer link to receive a
credential (OpenID4VCI), or a verifier's request link to answer it (OpenID4VP).

Unlocking and sessions (:mod:`wallet.routes.sessions` has the details): the wallet file is
decrypted once at unlock and the contents kept in memory for that browser session only (a
random id in an ``HttpOnly``, ``SameSite=Strict`` cookie) until the worker locks it, it is
idle for ``idle_timeout``, ``session_lifetime`` passes, or the file changes on disk. The
passphrase is dropped after the key derivation and never written anywhere.

Protection: every form carries a per-session CSRF token and a browser's ``Origin`` must be
this page's; the ``Host`` must be one of ``allowed_hosts`` (a web site that rebinds its name
to 127.0.0.1 gets nothing); pages have a strict Content-Security-Policy with no script at
all, are never cached, and cannot be framed. The server listens on a loopback address only,
unless ``allow_remote`` says otherwise.

This module only wires: the lifespan builds the service, the session store and the unlock
throttle; the one error handler renders every error as RFC 9457 ``application/problem+json``,
or as the page with a sentence in the worker's language when a browser asked for HTML.
"""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.trustedhost import TrustedHostMiddleware

from passerelle import errors
from passerelle.credtypes import TypeRegistry, load_types
from wallet import _http
from wallet.routes import auth, credentials, exchanges
from wallet.routes.deps import SESSION_COOKIE
from wallet.routes.render import STATIC_DIR, error_page
from wallet.routes.service import WalletPageService
from wallet.routes.sessions import Session, SessionStore, UnlockGuard
from wallet.store import DEFAULT_KDF, KdfParams

__all__ = ["PROBLEM_MEDIA_TYPE", "WalletAppSettings", "create_app", "problem_response"]

PROBLEM_MEDIA_TYPE = "application/problem+json"

#: Pages load their own style sheet and nothing else; no script, no frames, forms to self.
_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    # same-origin, not no-referrer: a form post then carries a real Origin to check
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    # pages hold personal data: never in a cache, not even the back-forward one
    "Cache-Control": "no-store",
}


class WalletAppSettings(BaseSettings):
    """Configuration of the wallet page (``PASSERELLE_WALLET_APP_*``; the directory is the
    CLI's ``PASSERELLE_WALLET_DIR``). Every field has a safe default."""

    model_config = SettingsConfigDict(env_prefix="PASSERELLE_WALLET_APP_", extra="forbid")

    directory: Path = Field(
        default_factory=lambda: Path.home() / ".passerelle" / "wallet",
        validation_alias=AliasChoices("directory", "PASSERELLE_WALLET_DIR"),
        description="The wallet directory (the one the CLI uses).",
    )
    host: str = Field(default="127.0.0.1", description="Address to listen on.")
    port: int = Field(default=8765, ge=1, le=65535, description="Port to listen on.")
    allow_remote: bool = Field(
        default=False,
        description="Allow a non-loopback host. Off: the page holds decrypted credentials "
        "and is served over plain HTTP, so it must stay on this device.",
    )
    allowed_hosts: list[str] = Field(
        default_factory=lambda: ["127.0.0.1", "localhost"],
        description="Accepted Host header names (DNS rebinding protection).",
    )
    idle_timeout: int = Field(
        default=300, gt=0, description="Lock after this long without a request (s)."
    )
    session_lifetime: int = Field(
        default=1800, gt=0, description="Lock this long after unlock, whatever happens (s)."
    )
    max_sessions: int = Field(default=32, gt=0, description="Browser sessions kept at once.")
    unlock_max_failures: int = Field(
        default=5, gt=0, description="Wrong passphrases in a row before a pause."
    )
    unlock_backoff: int = Field(default=30, gt=0, description="Length of that pause (s).")
    secure_cookie: bool = Field(
        default=False, description="Mark the session cookie Secure (behind HTTPS)."
    )

    @model_validator(mode="after")
    def _loopback_only(self) -> WalletAppSettings:
        if not self.allow_remote:
            try:
                loopback = ipaddress.ip_address(self.host).is_loopback
            except ValueError:
                loopback = self.host == "localhost"
            if not loopback:
                raise ValueError(
                    f"host {self.host!r} is not a loopback address: the wallet page serves "
                    "decrypted credentials; set allow_remote only behind HTTPS on a trusted "
                    "network"
                )
        return self


def problem_response(error: errors.PasserelleError) -> JSONResponse:
    """RFC 9457 problem details with the stable ``code``."""
    problem = error.to_problem()
    headers = {}
    retry = error.extra.get("retry_after")
    if isinstance(retry, int):
        headers["Retry-After"] = str(retry)
    return JSONResponse(
        problem, status_code=error.status, media_type=PROBLEM_MEDIA_TYPE, headers=headers
    )


def _as_passerelle(exc: Exception) -> errors.PasserelleError:
    if isinstance(exc, errors.PasserelleError):
        return exc
    if isinstance(exc, RequestValidationError):
        where = [".".join(str(p) for p in e.get("loc", ())) for e in exc.errors()]
        return errors.RequestInvalidError(f"missing or invalid form fields: {', '.join(where)}")
    if isinstance(exc, StarletteHTTPException) and exc.status_code == 404:
        return errors.NotFoundError("no such page")
    if isinstance(exc, StarletteHTTPException) and exc.status_code == 405:
        return errors.RequestInvalidError("this page cannot be used with that method")
    return errors.RequestInvalidError(str(getattr(exc, "detail", "bad request")))


def _wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


async def _on_error(request: Request, exc: Exception) -> Response:
    error = _as_passerelle(exc)
    if _wants_html(request):
        return error_page(request, error)
    return problem_response(error)


def _session_cookie(response: Response, request: Request, secure: bool) -> None:
    """Set the cookie when the request's session is new or got a new id."""
    session: Session | None = getattr(request.state, "session", None)
    if session is not None and request.cookies.get(SESSION_COOKIE) != session.id:
        response.set_cookie(
            SESSION_COOKIE,
            session.id,
            httponly=True,
            samesite="strict",
            secure=secure,
            path=str(request.scope.get("root_path", "")) or "/",
        )


def create_app(
    settings: WalletAppSettings,
    *,
    kdf: KdfParams = DEFAULT_KDF,
    clock: Callable[[], datetime] | None = None,
    client_factory: Callable[[], httpx.Client] | None = None,
    registry: TypeRegistry | None = None,
) -> FastAPI:
    """The wallet page for ``settings``.

    ``kdf`` is the scrypt cost of writes (tests use a cheap one), ``clock`` the time,
    ``client_factory`` the HTTP client of an exchange (an ``httpx.MockTransport`` in
    tests), ``registry`` the credential types (default: the shipped ones).
    """
    now = clock or (lambda: datetime.now(UTC))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.settings = settings
        app.state.service = WalletPageService(
            settings.directory,
            kdf=kdf,
            clock=now,
            client_factory=client_factory or _http.new_client,
            registry=registry or load_types(),
        )
        app.state.sessions = SessionStore(
            idle_timeout=timedelta(seconds=settings.idle_timeout),
            lifetime=timedelta(seconds=settings.session_lifetime),
            max_sessions=settings.max_sessions,
            clock=now,
        )
        app.state.guard = UnlockGuard(
            max_failures=settings.unlock_max_failures,
            backoff=timedelta(seconds=settings.unlock_backoff),
            clock=now,
        )
        yield

    app = FastAPI(
        title="Passerelle wallet",
        version="1",
        summary="The migrant worker's wallet page: credentials, disclosures, QR codes.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    for family in (errors.PasserelleError, RequestValidationError, StarletteHTTPException):
        app.add_exception_handler(family, _on_error)

    @app.middleware("http")
    async def headers_and_cookie(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        _session_cookie(response, request, settings.secure_cookie)
        for name, value in _SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    # outermost: a request for another host name is refused before anything else runs
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(settings.allowed_hosts))
    for module in (auth, credentials, exchanges):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
