"""Configuration of the issuer service, read from the environment (``ISSUER_*``).

Nothing reads the environment at import: :class:`IssuerSettings` is built by the CLI (or a
test) and handed to :func:`issuer.app.create_app`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from passerelle.keys import DEV_PASSPHRASE
from passerelle.statuslist import DEFAULT_LIST_SIZE

__all__ = ["IssuerSettings"]


class IssuerSettings(BaseSettings):
    """Every knob of the service. ``environment`` other than ``development`` refuses the
    public development passphrase and a non-https public URL."""

    model_config = SettingsConfigDict(env_prefix="ISSUER_", extra="ignore", populate_by_name=True)

    environment: Literal["development", "production"] = "development"
    database_url: str = Field(
        default="sqlite:///var/issuer.db",
        validation_alias=AliasChoices("DATABASE_URL", "ISSUER_DATABASE_URL"),
    )
    #: Root of the key store; each tenant's keys live in ``<key_store>/<tenant slug>/``.
    key_store: Path = Path("keys/issuer")
    key_passphrase: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("PASSERELLE_KEY_PASSPHRASE", "ISSUER_KEY_PASSPHRASE"),
    )
    #: The public origin of this service; issuer identifiers, status list URIs and the
    #: well-known URLs are built on it.
    public_url: str = "http://localhost:8000"
    status_list_size: int = Field(default=DEFAULT_LIST_SIZE, ge=16, le=8_388_608)
    #: ``ttl`` of Status List Tokens and their ``Cache-Control: max-age`` (seconds).
    status_ttl: int = Field(default=300, ge=1, le=86_400)
    #: Lifetime (``exp - iat``) of a Status List Token; re-signed when half of it is gone.
    status_lifetime: int = Field(default=86_400, ge=60)
    max_upload_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    max_batch_rows: int = Field(default=20_000, ge=1)
    #: Keep the issued compact SD-JWT VC (it holds every claim, birthdate included) so that a
    #: certificate can be printed again later. Off by default: personal data minimisation.
    retain_tokens: bool = False

    @model_validator(mode="after")
    def _refuse_development_secrets(self) -> IssuerSettings:
        if self.environment == "development":
            return self
        secret = self.key_passphrase.get_secret_value() if self.key_passphrase else ""
        if not secret or secret == DEV_PASSPHRASE:
            raise ValueError(
                "outside development a key store passphrase other than the public "
                "development one is required (PASSERELLE_KEY_PASSPHRASE)"
            )
        if not self.public_url.startswith("https://"):
            raise ValueError("outside development ISSUER_PUBLIC_URL must be an https URL")
        return self

    @property
    def base_url(self) -> str:
        return self.public_url.rstrip("/")
