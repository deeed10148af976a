"""The verification pipeline: one SD-JWT VC (or presentation) in, one result out.

Checks run in a fixed order and each is reported, whatever happens::

    format, issuer_trusted, signature, key_validity, time_validity,
    disclosures, key_binding, credential_status, schema

``format``, ``issuer_trusted`` and ``signature`` gate the rest: when one fails, the later
checks are reported as ``not_checked``. After a good signature every other check runs, so
that an employer sees every problem at once. A credential that fails is a normal result
(``valid: false`` with the failing checks' codes); only a misuse of the API raises.

Nothing here touches the network: trust lists and status list tokens are handed in
(``TrustStore``, ``StatusLists``); fetching them is the caller's job.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from passerelle import codelists, errors, jose, qr, sdjwt, statuslist
from passerelle.credential import LEGACY_VC_TYP, REGISTERED_CLAIMS, VC_TYP
from passerelle.credtypes import CredentialType, TypeRegistry, load_types
from passerelle.keys import PublicKey
from passerelle.trustlist import IssuerRecord, TrustStore

__all__ = [
    "CHECK_NAMES",
    "DEFAULT_KB_MAX_AGE",
    "DEFAULT_LEEWAY",
    "Check",
    "StatusLists",
    "VerificationResult",
    "Verifier",
]

CHECK_NAMES = (
    "format",
    "issuer_trusted",
    "signature",
    "key_validity",
    "time_validity",
    "disclosures",
    "key_binding",
    "credential_status",
    "schema",
)
_CHECK_INDEX = {name: index for index, name in enumerate(CHECK_NAMES)}
#: Clock skew tolerated on ``iat``, ``nbf`` and ``exp`` (seconds).
DEFAULT_LEEWAY = 60
#: Oldest key binding JWT accepted (seconds between its ``iat`` and the verification time).
DEFAULT_KB_MAX_AGE = 300

#: 10000-01-01T00:00:00Z: NumericDates beyond cannot be dates (nor Python datetimes).
_MAX_NUMERIC_DATE = 253402300800

#: Verified status lists kept per verifier (oldest dropped first).
_STATUS_CACHE_SIZE = 64

#: Claims whose codes are explained in words from the shipped code lists.
_CODE_LISTS = {
    "isco08": "isco08",
    "eqf_level": "eqf",
    "isced_f": "iscedf",
    "assessment_method": "assessment_method",
    "proficiency": "proficiency",
}


@dataclass(slots=True)
class Check:
    """One line of the result: ``ok`` is ``None`` when the check was not run."""

    name: str
    ok: bool | None = None
    code: str = "not_checked"
    detail: str = ""

    def passed(self, detail: str = "") -> None:
        self.ok, self.code, self.detail = True, "ok", detail

    def failed(self, error: errors.PasserelleError) -> None:
        self.ok, self.code, self.detail = False, error.code, error.detail

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "code": self.code, "detail": self.detail}


@dataclass(slots=True)
class VerificationResult:
    """The DESIGN.md verification result (``to_json`` is the CLI/HTTP body)."""

    checks: list[Check]
    verified_at: datetime
    status: str = "unknown"
    issuer: dict[str, Any] | None = None
    credential: dict[str, Any] | None = None
    status_info: dict[str, Any] | None = None

    @property
    def valid(self) -> bool:
        for check in self.checks:
            if check.ok is False:
                return False
        return bool(
            self.check("format").ok
            and self.check("issuer_trusted").ok
            and self.check("signature").ok
        )

    def check(self, name: str) -> Check:
        # the checks stand in CHECK_NAMES order, unless built otherwise by hand
        index = _CHECK_INDEX.get(name)
        if index is not None and index < len(self.checks) and self.checks[index].name == name:
            return self.checks[index]
        return next(c for c in self.checks if c.name == name)

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if c.ok is False]

    def to_json(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "status": self.status,
            "checks": [c.to_json() for c in self.checks],
            "issuer": self.issuer,
            "credential": self.credential,
            "status_info": self.status_info,
            "verified_at": self.verified_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        }


class StatusLists:
    """Status List Tokens at hand, keyed by their ``sub`` URI (offline files, a bundle, a cache).

    Tokens are verified when used, with the credential issuer's key, never on insertion.
    """

    def __init__(self, tokens: Iterable[str] = ()) -> None:
        self._tokens: dict[str, str] = {}
        for token in tokens:
            self.add(token)

    def add(self, token: str) -> str:
        """Index ``token`` by its ``sub`` (read unverified; verification happens on use)."""
        jws = jose.parse_compact(token.strip())
        uri = jws.payload.get("sub")
        if not isinstance(uri, str):
            raise errors.StatusListError("a Status List Token must carry its URI in 'sub'")
        self._tokens[uri] = token.strip()
        return uri

    def get(self, uri: str) -> str | None:
        return self._tokens.get(uri)

    def __len__(self) -> int:
        return len(self._tokens)


@dataclass(slots=True)
class _State:
    """What the checks learn, passed from one to the next."""

    parsed: sdjwt.ParsedSdJwt | None = None
    jws: jose.CompactJWS | None = None
    key: PublicKey | None = None
    record: IssuerRecord | None = None
    claims: dict[str, Any] | None = None
    ctype: CredentialType | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class Verifier:
    """Verifies SD-JWT VCs against directly trusted keys and/or trust lists.

    Build it once (keys, trust store, type registry) and call :meth:`verify` per token;
    the verifier holds no per-request state.
    """

    def __init__(
        self,
        *,
        issuer_keys: Sequence[PublicKey] = (),
        trust: TrustStore | None = None,
        status_lists: StatusLists | None = None,
        registry: TypeRegistry | None = None,
        leeway: int = DEFAULT_LEEWAY,
        kb_max_age: int = DEFAULT_KB_MAX_AGE,
        offline: bool = False,
    ) -> None:
        self.issuer_keys = list(issuer_keys)
        self.trust = trust
        self.status_lists = status_lists if status_lists is not None else StatusLists()
        self.registry = registry if registry is not None else load_types()
        self.leeway = leeway
        self.kb_max_age = kb_max_age
        self.offline = offline
        self._status_cache: dict[tuple[int, str, str], statuslist.StatusListToken] = {}

    # -- public ---------------------------------------------------------------------------
    def verify(
        self,
        token: str,
        *,
        now: datetime | None = None,
        nonce: str | None = None,
        audience: str | None = None,
        lang: str = "en",
    ) -> VerificationResult:
        """Run every check on ``token`` (compact SD-JWT VC, QR payload or URL carrying one).

        ``nonce``/``audience`` make a key binding JWT required and checked. ``now`` pins the
        clock (verify as of a moment).
        """
        moment = (now or datetime.now(UTC)).astimezone(UTC)
        checks = {name: Check(name) for name in CHECK_NAMES}
        result = VerificationResult(checks=list(checks.values()), verified_at=moment)
        state = _State()
        at = int(moment.timestamp())
        if not self._format(token, checks["format"], state):
            return result
        if not self._issuer(checks["issuer_trusted"], checks["key_validity"], state, at):
            result.issuer = {"id": self._claim(state, "iss")}
            return result
        result.issuer = self._issuer_json(state)
        if not self._signature(checks["signature"], state):
            return result
        if checks["key_validity"].ok is None:
            checks["key_validity"].passed("key valid at issuance")
        self._time(checks["time_validity"], state, at)
        self._disclosures(checks["disclosures"], state)
        self._key_binding(checks["key_binding"], state, at, nonce, audience)
        result.status, result.status_info = self._status(checks["credential_status"], state, at)
        self._schema(checks["schema"], state)
        result.credential = self._credential_json(state, lang)
        return result

    # -- checks ---------------------------------------------------------------------------
    @staticmethod
    def _claim(state: _State, name: str) -> Any:
        return state.jws.payload.get(name) if state.jws is not None else None

    def _format(self, token: str, check: Check, state: _State) -> bool:
        try:
            compact = qr.normalise(token)
            state.parsed = sdjwt.parse(compact)
            state.jws = jose.parse_compact(state.parsed.issuer_jwt)
            jose.check_typ(state.jws.header, (VC_TYP, LEGACY_VC_TYP))
            payload = state.jws.payload
            for name in ("iss", "vct"):
                if not isinstance(payload.get(name), str) or not payload[name]:
                    raise errors.ClaimsError(f"the required claim '{name}' is missing")
            for name in ("iat", "nbf", "exp"):
                value = payload.get(name)
                if value is not None and (
                    isinstance(value, bool)
                    or not isinstance(value, int | float)
                    or not 0 <= value < _MAX_NUMERIC_DATE
                ):
                    raise errors.ClaimsError(f"'{name}' must be a NumericDate before year 10000")
        except errors.PasserelleError as exc:
            check.failed(exc)
            return False
        check.passed(f"SD-JWT VC with {len(state.parsed.disclosures)} disclosure(s)")
        return True

    def _issuer(self, check: Check, key_check: Check, state: _State, at: int) -> bool:
        assert state.jws is not None
        header, payload = state.jws.header, state.jws.payload
        kid = header.get("kid") if isinstance(header.get("kid"), str) else None
        issued_at = int(payload.get("iat", at))
        direct = [k for k in self.issuer_keys if kid is None or k.kid == kid]
        if direct:
            state.key = direct[0] if len(direct) == 1 else self._pick_direct(direct, state)
            check.passed("issuer key trusted directly (--issuer-key)")
            return True
        if self.trust is None:
            detail = (
                f"no configured issuer key matches kid {kid}"
                if self.issuer_keys
                else "no trust list or issuer key is configured"
            )
            check.failed(errors.IssuerUntrustedError(detail))
            return False
        try:
            state.key, state.record = self.trust.resolve(
                payload["iss"], kid, vct=payload["vct"], issued_at=issued_at, now=at
            )
        except (errors.KeyValidityError, errors.KeyCompromisedError) as exc:
            check.passed("issuer listed in a trusted list")
            key_check.failed(exc)
            return False
        except errors.PasserelleError as exc:
            check.failed(exc)
            return False
        check.passed("issuer accredited for this credential type by a trusted list")
        return True

    @staticmethod
    def _pick_direct(keys: list[PublicKey], state: _State) -> PublicKey:
        assert state.jws is not None
        for key in keys:
            if key.alg == state.jws.alg and key.verify(
                state.jws.signing_input, state.jws.signature
            ):
                return key
        return keys[0]

    def _signature(self, check: Check, state: _State) -> bool:
        assert state.jws is not None and state.key is not None
        try:
            jose.verify_signature(state.jws, state.key)
        except errors.PasserelleError as exc:
            check.failed(exc)
            return False
        check.passed(f"{state.jws.alg} signature by key {state.key.kid}")
        return True

    def _time(self, check: Check, state: _State, at: int) -> None:
        assert state.jws is not None
        payload = state.jws.payload
        try:
            for name in ("iat", "nbf", "exp"):
                value = payload.get(name)
                if value is not None and (
                    not isinstance(value, int | float) or isinstance(value, bool)
                ):
                    raise errors.ClaimsError(f"'{name}' must be a NumericDate")
            iat, nbf, exp = payload.get("iat"), payload.get("nbf"), payload.get("exp")
            if iat is not None and iat > at + self.leeway:
                raise errors.NotYetValidError("issued in the future ('iat' after now)")
            if nbf is not None and nbf > at + self.leeway:
                raise errors.NotYetValidError(f"not valid before {_rfc3339(nbf)}")
            if exp is not None and exp <= at - self.leeway:
                raise errors.ExpiredError(f"expired at {_rfc3339(exp)}")
        except errors.PasserelleError as exc:
            check.failed(exc)
            return
        check.passed(
            "no expiry" if payload.get("exp") is None else f"valid until {_rfc3339(payload['exp'])}"
        )

    def _disclosures(self, check: Check, state: _State) -> None:
        assert state.jws is not None and state.parsed is not None
        try:
            state.claims = sdjwt.process_disclosures(state.jws.payload, state.parsed.disclosures)
        except errors.PasserelleError as exc:
            check.failed(exc)
            return
        check.passed(f"{len(state.parsed.disclosures)} disclosure(s) verified")

    def _key_binding(
        self, check: Check, state: _State, at: int, nonce: str | None, audience: str | None
    ) -> None:
        assert state.parsed is not None and state.jws is not None
        required = nonce is not None or audience is not None
        if state.parsed.kb_jwt is None:
            if required:
                check.failed(errors.KeyBindingError("a key binding JWT is required but absent"))
            else:
                check.passed("no key binding requested")
            return
        try:
            holder = sdjwt.holder_key_from_cnf(state.jws.payload)
            if not required:
                # Bound to no request of ours: check signature and sd_hash, take nonce/aud as given.
                kb = jose.parse_compact(state.parsed.kb_jwt).payload
                nonce, audience = str(kb.get("nonce")), str(kb.get("aud"))
            sdjwt.verify_key_binding(
                state.parsed,
                holder,
                nonce=nonce or "",
                audience=audience or "",
                now=at,
                max_age=self.kb_max_age,
                future_leeway=self.leeway,
            )
        except errors.PasserelleError as exc:
            check.failed(exc)
            return
        check.passed("holder binding proven" if required else "holder signature valid (no request)")

    def _status(self, check: Check, state: _State, at: int) -> tuple[str, dict[str, Any] | None]:
        assert state.jws is not None
        reference = state.jws.payload.get("status")
        if reference is None:
            check.passed("the credential carries no status reference")
            return "valid", None
        try:
            ref = reference.get("status_list") if isinstance(reference, dict) else None
            if not isinstance(ref, dict) or not isinstance(ref.get("uri"), str):
                raise errors.StatusListError("malformed 'status' claim")
            uri, idx = ref["uri"], ref.get("idx")
            if not isinstance(idx, int) or isinstance(idx, bool) or idx < 0:
                raise errors.StatusListError("malformed status index")
            token = self.status_lists.get(uri)
            if token is None:
                raise errors.StatusUnavailableError(
                    f"no Status List Token for {uri}"
                    + (" (offline)" if self.offline else "; supply it with --status-list")
                )
            verified = self._verified_status_list(token, uri, state, at)
            value = verified.status_list.get(idx)
        except errors.PasserelleError as exc:
            check.failed(exc)
            return "unknown", None
        info = {
            "uri": uri,
            "idx": idx,
            "list_issued_at": _rfc3339(verified.iat),
            "age_seconds": max(0, at - verified.iat),
        }
        name = statuslist.Status(value).name.lower() if value in (0, 1, 2) else "unknown"
        if name == "valid":
            check.passed(f"valid in the status list (information {info['age_seconds']} s old)")
        elif name == "revoked":
            check.failed(errors.StatusListError("the issuer has revoked this credential"))
            check.code = "credential_revoked"
        elif name == "suspended":
            check.failed(errors.StatusListError("the issuer has suspended this credential"))
            check.code = "credential_suspended"
        else:
            check.failed(errors.StatusListError(f"application-specific status {value}"))
        return name, info

    def _verified_status_list(
        self, token: str, uri: str, state: _State, at: int
    ) -> statuslist.StatusListToken:
        """The verified, decoded list; a list once verified for this issuer and trust store
        is reused (decoding 2^17 entries costs far more than the rest of a verification)
        while it is unexpired at ``at``."""
        assert state.jws is not None
        cache_key = (id(self.trust), state.jws.payload["iss"], token)
        verified = self._status_cache.get(cache_key)
        if verified is None or verified.iat > at + self.leeway:
            verified = statuslist.verify_status_list_token(
                token,
                self._status_key_resolver(state, at),
                expected_uri=uri,
                now=at,
                leeway=self.leeway,
            )
            if len(self._status_cache) >= _STATUS_CACHE_SIZE:
                self._status_cache.pop(next(iter(self._status_cache)))
            self._status_cache[cache_key] = verified
        if verified.uri != uri:
            raise errors.StatusListMismatchError(f"the status list is {verified.uri}, not {uri}")
        if verified.exp is not None and at - self.leeway >= verified.exp:
            raise errors.StatusListExpiredError(
                f"the status list expired at {_rfc3339(verified.exp)}"
            )
        return verified

    def _status_key_resolver(self, state: _State, at: int) -> jose.KeyResolver:
        assert state.jws is not None and state.key is not None
        iss, vct, credential_key = state.jws.payload["iss"], state.jws.payload["vct"], state.key

        def resolve(header: Mapping[str, Any], payload: Mapping[str, Any]) -> PublicKey:
            kid = header.get("kid")
            if kid is None or kid == credential_key.kid:
                return credential_key
            for key in self.issuer_keys:
                if key.kid == kid:
                    return key
            if self.trust is not None:
                issued = payload.get("iat")
                key, _ = self.trust.resolve(
                    iss, kid, vct=vct, issued_at=issued if isinstance(issued, int) else at, now=at
                )
                return key
            raise errors.KeyNotFoundError(f"status list signed by unknown key {kid}")

        return resolve

    def _schema(self, check: Check, state: _State) -> None:
        assert state.jws is not None
        if state.claims is None:
            return
        try:
            state.ctype = self.registry.get(state.jws.payload["vct"])
        except errors.UnknownTypeError:
            check.detail = "credential type not known here: schema not checked"
            return
        subject = {k: v for k, v in state.claims.items() if k not in REGISTERED_CLAIMS}
        try:
            state.ctype.validate_disclosed(subject)
        except errors.PasserelleError as exc:
            check.failed(exc)
            return
        check.passed(f"disclosed claims conform to {state.ctype.name}")

    # -- presentation of the result ---------------------------------------------------------
    def _issuer_json(self, state: _State) -> dict[str, Any]:
        if state.record is not None:
            return state.record.to_json()
        return {"id": self._claim(state, "iss"), "trusted_by": "issuer key"}

    def _credential_json(self, state: _State, lang: str) -> dict[str, Any] | None:
        if state.jws is None:
            return None
        payload = state.jws.payload
        claims = state.claims or {}
        subject = {k: v for k, v in claims.items() if k not in REGISTERED_CLAIMS}
        ctype = state.ctype
        out: dict[str, Any] = {
            "vct": payload.get("vct"),
            "type": ctype.name if ctype else None,
            "type_name": ctype.display_name(lang) if ctype else payload.get("vct"),
            "issued_at": _rfc3339(payload["iat"]) if isinstance(payload.get("iat"), int) else None,
            "expires_at": _rfc3339(payload["exp"]) if isinstance(payload.get("exp"), int) else None,
            "holder_bound": "cnf" in payload,
            "claims": subject,
            "disclosed": _labelled(subject, ctype, lang),
            "lang": lang,
        }
        return out


def _labelled(
    subject: Mapping[str, Any], ctype: CredentialType | None, lang: str
) -> list[dict[str, Any]]:
    """Leaves of the disclosed claims with labels and code meanings in ``lang``."""
    entries: list[dict[str, Any]] = []
    for key, value in subject.items():
        _walk(value, (key,), ctype, lang, entries)
    return entries


def _walk(
    value: Any,
    path: tuple[str, ...],
    ctype: CredentialType | None,
    lang: str,
    entries: list[dict[str, Any]],
) -> None:
    # a module function, not a closure calling itself: that would be a reference cycle
    # per verification, left for the garbage collector
    if isinstance(value, dict) and not _is_language_map(value):
        for key, child in value.items():
            _walk(child, (*path, key), ctype, lang, entries)
        return
    # paths are member names only: arrays are leaves, never walked into
    name = path[-1]
    entry: dict[str, Any] = {
        "path": ".".join(path),
        "label": ctype.label(path, lang) if ctype else name,
        "value": value,
    }
    if isinstance(value, dict):
        entry["text"] = value.get(lang) or next(iter(value.values()), "")
    if name in _CODE_LISTS and isinstance(value, str | int):
        meaning = _meaning(_CODE_LISTS[name], value, lang)
        if meaning:
            entry["meaning"] = meaning
    entries.append(entry)


@functools.lru_cache(maxsize=1024, typed=True)  # typed: True is not the code 1
def _meaning(list_name: str, code: str | int, lang: str) -> str | None:
    """:func:`codelists.describe`, remembered: the same codes recur in credential after
    credential (bounded: codes and languages come from the token and the request)."""
    return codelists.describe(list_name, code, lang)


def _is_language_map(value: Mapping[str, Any]) -> bool:
    if not value:
        return False
    for k, v in value.items():  # a loop, not all(generator): this runs for every object
        if not (
            isinstance(k, str)
            and 2 <= len(k) <= 8
            and k.replace("-", "").isalpha()
            and isinstance(v, str)
        ):
            return False
    return True


def _rfc3339(epoch: int | float) -> str:
    if type(epoch) is int:  # whole seconds, the usual NumericDate: gmtime is twice as quick
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")
