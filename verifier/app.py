"""``create_app(settings)``: the verifier's FastAPI application.

This module only wires: the lifespan builds the HTTP client, the trust manager, the status
fetcher and the services (nothing is built at import), stores them on ``app.state`` for
:mod:`verifier.deps`, loads the trust lists once before the first request, and runs the
background refresh. :func:`app_from_env` is the factory uvicorn's workers call.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from passerelle import errors
from passerelle.bundle import Bundle, read_bundle
from passerelle.credtypes import load_types
from passerelle.verification import StatusLists
from verifier import web
from verifier.fetch import Fetcher, FetchPolicy, Resolver, system_resolver
from verifier.presentation import InMemoryRequestStore
from verifier.problems import BodyLimitMiddleware, problem_handler, problem_openapi
from verifier.routes import admin, bulk, health, requests, trust, verify
from verifier.service import PresentationService, VerificationService
from verifier.settings import VerifierSettings
from verifier.status import CachedStatus, StatusCache, StatusFetcher
from verifier.trust import AnchorStore, Clock, TrustManager, read_anchor_file

__all__ = ["app_from_env", "create_app"]


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _read_bundle(path: Path) -> Bundle:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise errors.BundleError(f"cannot read the bundle {path}") from exc
    return read_bundle(text)


def create_app(
    settings: VerifierSettings,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    resolver: Resolver | None = None,
    clock: Clock | None = None,
) -> FastAPI:
    """The verifier app for ``settings``.

    ``transport`` (an ``httpx.MockTransport`` in tests), ``resolver`` (host name ->
    addresses) and ``clock`` replace the network and the time.
    """
    now = clock or _utcnow

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        anchors = [read_anchor_file(path) for path in settings.trust_anchors]
        bundle = _read_bundle(settings.bundle_path) if settings.bundle_path else None
        client: httpx.AsyncClient | None = None
        fetcher: Fetcher | None = None
        if not settings.offline:
            client = httpx.AsyncClient(
                transport=transport,
                timeout=httpx.Timeout(settings.fetch_timeout),
                follow_redirects=False,
                trust_env=False,
                headers={"User-Agent": "passerelle-verifier"},
            )
            policy = FetchPolicy(
                timeout=settings.fetch_timeout,
                max_bytes=settings.fetch_max_bytes,
                max_redirects=settings.fetch_max_redirects,
                allow_http_hosts=frozenset(settings.allow_http_hosts),
            )
            fetcher = Fetcher(client, policy, resolver=resolver or system_resolver)
        manager = TrustManager(
            anchors=anchors,
            sources=settings.trust_lists,
            inline_lists=bundle.trust_lists if bundle else (),
            fetcher=fetcher,
            clock=now,
            anchor_store=AnchorStore(settings.anchor_store),
            refresh_interval=settings.trust_refresh_interval,
            refresh_margin=settings.trust_refresh_margin,
            retry_interval=settings.trust_retry_interval,
        )
        status_lists: StatusLists
        status_fetcher: StatusFetcher | None = None
        if fetcher is None:
            status_lists = StatusLists(bundle.status_lists if bundle else ())
        else:
            cache = StatusCache(max_entries=settings.status_cache_size)
            if bundle is not None:
                # a bundle's lists serve, stale from the start, until a fetch succeeds
                created = int(bundle.created_at.timestamp())
                for token in bundle.status_lists:
                    uri = StatusLists().add(token)
                    cache.put(uri, CachedStatus(token.strip(), created, 0, None, None))
            status_lists = cache
            status_fetcher = StatusFetcher(
                fetcher,
                cache,
                clock=now,
                default_ttl=settings.status_default_ttl,
                max_ttl=settings.status_max_ttl,
                retry_interval=settings.status_retry_interval,
            )
        verification = VerificationService(
            trust=manager,
            status_lists=status_lists,
            status_fetcher=status_fetcher,
            registry=load_types(),
            clock=now,
            offline=settings.offline,
            bundle_created_at=bundle.created_at if bundle else None,
        )
        app.state.settings = settings
        app.state.trust = manager
        app.state.verification = verification
        app.state.presentations = PresentationService(
            verification=verification,
            store=InMemoryRequestStore(max_pending=settings.max_pending_requests),
            clock=now,
            client_id=settings.audience,
            public_url=settings.public_url,
            lifetime=settings.request_lifetime,
        )
        await manager.refresh(force=True)
        task = asyncio.create_task(manager.run()) if settings.background_refresh else None
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if client is not None:
                await client.aclose()

    app = FastAPI(
        title="Passerelle verifier",
        version="1.0.0",
        summary="Verify skills and qualification credentials (SD-JWT VC).",
        lifespan=lifespan,
    )
    for family in (
        errors.PasserelleError,
        RequestValidationError,
        StarletteHTTPException,
        ClientDisconnect,
    ):
        app.add_exception_handler(family, problem_handler)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_request_bytes)
    for module in (verify, bulk, trust, admin, requests, health):
        app.include_router(module.router)
    app.include_router(web.router)  # the employer's page at "/" and its static files

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = problem_openapi(get_openapi_schema())
        return app.openapi_schema

    get_openapi_schema = app.openapi
    app.openapi = openapi  # type: ignore[method-assign]
    return app


def app_from_env() -> FastAPI:
    """The app for the ``VERIFIER_*`` environment (uvicorn ``--factory`` entry point).

    What the worker has built by then (modules, the app: ~90,000 objects) lives as long as
    it does: ``gc.freeze()`` takes it out of the cyclic garbage collector's sight, so that a
    full collection no longer walks it all (~60 ms of CPU, during which every request the
    worker holds waits).
    """
    app = create_app(VerifierSettings())
    gc.collect()
    gc.freeze()
    return app
