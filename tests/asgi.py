"""Drive an app of a running ``TestClient`` at the ASGI level, for what HTTP clients cannot
do on purpose (leave in the middle of a body)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient


def leave_mid_body(
    client: TestClient, path: str, content_type: str, *, host: str = "testserver"
) -> list[dict[str, Any]]:
    """POST the start of a body to ``path``, then disconnect; the messages the app sent.

    Raises whatever the app lets escape (a test fails on it: uvicorn would have logged a
    traceback and tried to answer 500).
    """
    messages: list[dict[str, Any]] = [
        {"type": "http.request", "body": b'{"token": "ey', "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "client": ("127.0.0.1", 50000), "server": (host, 80), "state": {},
        "headers": [(b"host", host.encode()), (b"content-type", content_type.encode())],
    }  # fmt: skip
    assert client.portal is not None, "use the client inside its 'with' block"
    client.portal.call(client.app, scope, receive, send)
    return sent
