"""``VerifierSettings``: every knob of the verification service, read from ``VERIFIER_*``.

Nothing reads the environment at import: ``VerifierSettings()`` is called by whoever builds
the app (the CLI, a test), and the instance is handed to :func:`verifier.app.create_app`.
List-valued settings are JSON in the environment, e.g.
``VERIFIER_TRUST_LISTS='["https://accreditation.example.ma/trust-list.jwt"]'``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["VerifierSettings", "hash_admin_key"]


def hash_admin_key(key: str) -> str:
    """The value to put in ``VERIFIER_ADMIN_KEY_HASH`` for the admin key ``key``.

    SHA-256 is enough: the key is a long random secret (``secrets.token_urlsafe(32)``), not
    a password, so a slow hash would add nothing but latency.
    """
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


class VerifierSettings(BaseSettings):
    """Configuration of one verifier deployment (all fields have safe defaults)."""

    model_config = SettingsConfigDict(env_prefix="VERIFIER_", extra="forbid")

    # -- trust ----------------------------------------------------------------------------
    trust_anchors: list[Path] = Field(
        default_factory=list, description="Public JWK files of the trust anchors."
    )
    trust_lists: list[str] = Field(
        default_factory=list, description="Trust list sources: file paths or https URLs."
    )
    anchor_store: Path | None = Field(
        default=None,
        description="JSON file where anchors added or removed through the admin API are kept "
        "(shared by the worker processes, survives restarts). None: changes live in memory.",
    )
    trust_refresh_interval: int = Field(
        default=3600, gt=0, description="Re-fetch every trust list at least this often (s)."
    )
    trust_refresh_margin: int = Field(
        default=6 * 3600, ge=0, description="Re-fetch a trust list this long before its exp (s)."
    )
    trust_retry_interval: int = Field(
        default=60, gt=0, description="Retry a failed trust list fetch after this long (s)."
    )
    background_refresh: bool = Field(
        default=True, description="Refresh trust lists in a background task of the lifespan."
    )

    # -- status ---------------------------------------------------------------------------
    status_default_ttl: int = Field(
        default=300, gt=0, description="Freshness of a Status List Token without a ttl (s)."
    )
    status_max_ttl: int = Field(
        default=3600, gt=0, description="Re-fetch a Status List Token at least this often (s)."
    )
    status_retry_interval: int = Field(
        default=30, gt=0, description="After a failed fetch, wait this long before retrying (s)."
    )
    status_cache_size: int = Field(default=1024, gt=0, description="Status lists kept in memory.")

    # -- fetching -------------------------------------------------------------------------
    fetch_timeout: float = Field(default=5.0, gt=0, description="Whole-fetch deadline (s).")
    fetch_max_bytes: int = Field(
        default=4 * 1024 * 1024, gt=0, description="Largest trust/status list body read."
    )
    fetch_max_redirects: int = Field(default=3, ge=0)
    allow_http_hosts: list[str] = Field(
        default_factory=list,
        description="Hosts fetched over plain http and allowed on private or loopback "
        "addresses (local testing only, e.g. 127.0.0.1).",
    )

    # -- offline --------------------------------------------------------------------------
    offline: bool = Field(default=False, description="Never touch the network.")
    bundle_path: Path | None = Field(
        default=None, description="Offline bundle (passerelle bundle) with lists to use."
    )

    # -- API ------------------------------------------------------------------------------
    admin_key_hash: str | None = Field(
        default=None,
        description="'sha256:<hex>' of the admin API key (see hash_admin_key); None disables "
        "the admin API.",
    )
    max_request_bytes: int = Field(
        default=10 * 1024 * 1024, gt=0, description="Largest request body (QR photos included)."
    )
    public_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Base URL under which wallets reach this service (response_uri).",
    )
    client_id: str | None = Field(
        default=None, description="The verifier's audience; default: public_url."
    )
    request_lifetime: int = Field(
        default=300, gt=0, le=3600, description="Lifetime of a presentation request (s)."
    )
    max_pending_requests: int = Field(default=10_000, gt=0)

    @field_validator("admin_key_hash")
    @classmethod
    def _check_hash(cls, value: str | None) -> str | None:
        if value is None:
            return None
        algo, _, digest = value.partition(":")
        if (
            algo != "sha256"
            or len(digest) != 64
            or not all(c in "0123456789abcdef" for c in digest)
        ):
            raise ValueError("admin_key_hash must be 'sha256:' and 64 lower-case hex digits")
        return value

    @field_validator("public_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @property
    def audience(self) -> str:
        """The ``client_id`` wallets must put in ``aud`` of their key binding JWT."""
        return self.client_id or self.public_url
