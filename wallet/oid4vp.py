"""Presenting credentials: the Wallet side of OpenID4VP 1.0 with DCQL and ``direct_post``.

1. Read the request (section 5): an ``openid4vp://?client_id=...&request_uri=...`` link
   (the request object is fetched from ``request_uri``, with GET or, when
   ``request_uri_method=post``, POST), a link carrying the parameters themselves, or the
   request object as JSON. Used: ``client_id``, ``response_type`` (``vp_token``),
   ``response_mode`` (``direct_post``), ``response_uri``, ``nonce``, ``state`` and
   ``dcql_query``.
2. Match the held credentials to the DCQL query (section 6): see :func:`select`.
3. Build one SD-JWT VC presentation per answer with :func:`passerelle.sdjwt.present`: the
   disclosures of the claims chosen, and a KB-JWT with ``nonce`` = the request's nonce and
   ``aud`` = its ``client_id`` (appendix B.3.6), so the employer cannot replay it elsewhere.
4. Answer (section 8.2): a form POST to ``response_uri`` with ``vp_token`` = the JSON object
   ``{credential query id: [presentation, ...]}`` (section 8.1) and ``state``.

Offline, the presentation can instead be shown as a QR code (:func:`presentation_qr`) for
the employer's scan page, which verifies it with the nonce and audience of its request.

DCQL subset: ``credentials`` (``id``, ``format`` ``dc+sd-jwt``, ``meta.vct_values``,
``claims`` with ``id``, ``path`` (strings, indices, ``null`` for every element) and
``values``, ``claim_sets``, ``multiple``, ``require_cryptographic_holder_binding``) and
``credential_sets`` (``options``, ``required``). ``trusted_authorities`` is ignored (every
held credential qualifies). Signed request objects (JAR) and encrypted responses
(``direct_post.jwt``) are refused with a clear error.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from passerelle import errors, qr, sdjwt
from passerelle.credtypes import json_path
from passerelle.encoding import json_dumps, json_loads, json_loads_object
from passerelle.keys import SigningKey
from wallet import _http
from wallet._http import check_url
from wallet.store import CredentialRecord

__all__ = [
    "DIRECT_POST",
    "SD_JWT_VC_FORMATS",
    "VP_TOKEN",
    "Candidate",
    "ClaimChoice",
    "ClaimQuery",
    "CredentialQuery",
    "CredentialSetQuery",
    "DcqlQuery",
    "PresentationRequest",
    "Selection",
    "build_vp_token",
    "find_candidates",
    "parse_dcql",
    "parse_path",
    "parse_request",
    "presentation_qr",
    "select",
    "submit",
]

VP_TOKEN = "vp_token"
DIRECT_POST = "direct_post"
SD_JWT_VC_FORMATS = frozenset({"dc+sd-jwt", "vc+sd-jwt"})
_REQUEST_MAX_LENGTH = 64 * 1024

PathPattern = tuple[str | int | None, ...]
ConcretePath = tuple[str | int, ...]


# ---------------------------------------------------------------------------------------
# DCQL


@dataclass(frozen=True, slots=True)
class ClaimQuery:
    """One requested claim: its ``path`` pattern and, optionally, accepted ``values``."""

    path: PathPattern
    id: str | None = None
    values: tuple[Any, ...] | None = None


@dataclass(frozen=True, slots=True)
class CredentialQuery:
    id: str
    format: str
    vct_values: tuple[str, ...] | None = None
    claims: tuple[ClaimQuery, ...] | None = None
    claim_sets: tuple[tuple[str, ...], ...] | None = None
    multiple: bool = False
    require_binding: bool = True


@dataclass(frozen=True, slots=True)
class CredentialSetQuery:
    options: tuple[tuple[str, ...], ...]
    required: bool = True


@dataclass(frozen=True, slots=True)
class DcqlQuery:
    credentials: tuple[CredentialQuery, ...]
    credential_sets: tuple[CredentialSetQuery, ...] | None = None


def _bad(detail: str) -> errors.PresentationRequestError:
    return errors.PresentationRequestError(f"dcql_query: {detail}")


def _path(value: Any) -> PathPattern:
    if not isinstance(value, list) or not value:
        raise _bad("a claim path must be a non-empty array")
    for element in value:
        ok = element is None or isinstance(element, str)
        ok = ok or (isinstance(element, int) and not isinstance(element, bool) and element >= 0)
        if not ok:
            raise _bad("a claim path holds strings, non-negative integers and null")
    return tuple(value)


def _claim(value: Any) -> ClaimQuery:
    if not isinstance(value, dict):
        raise _bad("a claims query must be an object")
    claim_id = value.get("id")
    if claim_id is not None and not isinstance(claim_id, str):
        raise _bad("a claim id must be a string")
    values = value.get("values")
    if values is not None:
        if not isinstance(values, list) or not values:
            raise _bad("values must be a non-empty array")
        if any(not isinstance(v, str | int | bool) for v in values):
            raise _bad("values hold strings, integers or booleans")
    return ClaimQuery(
        path=_path(value.get("path")),
        id=claim_id,
        values=tuple(values) if values is not None else None,
    )


def _credential_query(value: Any) -> CredentialQuery:
    if not isinstance(value, dict):
        raise _bad("a credential query must be an object")
    query_id, fmt = value.get("id"), value.get("format")
    if not isinstance(query_id, str) or not query_id:
        raise _bad("a credential query needs a string id")
    if not isinstance(fmt, str):
        raise _bad(f"credential query {query_id!r} needs a format")
    meta = value.get("meta", {})
    if not isinstance(meta, dict):
        raise _bad("meta must be an object")
    vct_values = meta.get("vct_values")
    if vct_values is not None and (
        not isinstance(vct_values, list) or not all(isinstance(v, str) for v in vct_values)
    ):
        raise _bad("meta.vct_values must be an array of strings")
    raw_claims = value.get("claims")
    claims = None
    if raw_claims is not None:
        if not isinstance(raw_claims, list) or not raw_claims:
            raise _bad("claims must be a non-empty array")
        claims = tuple(_claim(c) for c in raw_claims)
    raw_sets = value.get("claim_sets")
    claim_sets = None
    if raw_sets is not None:
        if claims is None:
            raise _bad("claim_sets needs claims")
        ids = {c.id for c in claims}
        if None in ids:
            raise _bad("every claim needs an id when claim_sets is present")
        if not isinstance(raw_sets, list) or not raw_sets:
            raise _bad("claim_sets must be a non-empty array")
        for option in raw_sets:
            if not isinstance(option, list) or not option or not set(option) <= ids:
                raise _bad("each claim set lists ids of the query's claims")
        claim_sets = tuple(tuple(option) for option in raw_sets)
    multiple = value.get("multiple", False)
    binding = value.get("require_cryptographic_holder_binding", True)
    if not isinstance(multiple, bool) or not isinstance(binding, bool):
        raise _bad("multiple and require_cryptographic_holder_binding are booleans")
    return CredentialQuery(
        id=query_id,
        format=fmt,
        vct_values=tuple(vct_values) if vct_values is not None else None,
        claims=claims,
        claim_sets=claim_sets,
        multiple=multiple,
        require_binding=binding,
    )


def parse_dcql(value: Any) -> DcqlQuery:
    """Check and read a DCQL query.

    Raises:
        PresentationRequestError: anything malformed (the detail says what).
    """
    if isinstance(value, str):
        try:
            value = json_loads(value, "dcql_query")
        except errors.JsonError:
            raise _bad("not JSON") from None
    if not isinstance(value, dict):
        raise _bad("must be a JSON object")
    raw = value.get("credentials")
    if not isinstance(raw, list) or not raw:
        raise _bad("credentials must be a non-empty array")
    credentials = tuple(_credential_query(c) for c in raw)
    ids = [c.id for c in credentials]
    if len(set(ids)) != len(ids):
        raise _bad("two credential queries share an id")
    raw_sets = value.get("credential_sets")
    sets = None
    if raw_sets is not None:
        if not isinstance(raw_sets, list) or not raw_sets:
            raise _bad("credential_sets must be a non-empty array")
        parsed = []
        for entry in raw_sets:
            options = entry.get("options") if isinstance(entry, dict) else None
            if not isinstance(options, list) or not options:
                raise _bad("a credential set needs a non-empty options array")
            for option in options:
                if not isinstance(option, list) or not option or not set(option) <= set(ids):
                    raise _bad("each option lists ids of credential queries")
            required = entry.get("required", True)
            if not isinstance(required, bool):
                raise _bad("required must be a boolean")
            parsed.append(CredentialSetQuery(tuple(tuple(o) for o in options), required))
        sets = tuple(parsed)
    return DcqlQuery(credentials=credentials, credential_sets=sets)


# ---------------------------------------------------------------------------------------
# The request


@dataclass(frozen=True, slots=True)
class PresentationRequest:
    """An OpenID4VP request as the wallet uses it (``raw``: every parameter received)."""

    client_id: str
    nonce: str
    dcql: DcqlQuery
    response_uri: str | None = None
    response_mode: str = DIRECT_POST
    state: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


def _request_from_object(obj: Mapping[str, Any], link_client_id: str | None) -> PresentationRequest:
    bad = errors.PresentationRequestError
    client_id = obj.get("client_id", link_client_id)
    if not isinstance(client_id, str) or not client_id:
        raise bad("the request has no client_id")
    if link_client_id is not None and client_id != link_client_id:
        raise bad("the request object's client_id is not the link's (section 5.10)")
    response_type = obj.get("response_type", VP_TOKEN)
    if response_type != VP_TOKEN:
        raise bad(f"response_type {response_type!r} is not supported (vp_token only)")
    if "presentation_definition" in obj and "dcql_query" not in obj:
        raise bad("Presentation Exchange requests are not supported: use a dcql_query")
    nonce = obj.get("nonce")
    if not isinstance(nonce, str) or not nonce:
        raise bad("the request has no nonce")
    response_uri = obj.get("response_uri")
    mode = obj.get("response_mode", DIRECT_POST if response_uri is not None else None)
    if response_uri is not None or mode is not None:
        if mode != DIRECT_POST:
            raise bad(f"response_mode {mode!r} is not supported (direct_post only)")
        response_uri = check_url(response_uri, "response_uri", bad)
        if client_id.startswith("redirect_uri:") and client_id[len("redirect_uri:") :] != (
            response_uri
        ):
            raise bad("with a redirect_uri client_id, response_uri must be that URI")
    state = obj.get("state")
    if state is not None and not isinstance(state, str):
        raise bad("state must be a string")
    return PresentationRequest(
        client_id=client_id,
        nonce=nonce,
        dcql=parse_dcql(obj.get("dcql_query")),
        response_uri=response_uri,
        response_mode=DIRECT_POST,
        state=state,
        raw=dict(obj),
    )


def parse_request(text: str, *, client: httpx.Client) -> PresentationRequest:
    """The request in ``text``: a link with ``request_uri`` (fetched with ``client``), a link
    with the parameters inline, or the request object as JSON.

    Raises:
        PresentationRequestError: unreadable, unsupported (signed request objects,
            Presentation Exchange, another response mode) or incomplete.
        EndpointError: the request URI cannot be fetched.
    """
    bad = errors.PresentationRequestError
    text = text.strip()
    if len(text) > _REQUEST_MAX_LENGTH:
        raise bad("the presentation request is too long")
    if text.startswith("{"):
        try:
            return _request_from_object(json_loads_object(text, "request object"), None)
        except errors.JsonError as exc:
            raise bad(exc.detail) from None
    params = {k: v[0] for k, v in parse_qs(urlsplit(text).query, keep_blank_values=True).items()}
    if "request" in params:
        raise bad("signed request objects (request=...) are not supported")
    link_client_id = params.get("client_id")
    if "request_uri" not in params:
        if not params:
            raise bad("not a presentation request link")
        return _request_from_object(params, None)
    uri = check_url(params["request_uri"], "request_uri", bad)
    method = params.get("request_uri_method", "get").lower()
    if method not in ("get", "post"):
        raise bad("request_uri_method must be get or post")
    answer = _http.request(
        client,
        method.upper(),
        uri,
        what="request URI",
        data={} if method == "post" else None,
        headers={"Accept": "application/json, application/oauth-authz-req+jwt"},
    )
    if not answer.ok:
        raise bad(f"the request URI answered HTTP {answer.status}")
    if not isinstance(answer.json, dict):
        if answer.text.count(".") == 2 or "jwt" in answer.content_type:
            raise bad("signed request objects (JAR) are not supported by this wallet yet")
        raise bad("the request URI did not answer a JSON request object")
    return _request_from_object(answer.json, link_client_id)


# ---------------------------------------------------------------------------------------
# Matching


def parse_path(text: str) -> PathPattern:
    """A claim path from the command line: ``given_name``, ``qualification.title``,
    ``nationalities.0``, ``nationalities.*`` (every element), or a JSON array."""
    text = text.strip()
    if text.startswith("["):
        try:
            return _path(json_loads(text, "claim path"))
        except (errors.JsonError, errors.PresentationRequestError):
            raise errors.InvalidInputError(f"{text!r} is not a claim path") from None
    parts: list[str | int | None] = []
    for part in text.split("."):
        if not part:
            raise errors.InvalidInputError(f"{text!r} is not a claim path")
        parts.append(None if part == "*" else int(part) if part.isdigit() else part)
    return tuple(parts)


def _resolve(
    node: Any, pattern: PathPattern, at: ConcretePath = ()
) -> list[tuple[ConcretePath, Any]]:
    """Every (concrete path, value) the pattern selects in ``node`` (section 7)."""
    if not pattern:
        return [(at, node)]
    head, rest = pattern[0], pattern[1:]
    if isinstance(head, str):
        if isinstance(node, dict) and head in node:
            return _resolve(node[head], rest, (*at, head))
        return []
    if not isinstance(node, list):
        return []
    if head is None:
        found = []
        for index, element in enumerate(node):
            found.extend(_resolve(element, rest, (*at, index)))
        return found
    return _resolve(node[head], rest, (*at, head)) if head < len(node) else []


def _value_matches(value: Any, accepted: tuple[Any, ...]) -> bool:
    # same type and value: True is not 1
    return any(type(value) is type(a) and value == a for a in accepted)


@dataclass(frozen=True, slots=True)
class ClaimChoice:
    """One requested claim in a candidate credential.

    ``paths`` are the concrete claims it selects; ``disclosures`` the claim paths of the
    disclosures needed to show them (empty when the claims are always visible);
    ``chosen`` is False when the holder withheld it.
    """

    path: PathPattern
    paths: tuple[ConcretePath, ...]
    disclosures: tuple[ConcretePath, ...]
    chosen: bool = True

    @property
    def selectively_disclosable(self) -> bool:
        return bool(self.disclosures)

    @property
    def label_path(self) -> str:
        return json_path(self.path)


@dataclass(frozen=True, slots=True)
class Candidate:
    """A held credential that answers a credential query, with the claims it would show."""

    query_id: str
    record: CredentialRecord
    claims: tuple[ClaimChoice, ...]

    @property
    def disclosures(self) -> list[ConcretePath]:
        """The disclosures to present: those of every chosen claim, in claim order."""
        seen: dict[ConcretePath, None] = {}
        for claim in self.claims:
            if claim.chosen:
                seen.update(dict.fromkeys(claim.disclosures))
        return list(seen)

    @property
    def withheld(self) -> list[PathPattern]:
        return [c.path for c in self.claims if not c.chosen]


def _disclosures_for(
    paths: Iterable[ConcretePath], available: Sequence[ConcretePath]
) -> tuple[ConcretePath, ...]:
    """The disclosure paths needed to show ``paths`` with everything inside them: every
    disclosure on the way to a path or below it."""
    needed: list[ConcretePath] = []
    for path in paths:
        for disclosure in available:
            n = min(len(path), len(disclosure))
            if disclosure[:n] == path[:n] and disclosure not in needed:
                needed.append(disclosure)
    return tuple(needed)


def _claim_choice(
    claim: ClaimQuery, claims: Any, available: Sequence[ConcretePath]
) -> ClaimChoice | None:
    found = _resolve(claims, claim.path)
    if claim.values is not None:
        found = [(p, v) for p, v in found if _value_matches(v, claim.values)]
    if not found:
        return None
    paths = tuple(p for p, _ in found)
    return ClaimChoice(claim.path, paths, _disclosures_for(paths, available))


def _candidate(query: CredentialQuery, record: CredentialRecord) -> Candidate | None:
    if query.format not in SD_JWT_VC_FORMATS:
        return None
    if query.vct_values is not None and record.vct not in query.vct_values:
        return None
    if query.require_binding and record.holder_kid is None:
        return None
    try:
        claims = record.claims()
        available = [tuple(p) for p in sdjwt.disclosure_paths(record.credential)]
    except errors.PasserelleError:
        return None  # a damaged record answers nothing
    if query.claims is None:
        # section 6.4.1: no selectively disclosable claim is requested
        return Candidate(query.id, record, ())
    by_id = {c.id: c for c in query.claims}
    options: Sequence[Sequence[ClaimQuery]] = (
        [[by_id[i] for i in option] for option in query.claim_sets]
        if query.claim_sets is not None
        else [query.claims]
    )
    for option in options:  # the verifier's order of preference: the first that fits
        choices = [_claim_choice(c, claims, available) for c in option]
        if all(choice is not None for choice in choices):
            return Candidate(query.id, record, tuple(c for c in choices if c is not None))
    return None


def find_candidates(query: CredentialQuery, records: Iterable[CredentialRecord]) -> list[Candidate]:
    """The held credentials that answer ``query``, most recently received first."""
    found = [c for r in records if (c := _candidate(query, r)) is not None]
    found.sort(key=lambda c: c.record.received_at, reverse=True)
    return found


@dataclass(frozen=True, slots=True)
class Selection:
    """What will be presented: per credential query id, the candidates chosen."""

    request: PresentationRequest
    answers: dict[str, list[Candidate]]

    @property
    def candidates(self) -> list[Candidate]:
        return [c for chosen in self.answers.values() for c in chosen]


def _apply_only(candidate: Candidate, only: set[PathPattern]) -> Candidate:
    claims = tuple(
        ClaimChoice(c.path, c.paths, c.disclosures, chosen=c.path in only) for c in candidate.claims
    )
    return Candidate(candidate.query_id, candidate.record, claims)


def select(
    request: PresentationRequest,
    records: Iterable[CredentialRecord],
    *,
    only: Collection[PathPattern] | None = None,
    credential_ids: Collection[str] | None = None,
) -> Selection:
    """Choose the credentials and claims that answer ``request``.

    Without ``credential_sets`` every credential query must be answered; with them, each set
    takes its first option whose queries can all be answered, and a required set with none
    fails. A query answers with its most recently received candidate (every candidate when
    ``multiple``). ``credential_ids`` limits the candidates to those credentials; ``only``
    is the holder's choice within the request: the claims (as requested paths) to show,
    the other requested claims being withheld.

    Raises:
        NoMatchingCredentialError: a required query or set cannot be answered.
        InvalidInputError: ``only`` names a claim the request does not ask for.
    """
    held = [r for r in records if credential_ids is None or r.id in credential_ids]
    candidates = {q.id: find_candidates(q, held) for q in request.dcql.credentials}
    wanted: list[str] = []
    if request.dcql.credential_sets is None:
        for query_id, found in candidates.items():
            if not found:
                raise errors.NoMatchingCredentialError(
                    f"no credential in the wallet answers the request's query {query_id!r}"
                )
            wanted.append(query_id)
    else:
        for index, credential_set in enumerate(request.dcql.credential_sets):
            option = next(
                (o for o in credential_set.options if all(candidates[i] for i in o)), None
            )
            if option is None and credential_set.required:
                raise errors.NoMatchingCredentialError(
                    f"no credentials in the wallet answer the request's credential set {index}"
                )
            wanted.extend(i for i in option or () if i not in wanted)
    queries = {q.id: q for q in request.dcql.credentials}
    answers: dict[str, list[Candidate]] = {}
    for query_id in wanted:
        found = candidates[query_id]
        answers[query_id] = found if queries[query_id].multiple else found[:1]
    if only is not None:
        chosen = {tuple(p) for p in only}
        requested = {c.path for cands in answers.values() for cand in cands for c in cand.claims}
        unknown = chosen - requested
        if unknown:
            listed = ", ".join(json_path(p) for p in sorted(unknown, key=str))
            raise errors.InvalidInputError(f"the request does not ask for {listed}")
        answers = {k: [_apply_only(c, chosen) for c in v] for k, v in answers.items()}
    return Selection(request=request, answers=answers)


# ---------------------------------------------------------------------------------------
# The answer


def build_vp_token(
    selection: Selection,
    key_for: Callable[[str | None], SigningKey],
    *,
    iat: int | None = None,
) -> dict[str, list[str]]:
    """``{credential query id: [presentation, ...]}`` (section 8.1): each presentation
    carries the chosen disclosures and a KB-JWT (``nonce`` and ``aud`` from the request,
    ``iat`` default now) signed by the key the credential is bound to (``key_for(kid)``).
    """
    request = selection.request
    moment = int(time.time()) if iat is None else iat
    token: dict[str, list[str]] = {}
    for query_id, chosen in selection.answers.items():
        token[query_id] = []
        for candidate in chosen:
            record = candidate.record
            bound = record.holder_kid is not None
            presentation = sdjwt.present(
                record.credential,
                candidate.disclosures,
                holder_key=key_for(record.holder_kid) if bound else None,
                nonce=request.nonce if bound else None,
                audience=request.client_id if bound else None,
                iat=moment,
            )
            token[query_id].append(presentation)
    return token


def submit(
    request: PresentationRequest, vp_token: Mapping[str, list[str]], *, client: httpx.Client
) -> dict[str, Any]:
    """POST the answer to ``response_uri`` (``direct_post``); returns the verifier's JSON
    answer (``{}`` when it has none), which may carry a ``redirect_uri``.

    Raises:
        PresentationRequestError: the request has no ``response_uri`` (offline only).
        PresentationRejectedError: the verifier answered an error (``extra["oauth_error"]``).
        EndpointError: the verifier cannot be reached.
    """
    if request.response_uri is None:
        raise errors.PresentationRequestError(
            "this request has no response_uri: show the presentation as a QR code instead"
        )
    form = {"vp_token": json_dumps(dict(vp_token)).decode()}
    if request.state is not None:
        form["state"] = request.state
    answer = _http.request(
        client, "POST", request.response_uri, what="verifier's response endpoint", data=form
    )
    if not answer.ok:
        code, description = answer.oauth_error()
        suffix = f": {description}" if description else ""
        raise errors.PresentationRejectedError(
            f"the verifier refused the presentation ({code}){suffix}", oauth_error=code
        )
    return answer.json if isinstance(answer.json, dict) else {}


def presentation_qr(presentation: str, *, svg: bool = False) -> bytes:
    """The presentation as a QR code (PNG, or SVG text as UTF-8) of its compact payload.

    Raises:
        QrTooLargeError: the presentation does not fit in a QR code.
    """
    payload = qr.encode_payload(presentation)
    if svg:
        return qr.render_svg(payload).encode("utf-8")
    return qr.render_png(payload)
