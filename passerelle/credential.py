"""SD-JWT VC issuance (IETF draft-ietf-oauth-sd-jwt-vc) for Passerelle's credential types.

An SD-JWT VC is an SD-JWT (RFC 9901) whose issuer-signed JWT has ``typ: dc+sd-jwt`` and
carries ``iss``, ``vct``, ``iat`` and optionally ``nbf``, ``exp``, ``cnf.jwk`` (holder
binding) and ``status`` (a Token Status List reference). Registered claims are never
selectively disclosable; which subject claims are is said by the type metadata in
``schemas/`` (``sd: always`` claims are always disclosures, ``allowed`` ones by default too).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from passerelle import errors, sdjwt
from passerelle.credtypes import CredentialType
from passerelle.keys import SigningKey, public_key_from_jwk

__all__ = [
    "LEGACY_VC_TYP",
    "REGISTERED_CLAIMS",
    "VC_TYP",
    "issue_credential",
    "mark_disclosable",
]

VC_TYP = "dc+sd-jwt"
#: Accepted on input only: the media type used by drafts before -06.
LEGACY_VC_TYP = "vc+sd-jwt"
#: Claims set by the issuing layer, never taken from the subject claims, never disclosable.
REGISTERED_CLAIMS = frozenset(
    {"iss", "sub", "iat", "nbf", "exp", "vct", "cnf", "status", "_sd_alg"}
)

Path = tuple[str | int | None, ...]


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def mark_disclosable(claims: Mapping[str, Any], paths: list[Path]) -> dict[str, Any]:
    """A copy of ``claims`` where each path in ``paths`` is wrapped as an SD-JWT disclosure.

    A path ends with a claim name (the property is disclosable) or with ``None`` (every
    element of the array there is disclosable). Paths absent from ``claims`` are skipped.
    Deeper paths are wrapped first, so a disclosable object may hold disclosable members
    (recursive disclosures).
    """
    result: dict[str, Any] = {key: _copied(value) for key, value in claims.items()}
    for path in sorted(paths, key=len, reverse=True):
        _wrap(result, path)
    return result


def _copied(node: Any) -> Any:
    """A copy of the objects and arrays in ``node``, the only values :func:`_wrap` changes
    (a third of ``copy.deepcopy``'s time; other values are shared, as JSON values are)."""
    if isinstance(node, dict):
        return {key: _copied(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_copied(value) for value in node]
    return node


def _wrap(node: Any, path: Path) -> None:
    head, rest = path[0], path[1:]
    if isinstance(node, dict):
        key = next((k for k in node if (k.value if isinstance(k, sdjwt.SD) else k) == head), None)
        if key is None:
            return
        if not rest:
            if not isinstance(key, sdjwt.SD):
                node[sdjwt.SD(key)] = node.pop(key)
            return
        _wrap(node[key], rest)
    elif isinstance(node, list) and head is None:
        for index, element in enumerate(node):
            if not rest:
                if not isinstance(element, sdjwt.SD):
                    node[index] = sdjwt.SD(element)
            else:
                _wrap(element.value if isinstance(element, sdjwt.SD) else element, rest)


def issue_credential(
    claims: Mapping[str, Any],
    *,
    credential_type: CredentialType,
    key: SigningKey,
    issuer: str,
    now: datetime | None = None,
    valid_for: timedelta | None = None,
    not_before: datetime | None = None,
    holder_jwk: Mapping[str, Any] | None = None,
    status: Mapping[str, Any] | None = None,
    decoys: int = 0,
    salt_factory: Callable[[], str] = sdjwt.random_salt,
) -> sdjwt.IssuedSdJwt:
    """Validate ``claims`` against the type's schema and issue an SD-JWT VC.

    ``status`` is the ``status_list`` reference ``{"idx": int, "uri": str}``; ``holder_jwk``
    the holder's public JWK for ``cnf``.

    Raises:
        SchemaError: every schema violation at once; InvalidInputError: a registered claim
            in ``claims``, a bad ``issuer`` or validity; KeyError_: a bad ``holder_jwk``.
    """
    clashes = sorted(REGISTERED_CLAIMS.intersection(claims))
    if clashes:
        raise errors.InvalidInputError(
            f"claim(s) {', '.join(clashes)} are set by the issuer, not by the subject claims"
        )
    if not _is_issuer_url(issuer):
        raise errors.InvalidInputError(
            "the issuer identifier must be an https URL (http only for localhost pilots)"
        )
    credential_type.validate(claims)
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    payload: dict[str, Any] = {
        "iss": issuer,
        "iat": _epoch(moment),
        "vct": credential_type.vct,
    }
    if not_before is not None:
        payload["nbf"] = _epoch(not_before)
    if valid_for is not None:
        if valid_for <= timedelta(0):
            raise errors.InvalidInputError("the validity period must be positive")
        payload["exp"] = _epoch(moment + valid_for)
    if holder_jwk is not None:
        # parsing proves the key usable and public; cnf carries the public members only
        payload["cnf"] = {"jwk": public_key_from_jwk(holder_jwk).to_jwk()}
    if status is not None:
        _check_status_reference(status)
        payload["status"] = {"status_list": {"idx": status["idx"], "uri": status["uri"]}}
    payload.update(mark_disclosable(claims, credential_type.selectively_disclosable_paths()))
    return sdjwt.issue(payload, key, typ=VC_TYP, decoys=decoys, salt_factory=salt_factory)


def _is_issuer_url(value: str) -> bool:
    parts = urlsplit(value)
    if not parts.hostname or parts.username or parts.fragment or parts.query:
        return False
    return parts.scheme == "https" or (
        parts.scheme == "http" and parts.hostname in {"localhost", "127.0.0.1"}
    )


def _check_status_reference(status: Mapping[str, Any]) -> None:
    idx, uri = status.get("idx"), status.get("uri")
    if not isinstance(idx, int) or isinstance(idx, bool) or idx < 0:
        raise errors.InvalidInputError("status idx must be a non-negative integer")
    if not isinstance(uri, str) or not uri:
        raise errors.InvalidInputError("status uri must be a non-empty string")
