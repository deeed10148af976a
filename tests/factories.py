"""Factories shared by the test packages: keys, credentials, trust lists, status lists.

Keys are made once per process (key generation is the slow part); the clock is pinned.
"""

from __future__ import annotations

import functools
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from passerelle import statuslist, trustlist
from passerelle.credential import issue_credential
from passerelle.credtypes import load_types
from passerelle.keys import SigningKey, generate_key

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
ISSUER = "https://cfp-casablanca.example.ma"
ANCHOR = "https://accreditation-fp.example.ma"
STATUS_URI = "https://cfp-casablanca.example.ma/status/1"
QUALIFICATION = "QualificationCredential"


@functools.cache
def key(name: str, alg: str = "EdDSA") -> SigningKey:
    """A key per (name, alg), stable within the test process."""
    return generate_key(alg)


def example_claims(type_name: str = QUALIFICATION) -> dict[str, Any]:
    return json.loads(json.dumps(load_types().get(type_name).example))


def vct(type_name: str = QUALIFICATION) -> str:
    return load_types().get(type_name).vct


def credential(
    *,
    claims: dict[str, Any] | None = None,
    type_name: str = QUALIFICATION,
    issuer_key: SigningKey | None = None,
    issuer: str = ISSUER,
    now: datetime = NOW,
    holder: SigningKey | None = None,
    status_idx: int | None = None,
    valid_for: timedelta | None = timedelta(days=3650),
) -> str:
    """A compact SD-JWT VC (all disclosures)."""
    issued = issue_credential(
        claims if claims is not None else example_claims(type_name),
        credential_type=load_types().get(type_name),
        key=issuer_key or key("issuer"),
        issuer=issuer,
        now=now,
        valid_for=valid_for,
        holder_jwk=holder.public.to_jwk() if holder else None,
        status={"uri": STATUS_URI, "idx": status_idx} if status_idx is not None else None,
    )
    return issued.compact


def trust_source(
    *,
    issuer_key: SigningKey | None = None,
    status: str = "active",
    scope: list[str] | None = None,
    key_valid_from: str = "2024-01-01T00:00:00Z",
    key_valid_until: str | None = None,
    compromised_at: str | None = None,
    issuer: str = ISSUER,
) -> dict[str, Any]:
    jwk: dict[str, Any] = dict((issuer_key or key("issuer")).public.to_jwk())
    jwk["valid_from"] = key_valid_from
    if key_valid_until:
        jwk["valid_until"] = key_valid_until
    if compromised_at:
        jwk["compromised_at"] = compromised_at
    return {
        "iss": ANCHOR,
        "jurisdiction": "MA",
        "issuers": [
            {
                "id": issuer,
                "names": {
                    "fr": "Centre Hay Hassani",
                    "en": "Hay Hassani Centre",
                    "ar": "مركز الحي الحسني",
                },
                "country": "MA",
                "accreditation": {
                    "body": {"en": "Accreditation body"},
                    "id": "MA-FP-2024-0173",
                    "scope": scope if scope is not None else [vct(), vct("SkillCredential")],
                },
                "status": status,
                "valid_from": "2024-01-01T00:00:00Z",
                "jwks": {"keys": [jwk]},
            }
        ],
    }


def trust_list(
    source: dict[str, Any] | None = None,
    *,
    anchor: SigningKey | None = None,
    now: datetime = NOW,
    lifetime: timedelta = timedelta(days=30),
) -> str:
    payload = trustlist.build_trust_list(source or trust_source(), now=now, lifetime=lifetime)
    return trustlist.sign_trust_list(payload, anchor or key("anchor"))


def status_list_token(
    *,
    revoked: tuple[int, ...] = (),
    suspended: tuple[int, ...] = (),
    issuer_key: SigningKey | None = None,
    now: datetime = NOW,
    uri: str = STATUS_URI,
    size: int = 1024,
) -> str:
    lst = statuslist.StatusList(bits=2, size=size)
    for index in revoked:
        lst.set(index, statuslist.Status.REVOKED)
    for index in suspended:
        lst.set(index, statuslist.Status.SUSPENDED)
    return statuslist.create_status_list_token(
        lst,
        issuer_key or key("issuer"),
        uri=uri,
        issuer=ISSUER,
        now=now,
        ttl=3600,
        lifetime=86400,
    )
