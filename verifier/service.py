"""The verifier's use cases: verify a credential, manage presentation requests.

Routes parse and serialise; this module orchestrates the core (:mod:`passerelle`) with the
trust manager, the status fetcher and the request store. It never logs claim values: a log
line names the issuer, the type, the outcome and the failing check codes, nothing a
credential discloses about its holder.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from passerelle import errors, jose, qr, sdjwt
from passerelle.credtypes import TypeRegistry
from passerelle.verification import CHECK_NAMES, Check, StatusLists, VerificationResult, Verifier
from verifier.presentation import PresentationRequest, RequestStore, dcql_query
from verifier.status import StatusFetcher
from verifier.trust import Clock, TrustManager

__all__ = ["PresentationService", "VerificationService"]

log = logging.getLogger(__name__)

#: Moments a verification may be asked about (RFC 3339 years 1970..9999).
_LATEST = datetime(9999, 12, 31, tzinfo=UTC)
_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)


#: What :meth:`VerificationService._run` takes: token, moment, nonce, audience, lang.
_Arguments = tuple[str, datetime, str | None, str | None, str]


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@functools.lru_cache(maxsize=256)
def _epoch_rfc3339(epoch: float) -> str:
    """``_rfc3339`` of a POSIX time (a cached list's fetch time, the same for many requests)."""
    return _rfc3339(datetime.fromtimestamp(epoch, UTC))


def _status_uri(token: str) -> str | None:
    """The status list URI the credential *claims* (unverified; None when there is none)."""
    try:
        parsed = sdjwt.parse(qr.normalise(token))
        payload = jose.parse_compact(parsed.issuer_jwt).payload
    except errors.PasserelleError:
        return None
    status = payload.get("status")
    reference = status.get("status_list") if isinstance(status, dict) else None
    uri = reference.get("uri") if isinstance(reference, dict) else None
    return uri if isinstance(uri, str) else None


class VerificationService:
    """Verifies tokens with the current trust store and status lists."""

    def __init__(
        self,
        *,
        trust: TrustManager,
        status_lists: StatusLists,
        status_fetcher: StatusFetcher | None,
        registry: TypeRegistry,
        clock: Clock,
        offline: bool = False,
        bundle_created_at: datetime | None = None,
    ) -> None:
        self.trust = trust
        self.status_lists = status_lists
        self.status_fetcher = status_fetcher
        self.registry = registry
        self.clock = clock
        self.offline = offline
        self.bundle_created_at = bundle_created_at
        self._core: Verifier | None = None
        self._batch: list[tuple[asyncio.Future[VerificationResult], _Arguments]] = []

    def _verifier(self) -> Verifier:
        """The core verifier of the current trust store, reused while that store lasts:
        it keeps the status lists it has verified and decoded (a new one per request
        re-verified and re-decoded the list every time)."""
        store = self.trust.store
        if self._core is None or self._core.trust is not store:
            self._core = Verifier(
                trust=store,
                status_lists=self.status_lists,
                registry=self.registry,
                offline=self.offline,
            )
        return self._core

    @staticmethod
    def _moment(at: datetime | None, default: datetime) -> datetime:
        if at is None:
            return default
        try:
            moment = at.astimezone(UTC)
        except (OverflowError, ValueError) as exc:
            raise errors.RequestInvalidError("'at' is out of range") from exc
        if not _EARLIEST <= moment <= _LATEST:
            raise errors.RequestInvalidError("'at' must be between 1970 and 9999")
        return moment

    def _run(
        self, token: str, moment: datetime, nonce: str | None, audience: str | None, lang: str
    ) -> VerificationResult:
        try:
            return self._verifier().verify(
                token, now=moment, nonce=nonce, audience=audience, lang=lang
            )
        except errors.PasserelleError:
            raise
        except Exception as exc:  # defence in depth: the core should have mapped it
            log.error("core verification raised %s; reported as malformed", type(exc).__name__)
            checks = [Check(name) for name in CHECK_NAMES]
            checks[0].failed(errors.TokenFormatError("the token could not be processed"))
            return VerificationResult(checks=checks, verified_at=moment)

    async def verify(
        self,
        token: str,
        *,
        nonce: str | None = None,
        audience: str | None = None,
        at: datetime | None = None,
        lang: str = "en",
    ) -> VerificationResult:
        """Verify ``token`` (see :meth:`passerelle.verification.Verifier.verify`).

        The status list is fetched only for a credential whose signature by a trusted
        issuer has verified, so that a forged token cannot make the service fetch URLs of
        its choosing; a fresh cached list costs no fetch at all.

        Raises:
            RequestInvalidError: ``at`` out of range.
        """
        moment = self._moment(at, self.clock())
        result = await self._run_together(token, moment, nonce, audience, lang)
        uri: str | None = None
        fresh = False
        fetcher = self.status_fetcher
        if fetcher is not None and result.check("signature").ok:
            uri = (result.status_info or {}).get("uri") or _status_uri(token)
            if uri is not None:
                fresh = fetcher.fresh(uri)
                if not fresh:
                    await fetcher.ensure(uri)
                    fresh = fetcher.fresh(uri)
                    result = self._run(token, moment, nonce, audience, lang)
        self._annotate(result, uri, fresh)
        if log.isEnabledFor(logging.INFO):  # not even the arguments otherwise
            log.info(
                "verified issuer=%s vct=%s valid=%s status=%s failed=%s",
                (result.issuer or {}).get("id"),
                (result.credential or {}).get("vct"),
                result.valid,
                result.status,
                ",".join(c.code for c in result.failures) or "-",
            )
        return result

    async def _run_together(
        self, token: str, moment: datetime, nonce: str | None, audience: str | None, lang: str
    ) -> VerificationResult:
        """:meth:`_run`, for the requests of one turn of the event loop together.

        Under load a worker reads several requests at once (1 to 18 per turn, measured).
        Run one by one, each request's core verification followed its framework code (HTTP
        parsing, routing, encoding), which pushed the core's code and data out of the
        processor's caches: the same core cost 1.2 x its tight-loop figure inside the app.
        Queued and run back to back at the end of the turn, the cores of a batch find their
        caches warm (server CPU per verify 6 to 17 % lower, bench/README.md). A lone request
        waits for nothing but one hop through the event loop.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[VerificationResult] = loop.create_future()
        if not self._batch:
            loop.call_soon(self._run_batch)
        self._batch.append((future, (token, moment, nonce, audience, lang)))
        return await future

    def _run_batch(self) -> None:
        batch, self._batch = self._batch, []
        for future, arguments in batch:
            if future.cancelled():  # its client went away: nobody waits for the answer
                continue
            try:
                future.set_result(self._run(*arguments))
            except Exception as exc:  # to its own caller; the rest of the batch still runs
                future.set_exception(exc)

    async def verify_many(
        self, tokens: Sequence[str], *, at: datetime | None = None, lang: str = "en"
    ) -> list[VerificationResult]:
        """Verify each of ``tokens`` (as :meth:`verify` does, without key binding request)
        as of one moment, ``at`` or now, so that a report's rows agree.

        Control returns to the event loop between tokens: a bulk request of a thousand
        tokens does not hold up the other requests of its worker for its whole duration.

        Raises:
            RequestInvalidError: ``at`` out of range.
        """
        moment = self._moment(at, self.clock())
        results: list[VerificationResult] = []
        for token in tokens:
            results.append(await self.verify(token, at=moment, lang=lang))
            await asyncio.sleep(0)
        return results

    async def verify_image(self, image: bytes, **options: Any) -> VerificationResult:
        """Decode the QR code in a PNG/JPEG image, then :meth:`verify` its text.

        Raises:
            QrError, QrNotFoundError, QrMultipleError: no single readable QR code.
        """
        text = await asyncio.to_thread(qr.decode_image, image)
        return await self.verify(text, **options)

    def _annotate(self, result: VerificationResult, uri: str | None, fresh: bool) -> None:
        """Say where the status information came from (``fresh``: whether the cached list
        of ``uri`` was fresh when used) and why it is missing, if it is."""
        if self.offline:
            if result.status_info is not None:
                result.status_info["source"] = "bundle"
                if self.bundle_created_at is not None:
                    result.status_info["bundle_created_at"] = _rfc3339(self.bundle_created_at)
            return
        fetcher = self.status_fetcher
        if fetcher is None or uri is None:
            return
        entry = fetcher.cache.entry(uri)
        reason = fetcher.failure(uri)
        if result.status_info is not None and entry is not None:
            result.status_info.update(
                {
                    "source": "cache",
                    "fetched_at": _epoch_rfc3339(entry.fetched_at),
                    "fresh": fresh,
                    "refresh_error": reason,
                }
            )
        check = result.check("credential_status")
        if check.ok is False and check.code == errors.StatusUnavailableError.code:
            check.detail = f"the status list {uri} cannot be had ({reason or 'not fetched'})"
        elif check.ok is False and reason and check.code == errors.StatusListExpiredError.code:
            check.detail = f"{check.detail}; refreshing it failed ({reason})"

    def trust_report(self) -> dict[str, Any]:
        report = self.trust.report()
        report["status_lists"] = self.status_fetcher.report() if self.status_fetcher else []
        report["offline"] = self.offline
        return report


def _has_path(claims: Any, path: list[Any]) -> bool:
    if not path:
        return True
    head, rest = path[0], path[1:]
    if head is None:
        return isinstance(claims, list) and any(_has_path(item, rest) for item in claims)
    if isinstance(head, int):
        return isinstance(claims, list) and head < len(claims) and _has_path(claims[head], rest)
    return isinstance(claims, dict) and head in claims and _has_path(claims[head], rest)


def _presentation(vp_token: str) -> str:
    """The SD-JWT presentation in a ``vp_token``: as is, or OpenID4VP 1.0's JSON object
    ``{"q": ["<presentation>"]}`` (one presentation for our one query)."""
    text = vp_token.strip()
    if not text.startswith("{"):
        return text
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise errors.RequestInvalidError("vp_token is neither a presentation nor JSON") from exc
    value = document.get("q") if isinstance(document, dict) else None
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if not isinstance(value, str):
        raise errors.RequestInvalidError("vp_token must hold one presentation for query 'q'")
    return value


class PresentationService:
    """Creates presentation requests and receives their single answer."""

    def __init__(
        self,
        *,
        verification: VerificationService,
        store: RequestStore,
        clock: Clock,
        client_id: str,
        public_url: str,
        lifetime: int,
    ) -> None:
        self.verification = verification
        self.store = store
        self.clock = clock
        self.client_id = client_id
        self.public_url = public_url
        self.lifetime = timedelta(seconds=lifetime)

    def _uri(self, request: PresentationRequest, tail: str) -> str:
        return f"{self.public_url}/api/v1/requests/{request.id}{tail}"

    def link(self, request: PresentationRequest) -> str:
        return (
            f"openid4vp://?client_id={quote(request.client_id, safe='')}"
            f"&request_uri={quote(self._uri(request, '/object'), safe='')}"
        )

    def create(self, vct_values: list[str], claims: list[list[Any]]) -> PresentationRequest:
        return self.store.create(
            client_id=self.client_id,
            dcql=dcql_query(vct_values, claims),
            now=self.clock(),
            lifetime=self.lifetime,
        )

    def get(self, request_id: str) -> PresentationRequest:
        return self.store.get(request_id, self.clock())

    def describe(self, request: PresentationRequest) -> dict[str, Any]:
        return {
            "id": request.id,
            "state": request.state(self.clock()),
            "client_id": request.client_id,
            "nonce": request.nonce,
            "response_uri": self._uri(request, "/response"),
            "request_uri": self._uri(request, "/object"),
            "dcql_query": request.dcql_query,
            "created_at": _rfc3339(request.created_at),
            "expires_at": _rfc3339(request.expires_at),
            "link": self.link(request),
        }

    def request_object(self, request_id: str) -> dict[str, Any]:
        """The authorization request parameters the wallet reads from ``request_uri``.

        Raises:
            NotFoundError: unknown request. ConflictError: no longer pending.
        """
        request = self.get(request_id)
        state = request.state(self.clock())
        if state != "pending":
            raise errors.ConflictError(
                f"this presentation request is {state}", reason=f"request_{state}"
            )
        return {
            "response_type": "vp_token",
            "response_mode": "direct_post",
            "client_id": request.client_id,
            "response_uri": self._uri(request, "/response"),
            "nonce": request.nonce,
            "state": request.id,
            "dcql_query": request.dcql_query,
            "exp": int(request.expires_at.timestamp()),
        }

    def qr_png(self, request_id: str) -> bytes:
        return qr.render_png(self.link(self.get(request_id)), ec="M", box_size=6)

    def status(self, request_id: str) -> dict[str, Any]:
        request = self.get(request_id)
        return {
            "id": request.id,
            "state": request.state(self.clock()),
            "expires_at": _rfc3339(request.expires_at),
            "answered_at": _rfc3339(request.answered_at) if request.answered_at else None,
            "missing_claims": request.missing_claims,
            "result": request.result,
        }

    async def respond(self, request_id: str, vp_token: str) -> dict[str, Any]:
        """Verify the wallet's answer to ``request_id`` with its nonce and audience; once.

        Raises:
            NotFoundError: unknown request. ConflictError (reason ``presentation_replayed``
            or ``request_expired``): already answered or expired. RequestInvalidError: a
            ``vp_token`` that holds no presentation.
        """
        presentation = _presentation(vp_token)
        request = self.store.claim(request_id, self.clock())
        result = await self.verification.verify(
            presentation, nonce=request.nonce, audience=request.client_id
        )
        body = result.to_json()
        wanted = request.dcql_query["credentials"][0]
        claims = (body.get("credential") or {}).get("claims") or {}
        missing = [c["path"] for c in wanted.get("claims", []) if not _has_path(claims, c["path"])]
        vct_values = wanted["meta"]["vct_values"]
        vct_ok = not vct_values or (body.get("credential") or {}).get("vct") in vct_values
        if not vct_ok:
            missing.append(["vct"])
        request.result, request.missing_claims = body, missing
        return {"id": request.id, "state": "answered", "valid": result.valid and not missing}
