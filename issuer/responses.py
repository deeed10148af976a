"""The problem+json responses every route documents."""

from __future__ import annotations

from typing import Any

from issuer.models import Problem

__all__ = ["PROBLEMS", "PROBLEM_MEDIA_TYPE", "PUBLIC_PROBLEMS"]

PROBLEM_MEDIA_TYPE = "application/problem+json"


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "model": Problem,
        "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


PUBLIC_PROBLEMS: dict[int | str, dict[str, Any]] = {
    404: _problem("Not found (also another tenant's resource)"),
    422: _problem("Malformed request"),
}
PROBLEMS: dict[int | str, dict[str, Any]] = {
    400: _problem("Bad input"),
    401: _problem("No or unknown API key"),
    403: _problem("The key's role does not allow it"),
    404: _problem("Not found (also another tenant's resource)"),
    409: _problem("Conflict (state or idempotency key)"),
    413: _problem("Upload too large"),
    422: _problem("Malformed request, schema violations or row errors"),
    503: _problem("Status list full or key store unavailable"),
}
