"""The verifier's trust: anchors, trust-list sources, the cached verified lists.

:class:`TrustManager` owns a :class:`passerelle.trustlist.TrustStore` built from the last
good version of every configured list:

* a source is a file path, an ``https`` URL, or a token handed in (an offline bundle);
* a fetched list replaces the cached one only when it verifies against the current anchors;
  when a fetch or a verification fails, the last good list stays in use and the failure is
  reported (``GET /api/v1/trust``) with the age of what is used;
* a list is re-fetched every ``refresh_interval`` seconds and ``refresh_margin`` seconds
  before its ``exp``, failed fetches are retried every ``retry_interval`` seconds; a list
  that expires all the same stays in the store so that the core answers
  ``trust_list_expired`` (not ``issuer_untrusted``) for its issuers;
* anchors are the configured JWK files, plus those added and minus those removed through
  the admin API. With an ``anchor_store`` file the changes are written there and every
  worker process picks them up within :data:`ANCHOR_POLL_SECONDS`; without it they live in
  the memory of the one process that received them.

Removing an anchor drops its lists at once; adding one re-verifies the lists fetched
earlier, so a list waiting for its anchor is used without a new fetch.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from passerelle import errors, jose
from passerelle.keys import PublicKey, public_key_from_jwk
from passerelle.trustlist import TrustList, TrustStore, verify_trust_list
from verifier.fetch import Fetcher

__all__ = ["ANCHOR_POLL_SECONDS", "AnchorStore", "Clock", "TrustManager", "TrustSource"]

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
#: How often the background task looks for due refreshes and anchor changes (seconds).
ANCHOR_POLL_SECONDS = 5.0
TRUST_LIST_MEDIA_TYPES = "application/trustlist+jwt, application/jwt;q=0.9, */*;q=0.1"


def _rfc3339(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def read_anchor_file(path: Path) -> PublicKey:
    """A trust anchor's public JWK from a file.

    Raises:
        InvalidInputError: unreadable or not JSON. KeyError_: not a usable public key.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise errors.InvalidInputError(f"cannot read trust anchor {path}") from exc
    return public_key_from_jwk(data)


class AnchorStore:
    """Anchors added and removed at run time: ``{"added": [jwk...], "removed": [kid...]}``.

    ``path`` None keeps them in memory only. Writes are atomic (temporary file + rename),
    so another process never reads half a file.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.added: dict[str, PublicKey] = {}
        self.removed: set[str] = set()
        self._mtime: int | None = None

    def reload_if_changed(self) -> bool:
        """Re-read the file when it changed since the last read; True when it did."""
        if self.path is None:
            return False
        try:
            mtime = self.path.stat().st_mtime_ns
        except FileNotFoundError:
            mtime = None
        if mtime == self._mtime:
            return False
        self._mtime = mtime
        added: dict[str, PublicKey] = {}
        removed: set[str] = set()
        if mtime is not None:
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
                for jwk in data.get("added", []):
                    key = public_key_from_jwk(jwk)
                    added[key.kid] = key
                removed = {str(kid) for kid in data.get("removed", [])}
            except (OSError, ValueError, AttributeError, errors.PasserelleError) as exc:
                log.error(
                    "anchor store %s unreadable (%s): keeping the anchors in use", self.path, exc
                )
                return False
        self.added, self.removed = added, removed
        return True

    def save(self) -> None:
        if self.path is None:
            return
        document = {
            "added": [key.to_jwk(with_kid=True) for key in self.added.values()],
            "removed": sorted(self.removed),
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".anchors-")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(document, out, indent=2)
            os.replace(temporary, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
        self._mtime = self.path.stat().st_mtime_ns


@dataclass(slots=True)
class TrustSource:
    """One configured list and what is known of it."""

    source: str
    inline: str | None = None  # a token handed in (offline bundle), never fetched
    latest_token: str | None = None  # last token obtained, verified or not
    good: TrustList | None = None  # last list that verified against the anchors
    fetched_at: datetime | None = None  # when ``good`` was obtained
    last_attempt: datetime | None = None
    last_error: str | None = None

    @property
    def is_url(self) -> bool:
        return self.source.startswith(("https://", "http://"))

    def label(self) -> str:
        return self.source


class TrustManager:
    """Keeps a :class:`TrustStore` current; see the module docstring."""

    def __init__(
        self,
        *,
        anchors: Sequence[PublicKey],
        sources: Sequence[str] = (),
        inline_lists: Sequence[str] = (),
        fetcher: Fetcher | None,
        clock: Clock,
        anchor_store: AnchorStore | None = None,
        refresh_interval: int = 3600,
        refresh_margin: int = 6 * 3600,
        retry_interval: int = 60,
    ) -> None:
        self.configured = {key.kid: key for key in anchors}
        self.anchor_store = anchor_store or AnchorStore(None)
        self.sources = [TrustSource(s) for s in sources]
        self.sources += [TrustSource(f"bundle#{i}", inline=t) for i, t in enumerate(inline_lists)]
        self.fetcher = fetcher
        self.clock = clock
        self.refresh_interval = timedelta(seconds=refresh_interval)
        self.refresh_margin = timedelta(seconds=refresh_margin)
        self.retry_interval = timedelta(seconds=retry_interval)
        self.store = TrustStore()
        self.trusted_issuers: frozenset[str] = frozenset()
        self.store_error: str | None = None
        self._lock = asyncio.Lock()

    # -- anchors ----------------------------------------------------------------------------
    def anchors(self) -> list[PublicKey]:
        """The anchors in force: configured + added - removed."""
        keys = dict(self.configured)
        keys.update(self.anchor_store.added)
        return [key for kid, key in keys.items() if kid not in self.anchor_store.removed]

    def add_anchor(self, jwk: Any) -> PublicKey:
        """Trust one more anchor (a public JWK) and re-verify the cached lists.

        Raises:
            KeyError_: not a usable public key.
        """
        key = public_key_from_jwk(jwk)
        self.anchor_store.reload_if_changed()
        self.anchor_store.removed.discard(key.kid)
        if key.kid not in self.configured:
            self.anchor_store.added[key.kid] = key
        self.anchor_store.save()
        self.rebuild()
        return key

    def remove_anchor(self, kid: str) -> None:
        """Stop trusting the anchor ``kid``; its lists are dropped at once.

        Raises:
            NotFoundError: no anchor ``kid`` is in force.
        """
        self.anchor_store.reload_if_changed()
        if kid not in {key.kid for key in self.anchors()}:
            raise errors.NotFoundError(f"no trust anchor {kid}")
        self.anchor_store.added.pop(kid, None)
        if kid in self.configured:
            self.anchor_store.removed.add(kid)
        self.anchor_store.save()
        self.rebuild()

    # -- lists ------------------------------------------------------------------------------
    def _verified(self, token: str | None, anchors: list[PublicKey]) -> TrustList | None:
        """``token`` verified against ``anchors`` ignoring expiry (the store reports it)."""
        if token is None:
            return None
        try:
            # verify as of the list's own iat: signature, anchor and format are checked,
            # expiry is left to TrustStore.resolve, which names it precisely
            issued = jose.parse_compact(token).payload.get("iat")
            at = issued if isinstance(issued, int) and not isinstance(issued, bool) else 0
            return verify_trust_list(token, anchors, now=at)
        except errors.PasserelleError:
            return None

    def rebuild(self) -> None:
        """Re-verify every source's tokens against the anchors in force; rebuild the store."""
        anchors = self.anchors()
        lists: list[TrustList] = []
        for source in self.sources:
            latest = self._verified(source.latest_token, anchors)
            if latest is not None and (source.good is None or latest.token != source.good.token):
                source.good, source.fetched_at = latest, source.last_attempt or self.clock()
            elif latest is None and source.good is not None:
                source.good = self._verified(source.good.token, anchors)
            if source.good is not None:
                lists.append(source.good)
        try:
            store = TrustStore.from_lists(lists)
        except errors.TrustConflictError as exc:
            self.store_error = exc.detail
            log.error("trust lists conflict, keeping the previous store: %s", exc.detail)
            return
        self.store, self.store_error = store, None
        self.trusted_issuers = frozenset(record.id for record in store.issuers())

    async def _obtain(self, source: TrustSource) -> str:
        if source.inline is not None:
            return source.inline.strip()
        if source.is_url:
            if self.fetcher is None:
                raise errors.UpstreamError(f"{source.source}: offline, not fetched")
            return await self.fetcher.fetch_text(source.source, accept=TRUST_LIST_MEDIA_TYPES)
        try:
            return (
                await asyncio.to_thread(Path(source.source).read_text, encoding="utf-8")
            ).strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise errors.UpstreamError(f"{source.source}: cannot read the file") from exc

    async def _refresh_one(self, source: TrustSource) -> None:
        now = self.clock()
        source.last_attempt = now
        try:
            token = await self._obtain(source)
        except errors.PasserelleError as exc:
            self._failed(source, exc)
            return
        try:
            checked = verify_trust_list(token, self.anchors(), now=now)
        except errors.PasserelleError as exc:
            source.latest_token = token  # kept: an anchor added later may make it good
            self._failed(source, exc)
            return
        if source.good is not None and checked.iat < source.good.iat:
            source.last_error = "trust_list_invalid: older than the list in use (kept)"
            return
        source.latest_token, source.good, source.last_error = token, checked, None
        source.fetched_at = now

    @staticmethod
    def _failed(source: TrustSource, exc: errors.PasserelleError) -> None:
        source.last_error = f"{exc.code}: {exc.detail}"
        log.warning("trust list %s not refreshed: %s", source.label(), source.last_error)

    def due(self, source: TrustSource, now: datetime) -> bool:
        """Whether ``source`` should be fetched at ``now``."""
        if source.inline is not None and source.latest_token is not None:
            return False
        if source.last_attempt is None:
            return True
        if source.last_error is not None or source.good is None:
            return now - source.last_attempt >= self.retry_interval
        assert source.fetched_at is not None
        return (
            now - source.fetched_at >= self.refresh_interval
            or source.good.exp - now <= self.refresh_margin
        )

    async def refresh(self, *, force: bool = False) -> None:
        """Fetch the sources that are due (all with ``force``), in parallel; rebuild."""
        async with self._lock:
            changed = self.anchor_store.reload_if_changed()
            now = self.clock()
            todo = [s for s in self.sources if force or self.due(s, now)]
            if todo:
                await asyncio.gather(*(self._refresh_one(s) for s in todo))
            if todo or changed or force:
                self.rebuild()

    async def run(self, poll: float = ANCHOR_POLL_SECONDS) -> None:
        """The background task: refresh what is due, pick up anchor changes, forever."""
        while True:
            await asyncio.sleep(poll)
            try:
                await self.refresh()
            except Exception:  # the loop must survive anything; the cause is logged
                log.exception("trust refresh failed")

    # -- report -----------------------------------------------------------------------------
    def report(self) -> dict[str, Any]:
        """What ``GET /api/v1/trust`` shows: anchors, lists, ages, last errors."""
        now = self.clock()
        anchors = [
            {
                "kid": key.kid,
                "alg": key.alg,
                "jwk": key.to_jwk(),
                "origin": "configured" if key.kid in self.configured else "admin",
            }
            for key in self.anchors()
        ]
        lists = []
        for source in self.sources:
            good = source.good
            entry: dict[str, Any] = {
                "source": source.label(),
                "in_use": good is not None,
                "anchor": good.iss if good else None,
                "anchor_kid": good.kid if good else None,
                "jurisdiction": good.jurisdiction if good else None,
                "issued_at": _rfc3339(good.iat) if good else None,
                "expires_at": _rfc3339(good.exp) if good else None,
                "expired": bool(good and good.expired_at(now)),
                "issuers": sorted(good.issuers) if good else [],
                "fetched_at": _rfc3339(source.fetched_at),
                "age_seconds": (
                    int((now - source.fetched_at).total_seconds()) if source.fetched_at else None
                ),
                "last_attempt": _rfc3339(source.last_attempt),
                "last_error": source.last_error,
            }
            lists.append(entry)
        return {
            "anchors": anchors,
            "lists": lists,
            "issuers": len(self.trusted_issuers),
            "error": self.store_error,
            "checked_at": _rfc3339(now),
        }
