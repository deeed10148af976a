"""Fetching trust lists and Status List Tokens over HTTP, with limits.

Every fetch of the service goes through :class:`Fetcher`:

* ``https`` only; plain ``http`` only for the hosts in ``allow_http_hosts`` (local tests);
* every hop (the first URL and each redirect target) must resolve to public addresses only:
  loopback, private, link-local, multicast and reserved addresses are refused, unless the
  host is in ``allow_http_hosts`` (the URL of a status list comes from a credential, so this
  is what stops a credential from making the verifier probe its own network);
* at most ``max_redirects`` redirects, a loop is reported as such;
* no content coding (``Accept-Encoding: identity``, so that the limit is on real bytes);
* a deadline for the whole fetch (``timeout``: connect, each read, and a server trickling
  bytes all count), and a body limit: the body is read in chunks and reading stops as soon
  as it passes ``max_bytes`` (a ``Content-Length`` over the limit is refused before reading).

Every failure becomes :class:`passerelle.errors.UpstreamError` with a detail naming the URL
and the reason. The addresses are checked before httpx connects, and httpx resolves the
name again: a DNS server that answers differently the second time (DNS rebinding) is not
stopped here; deployments that must be proof against it fetch through an egress proxy.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import httpx

from passerelle import errors

__all__ = ["FetchPolicy", "Fetcher", "Resolver", "system_resolver"]

Resolver = Callable[[str], Awaitable[list[str]]]
"""Host name -> its IP addresses (as text)."""

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_CHUNK = 64 * 1024


async def system_resolver(host: str) -> list[str]:
    """The addresses the system resolver gives for ``host`` (port 443, TCP)."""
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, 443, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    return [str(info[4][0]) for info in infos]


@dataclass(frozen=True, slots=True)
class FetchPolicy:
    """The limits of every fetch (see the module docstring)."""

    timeout: float = 5.0
    max_bytes: int = 4 * 1024 * 1024
    max_redirects: int = 3
    allow_http_hosts: frozenset[str] = field(default_factory=frozenset)


def _public(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


class Fetcher:
    """GETs small documents under a :class:`FetchPolicy` (one per app, shares the client)."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        policy: FetchPolicy,
        *,
        resolver: Resolver = system_resolver,
    ) -> None:
        self.client = client
        self.policy = policy
        self.resolver = resolver

    async def fetch_text(self, url: str, *, accept: str = "*/*") -> str:
        """The body of ``url`` as text (UTF-8, surrounding whitespace stripped).

        Raises:
            UpstreamError: refused URL or address, timeout, network error, HTTP status other
                than 200, too many redirects or a loop, body over the limit, not UTF-8.
        """
        try:
            async with asyncio.timeout(self.policy.timeout):
                body = await self._fetch(url, accept)
        except TimeoutError as exc:
            raise errors.UpstreamError(
                f"{url}: no complete answer within {self.policy.timeout:g} s"
            ) from exc
        except httpx.HTTPError as exc:
            raise errors.UpstreamError(f"{url}: {type(exc).__name__}") from exc
        try:
            return body.decode("utf-8").strip()
        except UnicodeDecodeError as exc:
            raise errors.UpstreamError(f"{url}: the body is not UTF-8 text") from exc

    async def _fetch(self, url: str, accept: str) -> bytes:
        seen = {url}
        current = url
        for _ in range(self.policy.max_redirects + 1):
            await self._check_url(current)
            request = self.client.build_request(
                "GET", current, headers={"Accept": accept, "Accept-Encoding": "identity"}
            )
            response = await self.client.send(request, stream=True)
            try:
                if response.status_code in _REDIRECTS:
                    location = response.headers.get("location")
                    if not location:
                        raise errors.UpstreamError(f"{url}: redirect without a Location")
                    current = urljoin(current, location)
                    if current in seen:
                        raise errors.UpstreamError(f"{url}: redirect loop")
                    seen.add(current)
                    continue
                if response.status_code != 200:
                    raise errors.UpstreamError(f"{url}: HTTP {response.status_code}")
                return await self._read(url, response)
            finally:
                await response.aclose()
        raise errors.UpstreamError(f"{url}: more than {self.policy.max_redirects} redirects")

    async def _read(self, url: str, response: httpx.Response) -> bytes:
        limit = self.policy.max_bytes
        if response.headers.get("content-encoding", "identity").lower() != "identity":
            # asked for identity: a compressed body could inflate far past the limit
            raise errors.UpstreamError(f"{url}: compressed body refused")
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise errors.UpstreamError(f"{url}: body of {declared} bytes, over {limit}")
        body = bytearray()
        async for chunk in response.aiter_bytes(_CHUNK):
            body.extend(chunk)
            if len(body) > limit:
                raise errors.UpstreamError(f"{url}: body over {limit} bytes")
        return bytes(body)

    async def _check_url(self, url: str) -> None:
        try:
            parts = urlsplit(url)
            host = parts.hostname
            parts.port  # noqa: B018 - raises ValueError on a bad port
        except ValueError as exc:
            raise errors.UpstreamError(f"{url}: not a valid URL") from exc
        allowed = host is not None and host in self.policy.allow_http_hosts
        if parts.scheme != "https" and not (parts.scheme == "http" and allowed):
            raise errors.UpstreamError(f"{url}: only https URLs are fetched")
        if not host:
            raise errors.UpstreamError(f"{url}: not an absolute URL")
        if parts.username is not None or parts.password is not None:
            raise errors.UpstreamError(f"{url}: credentials in URLs are refused")
        if allowed:
            return
        try:
            addresses = [str(ipaddress.ip_address(host))]
        except ValueError:
            try:
                addresses = await self.resolver(host)
            except (OSError, UnicodeError) as exc:
                raise errors.UpstreamError(f"{url}: cannot resolve {host}") from exc
        if not addresses or not all(_public(a) for a in addresses):
            raise errors.UpstreamError(f"{url}: {host} is not a public address (refused)")
