"""Reading a trust list or status list token from a file or an URL (the CLI's edge).

The core never touches the network; the CLI fetches with httpx: a 10 s timeout, at most
3 redirects, a 4 MiB body limit, and ``https`` only (``http`` is allowed for localhost, for
pilots and tests).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import httpx

from passerelle import errors

MAX_BODY = 4 * 1024 * 1024
TIMEOUT = httpx.Timeout(10.0)
_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}


def _allowed(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in _LOCAL_HOSTS)


def fetch_text(url: str, *, client: httpx.Client | None = None) -> str:
    """GET ``url`` and return its body as text.

    Raises:
        InvalidInputError: not https, a network failure, a non-200 answer or a body over
            the size limit.
    """
    if not _allowed(url):
        raise errors.InvalidInputError(f"{url}: only https URLs are fetched")
    own = client is None
    session = client or httpx.Client(timeout=TIMEOUT, follow_redirects=True, max_redirects=3)
    try:
        with session.stream("GET", url) as response:
            if not _allowed(str(response.url)):
                raise errors.InvalidInputError(f"{url}: redirected away from https")
            if response.status_code != 200:
                raise errors.InvalidInputError(f"{url}: HTTP {response.status_code}")
            body = bytearray()
            for chunk in response.iter_bytes():
                body.extend(chunk)
                if len(body) > MAX_BODY:
                    raise errors.InvalidInputError(f"{url}: body larger than {MAX_BODY} bytes")
    except httpx.HTTPError as exc:
        raise errors.InvalidInputError(f"{url}: {type(exc).__name__}: {exc}") from exc
    finally:
        if own:
            session.close()
    try:
        return body.decode("utf-8").strip()
    except UnicodeDecodeError as exc:
        raise errors.InvalidInputError(f"{url}: body is not UTF-8 text") from exc


def load_text_source(source: str, *, offline: bool) -> str:
    """The text of a file path or (unless ``offline``) an http(s) URL."""
    if source.startswith(("https://", "http://")):
        if offline:
            raise errors.InvalidInputError(f"{source}: an URL cannot be fetched with --offline")
        return fetch_text(source)
    path = Path(source)
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise errors.InvalidInputError(f"cannot read {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise errors.InvalidInputError(f"{path} is not UTF-8 text") from exc
