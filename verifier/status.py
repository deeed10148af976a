"""Status List Tokens for the verifier: a cache the core reads, and the fetcher that fills it.

:class:`StatusCache` is a :class:`passerelle.verification.StatusLists`: the core's
``Verifier`` asks it for the token of a ``uri`` and verifies that token itself, with the
credential issuer's key, on every use. Tokens are stored unverified (a token that does not
verify is simply never used) and kept until evicted (least recently used first), so that an
old copy still within its ``exp`` can serve when a refresh fails.

:class:`StatusFetcher` fetches tokens through :class:`verifier.fetch.Fetcher`:

* a cached token is *fresh* for its ``ttl`` (capped by ``max_ttl``, ``default_ttl`` when it
  has none) and never beyond its ``exp``; a stale token is re-fetched;
* concurrent requests for the same ``uri`` share one fetch (one in-flight task per uri);
* after a failure the uri is not fetched again for ``retry_interval`` seconds (a dead
  server is not hammered by every verification), and the reason is kept for the result.

Privacy: a status list is fetched by its URI, the same for the thousands of credentials it
covers; nothing about the credential being verified is sent.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime

from passerelle import errors, jose
from passerelle.statuslist import STATUS_LIST_MEDIA_TYPE, STATUS_LIST_TYP
from passerelle.verification import StatusLists
from verifier.fetch import Fetcher
from verifier.trust import Clock

__all__ = ["CachedStatus", "StatusCache", "StatusFetcher"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CachedStatus:
    token: str
    fetched_at: int
    fresh_until: int
    iat: int | None
    exp: int | None


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class StatusCache(StatusLists):
    """Status List Tokens by uri, least recently used evicted beyond ``max_entries``."""

    def __init__(self, *, max_entries: int = 1024) -> None:
        super().__init__()
        self.max_entries = max_entries
        self._entries: OrderedDict[str, CachedStatus] = OrderedDict()

    def put(self, uri: str, entry: CachedStatus) -> None:
        self._entries[uri] = entry
        self._entries.move_to_end(uri)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def entry(self, uri: str) -> CachedStatus | None:
        found = self._entries.get(uri)
        if found is not None:
            self._entries.move_to_end(uri)
        return found

    def get(self, uri: str) -> str | None:
        found = self._entries.get(uri)
        return found.token if found is not None else None

    def entries(self) -> dict[str, CachedStatus]:
        return dict(self._entries)

    def __len__(self) -> int:
        return len(self._entries)


class StatusFetcher:
    """Keeps :class:`StatusCache` filled (see the module docstring)."""

    def __init__(
        self,
        fetcher: Fetcher,
        cache: StatusCache,
        *,
        clock: Clock,
        default_ttl: int = 300,
        max_ttl: int = 3600,
        retry_interval: int = 30,
    ) -> None:
        self.fetcher = fetcher
        self.cache = cache
        self.clock = clock
        self.default_ttl = default_ttl
        self.max_ttl = max_ttl
        self.retry_interval = retry_interval
        self.failures: dict[str, tuple[int, str]] = {}
        self.fetches = 0
        self._inflight: dict[str, asyncio.Task[None]] = {}

    def _now(self) -> int:
        return int(self.clock().timestamp())

    def fresh(self, uri: str) -> bool:
        entry = self.cache.entry(uri)
        return entry is not None and self._now() < entry.fresh_until

    def failure(self, uri: str) -> str | None:
        """Why the last fetch of ``uri`` failed, if it did (cleared by a success)."""
        found = self.failures.get(uri)
        return found[1] if found else None

    async def ensure(self, uri: str) -> None:
        """Make a fresh token for ``uri`` available if at all possible; never raises.

        Joins the fetch in flight for ``uri`` if there is one.
        """
        if self.fresh(uri):
            return
        failed = self.failures.get(uri)
        if failed is not None and self._now() - failed[0] < self.retry_interval:
            return
        task = self._inflight.get(uri)
        if task is None:
            task = asyncio.get_running_loop().create_task(self._fetch(uri))
            self._inflight[uri] = task
            task.add_done_callback(lambda _: self._inflight.pop(uri, None))
        # shielded: a client that goes away must not cancel the fetch others wait for
        await asyncio.shield(task)

    async def _fetch(self, uri: str) -> None:
        self.fetches += 1
        try:
            text = await self.fetcher.fetch_text(uri, accept=STATUS_LIST_MEDIA_TYPE)
            entry = self._entry(uri, text)
        except errors.PasserelleError as exc:
            reason = f"{exc.code}: {exc.detail}"
            self.failures[uri] = (self._now(), reason)
            log.warning("status list %s not fetched: %s", uri, reason)
            return
        self.failures.pop(uri, None)
        self.cache.put(uri, entry)

    def _entry(self, uri: str, text: str) -> CachedStatus:
        """Read the caching claims (unverified: the core verifies the token on use)."""
        jws = jose.parse_compact(text)
        if jws.header.get("typ") != STATUS_LIST_TYP:
            raise errors.StatusListError(f"not a {STATUS_LIST_TYP}")
        if jws.payload.get("sub") != uri:
            raise errors.StatusListMismatchError("the token's 'sub' is not the URI fetched")
        now = self._now()
        ttl = _int(jws.payload.get("ttl")) or self.default_ttl
        exp = _int(jws.payload.get("exp"))
        fresh_until = now + max(1, min(ttl, self.max_ttl))
        if exp is not None:
            fresh_until = min(fresh_until, exp)
        return CachedStatus(text, now, fresh_until, _int(jws.payload.get("iat")), exp)

    def report(self) -> list[dict[str, object]]:
        """The cached lists (uri, fetched_at, fresh) and the failures, for ``/api/v1/trust``."""
        now = self._now()
        out: list[dict[str, object]] = []
        for uri, entry in self.cache.entries().items():
            out.append(
                {
                    "uri": uri,
                    "fetched_at": _rfc3339(entry.fetched_at),
                    "fresh": now < entry.fresh_until,
                    "last_error": self.failure(uri),
                }
            )
        for uri, (_, reason) in self.failures.items():
            if self.cache.entry(uri) is None:
                out.append({"uri": uri, "fetched_at": None, "fresh": False, "last_error": reason})
        return out


def _rfc3339(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
