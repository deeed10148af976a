"""FastAPI dependencies: the services built by the lifespan, and the admin key check.

Every dependency is ``async def``: FastAPI runs a plain ``def`` dependency in its thread
pool, and that hop cost a verify request about 0.2 ms of CPU (bench/README.md).
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from passerelle import errors
from verifier.service import PresentationService, VerificationService
from verifier.settings import VerifierSettings
from verifier.trust import TrustManager

__all__ = [
    "AdminDep",
    "PresentationsDep",
    "SettingsDep",
    "TrustDep",
    "VerificationDep",
]


async def get_settings(request: Request) -> VerifierSettings:
    settings: VerifierSettings = request.app.state.settings
    return settings


async def get_verification(request: Request) -> VerificationService:
    service: VerificationService = request.app.state.verification
    return service


async def get_presentations(request: Request) -> PresentationService:
    service: PresentationService = request.app.state.presentations
    return service


async def get_trust(request: Request) -> TrustManager:
    trust: TrustManager = request.app.state.trust
    return trust


SettingsDep = Annotated[VerifierSettings, Depends(get_settings)]
VerificationDep = Annotated[VerificationService, Depends(get_verification)]
PresentationsDep = Annotated[PresentationService, Depends(get_presentations)]
TrustDep = Annotated[TrustManager, Depends(get_trust)]


_bearer = HTTPBearer(auto_error=False, description="The admin API key.")


async def require_admin(
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Let through requests bearing the admin key (``Authorization: Bearer <key>``).

    The key's SHA-256 is compared with the configured hash in constant time.

    Raises:
        PermissionDeniedError: the admin API is disabled (no key hash configured).
        AuthenticationError: no key, or a wrong one.
    """
    if settings.admin_key_hash is None:
        raise errors.PermissionDeniedError("the admin API is disabled (no admin key configured)")
    if credentials is None or not credentials.credentials:
        raise errors.AuthenticationError("an admin key is required (Authorization: Bearer ...)")
    digest = "sha256:" + hashlib.sha256(credentials.credentials.encode()).hexdigest()
    if not hmac.compare_digest(digest.encode(), settings.admin_key_hash.encode()):
        raise errors.AuthenticationError("wrong admin key")


AdminDep = Annotated[None, Depends(require_admin)]
