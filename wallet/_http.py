"""The wallet's HTTP boundary: every httpx call of the protocols goes through here.

httpx exceptions, oversized or non-JSON answers become :class:`~passerelle.errors.EndpointError`;
nothing from httpx escapes. URLs must be ``https``, except ``http`` to a loopback host
(a local issuer or verifier in development and tests).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from passerelle import errors
from passerelle.encoding import json_loads

__all__ = [
    "DEFAULT_TIMEOUT",
    "MAX_RESPONSE_BYTES",
    "Answer",
    "check_url",
    "new_client",
    "request",
]

#: Largest answer read from an issuer or verifier (a credential is a few KB).
MAX_RESPONSE_BYTES = 1024 * 1024
DEFAULT_TIMEOUT = 10.0
_LOOPBACK_NAMES = frozenset({"localhost"})


def new_client() -> httpx.Client:
    """The client the wallet uses when none is injected: timeouts, few redirects."""
    return httpx.Client(timeout=DEFAULT_TIMEOUT, follow_redirects=True, max_redirects=3)


def _is_loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(url: Any, what: str, error: type[errors.PasserelleError]) -> str:
    """``url`` when it is an absolute ``https`` URL (or ``http`` to a loopback host).

    Raises:
        ``error``: anything else.
    """
    if not isinstance(url, str) or not url:
        raise error(f"the {what} is missing or not a string")
    parts = urlsplit(url)
    host = parts.hostname or ""
    if not host:
        raise error(f"the {what} {url!r} is not an absolute URL")
    if parts.scheme == "https" or (parts.scheme == "http" and _is_loopback(host)):
        return url
    raise error(f"the {what} {url!r} must use https")


@dataclass(frozen=True, slots=True)
class Answer:
    """An HTTP answer: status, JSON body (``None`` when the body is not JSON), raw text."""

    status: int
    json: Any
    text: str
    content_type: str

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def oauth_error(self) -> tuple[str, str]:
        """``(error, description)`` of an OAuth error body (or a problem+json one)."""
        body = self.json if isinstance(self.json, dict) else {}
        code = body.get("error") or body.get("code") or f"http_{self.status}"
        description = body.get("error_description") or body.get("detail") or ""
        return str(code), str(description)


def request(
    client: httpx.Client,
    method: str,
    url: str,
    *,
    what: str,
    data: Mapping[str, str] | None = None,
    json: Any = None,
    headers: Mapping[str, str] | None = None,
) -> Answer:
    """Send one request and read the answer (JSON when it parses).

    Raises:
        EndpointError: network failure, timeout, too many redirects, an answer over
            :data:`MAX_RESPONSE_BYTES`.
    """
    try:
        with client.stream(method, url, data=data, json=json, headers=headers) as response:
            body = bytearray()
            for chunk in response.iter_bytes():
                body.extend(chunk)
                if len(body) > MAX_RESPONSE_BYTES:
                    raise errors.EndpointError(f"the {what} answered more than 1 MiB")
            status = response.status_code
            content_type = response.headers.get("content-type", "")
    except httpx.HTTPError as exc:
        raise errors.EndpointError(
            f"the {what} at {url} cannot be reached: {type(exc).__name__}"
        ) from None
    text = body.decode("utf-8", "replace")
    try:
        parsed: Any = json_loads(bytes(body), what) if body else None
    except errors.JsonError:
        parsed = None
    return Answer(status=status, json=parsed, text=text, content_type=content_type)
