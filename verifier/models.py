"""Request and response bodies of the verifier API (pydantic; the OpenAPI schema's source).

The response models document the JSON the core produces (``VerificationResult.to_json()``);
routes return that JSON as is, so that a verification is not serialised twice.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from passerelle.jose import MAX_TOKEN_LENGTH

__all__ = [
    "AnchorIn",
    "AnchorOut",
    "CheckOut",
    "ClaimPath",
    "CredentialOut",
    "IssuerOut",
    "PresentationRequestIn",
    "PresentationRequestOut",
    "PresentationResponseOut",
    "Problem",
    "RequestStateOut",
    "TrustReportOut",
    "VerificationResultOut",
    "VerifyIn",
]

Lang = Annotated[str, Field(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{1,8}){0,3}$", max_length=35)]


class Problem(BaseModel):
    """RFC 9457 problem details (``application/problem+json``)."""

    type: str
    title: str
    status: int
    detail: str
    code: str = Field(description="Stable snake_case error code (see the README's table).")
    model_config = ConfigDict(extra="allow")


class VerifyIn(BaseModel):
    """A credential to verify, as text."""

    model_config = ConfigDict(extra="forbid")

    token: str = Field(
        min_length=1,
        max_length=2 * MAX_TOKEN_LENGTH,
        description="A compact SD-JWT VC (with or without KB-JWT), a compact QR payload "
        "(PS1:...), or a URL carrying either in its fragment.",
    )
    nonce: str | None = Field(
        default=None, max_length=512, description="Expected KB-JWT nonce (makes KB required)."
    )
    audience: str | None = Field(
        default=None, max_length=2048, description="Expected KB-JWT aud (makes KB required)."
    )
    at: AwareDatetime | None = Field(
        default=None, description="Verify as of this moment (RFC 3339 with a time zone)."
    )
    lang: Lang = Field(default="en", description="Language of labels: en, fr, es, ar.")


class CheckOut(BaseModel):
    name: Literal[
        "format",
        "issuer_trusted",
        "signature",
        "key_validity",
        "time_validity",
        "disclosures",
        "key_binding",
        "credential_status",
        "schema",
    ]
    ok: bool | None = Field(description="None: not checked (an earlier check failed).")
    code: str = Field(description="'ok', 'not_checked' or the error code of the failure.")
    detail: str


class IssuerOut(BaseModel):
    """The issuer: its trust list record, or only its ``id`` when it is not trusted."""

    model_config = ConfigDict(extra="allow")

    id: Any = Field(description="The credential's iss.")
    names: dict[str, str] | None = None
    country: str | None = None
    accreditation: dict[str, Any] | None = None
    status: str | None = None
    valid_from: str | None = None
    valid_until: str | None = None
    trusted_by: dict[str, str] | str | None = None


class CredentialOut(BaseModel):
    """The credential's type and disclosed claims, labelled in ``lang``."""

    model_config = ConfigDict(extra="allow")

    vct: Any
    type: str | None
    type_name: Any
    issued_at: str | None
    expires_at: str | None
    holder_bound: bool
    claims: dict[str, Any]
    disclosed: list[dict[str, Any]]
    lang: str


class VerificationResultOut(BaseModel):
    """DESIGN.md's verification result (``VerificationResult.to_json()``)."""

    valid: bool
    status: Literal["valid", "revoked", "suspended", "unknown"]
    checks: list[CheckOut]
    issuer: IssuerOut | None
    credential: CredentialOut | None
    status_info: dict[str, Any] | None = Field(
        description="Which status list was read and how old its information is "
        "(age_seconds, list_issued_at; source, fetched_at, fresh, refresh_error)."
    )
    verified_at: str


class TrustReportOut(BaseModel):
    anchors: list[dict[str, Any]]
    lists: list[dict[str, Any]]
    issuers: int
    error: str | None
    checked_at: str
    status_lists: list[dict[str, Any]]
    offline: bool


class AnchorIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    jwk: dict[str, Any] = Field(description="The anchor's public JWK (Ed25519 or P-256).")


class AnchorOut(BaseModel):
    kid: str
    alg: str
    anchors: int = Field(description="Anchors in force after the change.")


ClaimPath = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=100)] | Annotated[int, Field(ge=0)] | None],
    Field(min_length=1, max_length=8),
]


class PresentationRequestIn(BaseModel):
    """What to ask the worker's wallet for."""

    model_config = ConfigDict(extra="forbid")

    vct_values: list[Annotated[str, Field(min_length=1, max_length=500)]] = Field(
        default_factory=list, max_length=20, description="Accepted credential types (vct)."
    )
    claims: list[ClaimPath] = Field(
        default_factory=list,
        max_length=50,
        description="Claim paths to disclose (DCQL claims paths), e.g. [['given_name']].",
    )


class PresentationRequestOut(BaseModel):
    id: str
    state: Literal["pending", "answered", "expired"]
    client_id: str
    nonce: str
    response_uri: str
    request_uri: str
    dcql_query: dict[str, Any]
    created_at: str
    expires_at: str
    link: str = Field(description="openid4vp:// link for the wallet (also as the QR code).")


class RequestStateOut(BaseModel):
    id: str
    state: Literal["pending", "answered", "expired"]
    expires_at: str
    answered_at: str | None = None
    missing_claims: list[list[Any]] | None = None
    result: VerificationResultOut | None = None


class PresentationResponseOut(BaseModel):
    id: str
    state: Literal["answered"]
    valid: bool
