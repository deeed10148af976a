"""Offline bundles: the trust lists and Status List Tokens a verifier needs, in one file.

An employer site with no connectivity copies one file (USB stick, e-mail, messaging app)
and verifies for days. The bundle is a JSON document::

    {
      "format": "passerelle-offline-bundle/1",
      "created_at": "2026-11-25T10:00:00Z",
      "trust_lists": ["<trustlist+jwt>", ...],
      "status_lists": ["<statuslist+jwt>", ...]
    }

The bundle itself is not signed: every token inside is, by a trust anchor (trust lists) or
by an accredited issuer (status lists), and ``passerelle bundle`` verifies each before
writing. A verifier verifies them again when it loads the bundle, against the trust
anchors *it* is configured with: a bundle can never add an anchor, so whoever hands over
a bundle cannot make an employer trust anything new. How old the status information is
comes from each Status List Token's ``iat`` and is reported with every result.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from passerelle import errors

__all__ = ["BUNDLE_FORMAT", "MAX_BUNDLE_LENGTH", "Bundle", "make_bundle", "read_bundle"]

BUNDLE_FORMAT = "passerelle-offline-bundle/1"
#: Largest bundle read (characters): about 50 full 2^20-entry status lists.
MAX_BUNDLE_LENGTH = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Bundle:
    created_at: datetime
    trust_lists: tuple[str, ...]
    status_lists: tuple[str, ...]


def make_bundle(trust_lists: Sequence[str], status_lists: Sequence[str], *, now: datetime) -> str:
    """The bundle document for already verified tokens (see ``passerelle bundle``)."""
    document: dict[str, Any] = {
        "format": BUNDLE_FORMAT,
        "created_at": now.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "trust_lists": [t.strip() for t in trust_lists],
        "status_lists": [t.strip() for t in status_lists],
    }
    return json.dumps(document, indent=2) + "\n"


def read_bundle(text: str) -> Bundle:
    """Parse a bundle document (the tokens inside are verified by their users).

    Raises:
        BundleError: too large, not JSON, wrong format tag or malformed members.
    """
    if len(text) > MAX_BUNDLE_LENGTH:
        raise errors.BundleError(f"bundle larger than {MAX_BUNDLE_LENGTH} characters")
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise errors.BundleError("the bundle is not JSON") from exc
    if not isinstance(document, dict) or document.get("format") != BUNDLE_FORMAT:
        raise errors.BundleError(f"not a {BUNDLE_FORMAT} document")
    lists: dict[str, tuple[str, ...]] = {}
    for name in ("trust_lists", "status_lists"):
        value = document.get(name, [])
        if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
            raise errors.BundleError(f"'{name}' must be a list of tokens")
        lists[name] = tuple(value)
    try:
        created = datetime.fromisoformat(str(document.get("created_at")).replace("Z", "+00:00"))
    except ValueError as exc:
        raise errors.BundleError("'created_at' must be an RFC 3339 date-time") from exc
    if created.tzinfo is None:
        raise errors.BundleError("'created_at' must carry a time zone")
    return Bundle(created, lists["trust_lists"], lists["status_lists"])
