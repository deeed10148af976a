"""Fetcher limits against misbehaving servers (httpx.MockTransport; no real network)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from passerelle import errors
from verifier.fetch import Fetcher, FetchPolicy

URL = "https://lists.example/list.jwt"


async def public(host: str) -> list[str]:
    return {"intranet.example": ["10.0.0.5"], "v6.example": ["::1"]}.get(host, ["93.184.215.14"])


def fetch(
    handler: Callable[[httpx.Request], httpx.Response | AsyncIterator[httpx.Response]],
    url: str = URL,
    **policy: object,
) -> str:
    async def run() -> str:
        async def respond(request: httpx.Request) -> httpx.Response:
            result = handler(request)
            if isinstance(result, httpx.Response):
                return result
            return await anext(result)

        transport = httpx.MockTransport(respond)
        async with httpx.AsyncClient(transport=transport) as client:
            fetcher = Fetcher(client, FetchPolicy(**policy), resolver=public)  # type: ignore[arg-type]
            return await fetcher.fetch_text(url)

    return asyncio.run(run())


def refused(handler: Callable[..., object], url: str = URL, **policy: object) -> str:
    with pytest.raises(errors.UpstreamError) as caught:
        fetch(handler, url, **policy)  # type: ignore[arg-type]
    return caught.value.detail


def test_ok() -> None:
    assert fetch(lambda r: httpx.Response(200, text=" token \n")) == "token"


def test_down() -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    assert "ConnectError" in refused(down)
    assert "HTTP 503" in refused(lambda r: httpx.Response(503))


def test_slow_server_times_out() -> None:
    async def slow(request: httpx.Request) -> AsyncIterator[httpx.Response]:
        await asyncio.sleep(5)
        yield httpx.Response(200, text="late")

    assert "within 0.05 s" in refused(slow, timeout=0.05)


def test_trickling_body_times_out() -> None:
    async def trickle() -> AsyncIterator[bytes]:
        while True:
            await asyncio.sleep(0.01)
            yield b"x"

    assert "within 0.1 s" in refused(lambda r: httpx.Response(200, content=trickle()), timeout=0.1)


def test_huge_body_stops_reading_past_the_limit() -> None:
    sent = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal sent
        while True:
            sent += 65536
            yield b"x" * 65536

    assert "over 1000000 bytes" in refused(
        lambda r: httpx.Response(200, content=endless()), max_bytes=1_000_000
    )
    assert sent < 1_300_000  # stopped after the chunk that passed the limit
    declared = refused(
        lambda r: httpx.Response(200, headers={"content-length": "10000000000"}, content=b""),
        max_bytes=1000,
    )
    assert "10000000000 bytes" in declared


def test_garbage_is_text_or_refused() -> None:
    assert "not UTF-8" in refused(lambda r: httpx.Response(200, content=b"\xff\xfe\x00"))
    compressed = httpx.Response(200, headers={"content-encoding": "gzip"}, content=b"x")
    assert "compressed" in refused(lambda r: compressed)


def test_redirects() -> None:
    loop = refused(lambda r: httpx.Response(302, headers={"location": URL}))
    assert "redirect loop" in loop
    hops = iter(range(100))
    many = refused(
        lambda r: httpx.Response(302, headers={"location": f"{URL}?{next(hops)}"}), max_redirects=3
    )
    assert "more than 3 redirects" in many

    def once(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/list.jwt":
            return httpx.Response(301, headers={"location": "/moved.jwt"})
        return httpx.Response(200, text="moved")

    assert fetch(once) == "moved"


@pytest.mark.parametrize(
    "target",
    [
        "https://127.0.0.1/x",
        "https://[::1]/x",
        "https://169.254.169.254/latest/meta-data",
        "https://10.1.2.3/x",
        "https://intranet.example/x",
        "https://v6.example/x",
        "http://lists.example/x",
        "file:///etc/passwd",
    ],
)
def test_redirect_to_private_or_plain_http_is_refused(target: str) -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(str(request.url))
        return httpx.Response(302, headers={"location": target})

    detail = refused(handler)
    assert "not a public address" in detail or "only https" in detail
    assert calls == [URL]  # the private target was never contacted
    assert refused(handler, url=target)  # nor fetched directly


def test_allow_http_hosts_for_local_testing() -> None:
    assert (
        fetch(
            lambda r: httpx.Response(200, text="ok"),
            "http://127.0.0.1:8080/list.jwt",
            allow_http_hosts=frozenset({"127.0.0.1"}),
        )
        == "ok"
    )
