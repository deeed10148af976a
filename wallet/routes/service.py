"""What the wallet page does, between its routes and the wallet library.

Routes parse forms and render pages; this module opens the store, reads credentials into
what a page shows (:class:`CredentialView`: labels from the type metadata, code meanings
from :mod:`passerelle.codelists`, in the worker's language), builds presentations and runs
the OpenID4VCI and OpenID4VP exchanges of :mod:`wallet.oid4vci` and :mod:`wallet.oid4vp`.

Disclosure choices are claim paths (:func:`passerelle.sdjwt.disclosure_paths`), carried
in forms as JSON arrays (:func:`encode_path`). The offline presentation offers one choice per
disclosure that shows a claim of its own; choosing a claim nested in another disclosure
ticks that one too (the presentation must carry it), so what the page shows as ticked is
exactly what the employer reads. Claims outside every disclosure (the qualification itself,
for the shipped types) are always shown.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from passerelle import codelists, errors, qr, sdjwt
from passerelle.credtypes import CredentialType, TypeRegistry, json_path
from passerelle.encoding import json_dumps, json_loads
from wallet import oid4vci, oid4vp
from wallet._http import check_url
from wallet.routes.sessions import FileStamp, UnlockedWallet, file_stamp
from wallet.store import FILE_NAME, CredentialRecord, KdfParams, WalletContents, WalletStore

__all__ = [
    "ClaimRow",
    "CredentialView",
    "Disclosure",
    "ReceiveResult",
    "RequestCandidate",
    "RequestClaim",
    "RequestView",
    "WalletPageService",
    "decode_path",
    "encode_path",
    "type_styles",
]

#: Claims the issuing layer adds: not shown to the worker as content.
_REGISTERED = frozenset({"iss", "iat", "nbf", "exp", "vct", "cnf", "status", "sub", "_sd_alg"})
#: Claims whose codes are explained in words from the shipped code lists.
_CODE_LISTS = {
    "isco08": "isco08",
    "eqf_level": "eqf",
    "isced_f": "iscedf",
    "assessment_method": "assessment_method",
    "proficiency": "proficiency",
}

ClaimPath = tuple[str | int, ...]
PathPattern = tuple[str | int | None, ...]


def encode_path(path: Sequence[str | int | None]) -> str:
    """A claim path as a form value (its JSON array)."""
    return json_dumps(list(path)).decode("utf-8")


def decode_path(value: str) -> PathPattern:
    """The claim path of a form value written by :func:`encode_path`.

    Raises:
        InvalidInputError: not a JSON array of strings, indices and nulls.
    """
    try:
        parsed = json_loads(value.encode("utf-8"), "claim path")
    except errors.PasserelleError:
        raise errors.InvalidInputError("a chosen claim is not a claim path") from None
    ok = isinstance(parsed, list) and bool(parsed)
    ok = ok and all(e is None or isinstance(e, str) or (type(e) is int and e >= 0) for e in parsed)
    if not ok:
        raise errors.InvalidInputError("a chosen claim is not a claim path")
    return tuple(parsed)


def _is_language_map(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and bool(value)
        and all(
            isinstance(k, str) and 2 <= len(k) <= 8 and isinstance(v, str) for k, v in value.items()
        )
    )


def _leaves(
    node: Any, disclosed: Sequence[ClaimPath], path: ClaimPath = ()
) -> Iterator[tuple[ClaimPath, Any]]:
    """The displayable leaves of a claims tree: language maps are leaves, and so are lists
    of scalars unless their elements are disclosures of their own."""
    if isinstance(node, dict) and not _is_language_map(node):
        for key, value in node.items():
            if not path and key in _REGISTERED:
                continue
            yield from _leaves(value, disclosed, (*path, key))
    elif isinstance(node, list) and (
        any(isinstance(e, dict | list) for e in node)
        or any(len(d) > len(path) and d[: len(path)] == path for d in disclosed)
    ):
        for index, value in enumerate(node):
            yield from _leaves(value, disclosed, (*path, index))
    else:
        yield path, node


def _at(claims: Any, path: Sequence[str | int]) -> Any:
    node = claims
    for element in path:
        node = node[element]
    return node


@dataclass(frozen=True, slots=True)
class ClaimRow:
    """One claim as shown: its label, the value as text (and the language of that text when
    it came from a language map), and the meaning of a code."""

    path: ClaimPath
    label: str
    value: str
    value_lang: str | None = None
    meaning: str | None = None


@dataclass(frozen=True, slots=True)
class Disclosure:
    """One choice of the worker: a leaf disclosure, the claims it shows, ticked or not."""

    path: ClaimPath
    label: str
    rows: tuple[ClaimRow, ...]
    chosen: bool

    @property
    def value(self) -> str:
        """The form value of this choice."""
        return encode_path(self.path)


@dataclass(frozen=True, slots=True)
class CredentialView:
    """A held credential as the page shows it, in one language."""

    record: CredentialRecord
    name: str
    issuer: str
    description: str
    type_class: str
    always: tuple[ClaimRow, ...]
    choices: tuple[Disclosure, ...]

    @property
    def chosen(self) -> list[ClaimPath]:
        return [d.path for d in self.choices if d.chosen]


@dataclass(frozen=True, slots=True)
class RequestClaim:
    """One claim a verifier asks for, in one candidate credential."""

    path: PathPattern
    label: str
    rows: tuple[ClaimRow, ...]
    optional: bool  # selectively disclosable: the worker may withhold it
    chosen: bool

    @property
    def value(self) -> str:
        return encode_path(self.path)


@dataclass(frozen=True, slots=True)
class RequestCandidate:
    name: str
    issuer: str
    credential_id: str
    claims: tuple[RequestClaim, ...]


@dataclass(frozen=True, slots=True)
class RequestView:
    """A verifier's request as the page shows it."""

    verifier: str
    can_send: bool
    candidates: tuple[RequestCandidate, ...]


@dataclass(frozen=True, slots=True)
class ReceiveResult:
    contents: WalletContents
    stamp: FileStamp | None
    added: tuple[CredentialRecord, ...]
    already_held: tuple[CredentialRecord, ...]


class WalletPageService:
    """The wallet in ``directory`` as the page uses it.

    ``kdf`` is the cost of writes, ``clock`` the time (key proofs, KB-JWTs, records),
    ``client_factory`` makes the HTTP client of one exchange, ``registry`` the known types.
    """

    def __init__(
        self,
        directory: Path,
        *,
        kdf: KdfParams,
        clock: Callable[[], datetime],
        client_factory: Callable[[], httpx.Client],
        registry: TypeRegistry,
    ) -> None:
        self.directory = directory
        self.kdf = kdf
        self.clock = clock
        self.client_factory = client_factory
        self.registry = registry

    # -- the store -------------------------------------------------------------------------
    @property
    def path(self) -> Path:
        return self.directory / FILE_NAME

    def _store(self, passphrase: str) -> WalletStore:
        return WalletStore(self.directory, passphrase, kdf=self.kdf, now=self.clock)

    def unlock(self, passphrase: str) -> UnlockedWallet:
        """The decrypted wallet (the passphrase is not kept).

        Raises:
            WalletNotFoundError: no wallet in the directory. WalletLockedError: wrong
            passphrase or damaged file. WalletFileError: not a wallet file.
        """
        stamp = file_stamp(self.path)
        contents = self._store(passphrase).load()
        return UnlockedWallet(contents=contents, stamp=stamp, unlocked_at=self.clock())

    def changed(self, wallet: UnlockedWallet) -> bool:
        """Whether the file on disk is no longer the one ``wallet`` was read from."""
        return file_stamp(self.path) != wallet.stamp

    # -- showing ---------------------------------------------------------------------------
    def _type(self, record: CredentialRecord) -> CredentialType | None:
        return self.registry.get(record.vct) if record.vct in self.registry else None

    def _row(
        self, ctype: CredentialType | None, path: ClaimPath, value: Any, lang: str
    ) -> ClaimRow:
        label = ctype.label(path, lang) if ctype else json_path(path)
        text, text_lang = _text(value, lang)
        meaning = None
        names = [p for p in path if isinstance(p, str)]
        if names and names[-1] in _CODE_LISTS and isinstance(value, str | int):
            meaning = codelists.describe(_CODE_LISTS[names[-1]], value, lang)
        return ClaimRow(path, label, text, text_lang, meaning)

    def _order(self, ctype: CredentialType | None) -> Callable[[ClaimPath], int]:
        known = [tuple(p) for p in ctype.claim_paths()] if ctype else []

        def position(path: ClaimPath) -> int:
            for end in range(len(path), 0, -1):
                prefix = tuple(None if isinstance(p, int) else p for p in path[:end])
                if prefix in known:
                    return known.index(prefix)
            return len(known)

        return position

    def view(
        self, record: CredentialRecord, lang: str, chosen: Collection[PathPattern] = ()
    ) -> CredentialView:
        """``record`` in ``lang``, with the disclosures ``chosen`` (claim paths) ticked.

        Every disclosure that shows a claim of its own is a choice; one that only holds
        other disclosures (an array of disclosable elements) is not, and is kept when one
        of them is chosen. Choosing a nested claim ticks its parents too, because the
        presentation must carry them: the page shows exactly what will be shared.

        Raises:
            InvalidInputError: a chosen path is not one of the credential's choices.
        """
        ctype = self._type(record)
        claims = record.claims()
        disclosed = [tuple(p) for p in sdjwt.disclosure_paths(record.credential)]
        rows: dict[ClaimPath, list[ClaimRow]] = {d: [] for d in disclosed}
        always: list[ClaimRow] = []
        for path, value in _leaves(claims, disclosed):
            row = self._row(ctype, path, value, lang)
            covering = [d for d in disclosed if path[: len(d)] == d]
            if covering:
                rows[max(covering, key=len)].append(row)
            else:
                always.append(row)
        offered = [d for d in disclosed if rows[d]]
        wanted = {tuple(p) for p in chosen}
        if wanted.difference(offered):
            raise errors.InvalidInputError("a chosen claim cannot be disclosed by this credential")
        # a chosen claim brings the disclosures it sits in
        ticked = {d for d in offered if any(w[: len(d)] == d for w in wanted)}
        order = self._order(ctype)
        choices = [
            Disclosure(
                path=d,
                label=ctype.label(d, lang) if ctype else json_path(d),
                rows=tuple(rows[d]),
                chosen=d in ticked,
            )
            for d in sorted(offered, key=order)
        ]
        always.sort(key=lambda r: order(r.path))
        return CredentialView(
            record=record,
            name=record.display_name(lang),
            issuer=_readable(record.issuer_name(lang)),
            description=ctype.description(lang) if ctype else "",
            type_class=f"t-{ctype.name}" if ctype else "t-unknown",
            always=tuple(always),
            choices=tuple(choices),
        )

    # -- the offline presentation ----------------------------------------------------------
    @staticmethod
    def offline_presentation(view: CredentialView) -> str:
        """The compact payload (``PS1:``) of the credential with the ticked disclosures and
        no key binding: what a paper certificate's QR code carries.

        Raises:
            QrTooLargeError: (not for these credential types) too large for a QR code.
        """
        presentation = sdjwt.present(view.record.credential, view.chosen)
        return qr.encode_payload(presentation)

    @staticmethod
    def encode(presentation: str) -> str:
        """The compact QR payload (``PS1:``) of a presentation."""
        return qr.encode_payload(presentation)

    @staticmethod
    def qr_svg(payload: str) -> str:
        """The SVG element of the QR code of ``payload`` (no XML declaration)."""
        svg = qr.render_svg(payload, box_size=4)
        return svg[svg.index("<svg") :].strip()

    @staticmethod
    def qr_png(payload: str) -> bytes:
        return qr.render_png(payload)

    # -- receiving (OpenID4VCI) ------------------------------------------------------------
    def receive(self, offer_link: str, tx_code: str | None, passphrase: str) -> ReceiveResult:
        """Redeem the offer and store what it gives. The wallet is opened with
        ``passphrase`` *before* the offer's single-use code is spent, so a wrong passphrase
        loses nothing.

        Raises:
            WalletLockedError: wrong passphrase; OfferError, GrantError (a wrong or missing
            transaction code, a used or expired code), IssuerMetadataError,
            ProofRejectedError, CredentialResponseError, EndpointError: the exchange failed.
        """
        store = self._store(passphrase)
        contents = store.load()
        holder = contents.holder_key
        with self.client_factory() as client:
            offer = oid4vci.parse_offer(offer_link, client=client)
            issued = oid4vci.receive(
                offer,
                holder_key=holder,
                client=client,
                tx_code=tx_code or None,
                iat=int(self.clock().timestamp()),
            )
        added: list[CredentialRecord] = []
        already: list[CredentialRecord] = []
        for item in issued:
            record = CredentialRecord.from_credential(
                item.credential,
                received_at=self.clock(),
                holder_kid=holder.kid,
                registry=self.registry,
                display=item.display,
                issuer_display=item.issuer_display,
                credential_issuer=item.credential_issuer,
                configuration_id=item.configuration_id,
            )
            (added if contents.add(record) else already).append(record)
        if added:
            store.save(contents)
        return ReceiveResult(contents, file_stamp(self.path), tuple(added), tuple(already))

    # -- presenting (OpenID4VP) ------------------------------------------------------------
    def read_request(self, link: str) -> oid4vp.PresentationRequest:
        """Raises PresentationRequestError, EndpointError: the request is unusable."""
        with self.client_factory() as client:
            return oid4vp.parse_request(link, client=client)

    def select(
        self,
        request: oid4vp.PresentationRequest,
        contents: WalletContents,
        only: Collection[PathPattern] | None = None,
    ) -> oid4vp.Selection:
        """Raises NoMatchingCredentialError, InvalidInputError (see :func:`oid4vp.select`)."""
        return oid4vp.select(request, contents.credentials, only=only)

    def request_view(self, selection: oid4vp.Selection, lang: str) -> RequestView:
        candidates = []
        for candidate in selection.candidates:
            record = candidate.record
            ctype = self._type(record)
            claims = record.claims()
            rows_of = []
            for claim in candidate.claims:
                rows = tuple(self._row(ctype, tuple(p), _at(claims, p), lang) for p in claim.paths)
                rows_of.append(
                    RequestClaim(
                        path=claim.path,
                        label=ctype.label(claim.path, lang) if ctype else claim.label_path,
                        rows=rows,
                        optional=claim.selectively_disclosable,
                        chosen=claim.chosen,
                    )
                )
            candidates.append(
                RequestCandidate(
                    name=record.display_name(lang),
                    issuer=_readable(record.issuer_name(lang)),
                    credential_id=record.id,
                    claims=tuple(rows_of),
                )
            )
        request = selection.request
        return RequestView(
            verifier=request.client_id,
            can_send=request.response_uri is not None,
            candidates=tuple(candidates),
        )

    def answer(self, selection: oid4vp.Selection, contents: WalletContents) -> dict[str, list[str]]:
        """The ``vp_token``: each presentation with a KB-JWT for the request's nonce and
        verifier."""
        return oid4vp.build_vp_token(selection, contents.key, iat=int(self.clock().timestamp()))

    def send(
        self, request: oid4vp.PresentationRequest, vp_token: dict[str, list[str]]
    ) -> str | None:
        """POST the answer; returns where the verifier says to continue (an http(s) URL)
        or None.

        Raises:
            PresentationRequestError: no response_uri. PresentationRejectedError,
            EndpointError: the verifier refused or cannot be reached.
        """
        with self.client_factory() as client:
            answer = oid4vp.submit(request, vp_token, client=client)
        redirect = answer.get("redirect_uri")
        try:
            # never a javascript: or data: link on the page
            return check_url(redirect, "redirect_uri", errors.PresentationRejectedError)
        except errors.PresentationRejectedError:
            return None


_COLOUR = re.compile(r"#[0-9a-fA-F]{6}")
_CLASS_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")


def type_styles(registry: TypeRegistry) -> str:
    """A style sheet giving each type's card its Type Metadata colours
    (``rendering.simple``), as ``.t-<type name>`` classes (CSP forbids inline styles)."""
    rules = []
    for ctype in registry:
        if not _CLASS_NAME.fullmatch(ctype.name):
            continue
        for entry in ctype.metadata.get("display", []):
            simple = entry.get("rendering", {}).get("simple", {})
            background, text = simple.get("background_color"), simple.get("text_color")
            if isinstance(background, str) and _COLOUR.fullmatch(background):
                colour = text if isinstance(text, str) and _COLOUR.fullmatch(text) else "#ffffff"
                rules.append(f".t-{ctype.name}{{--card:{background};--card-text:{colour}}}")
                break
    return "\n".join(rules) + "\n"


def _readable(issuer: str) -> str:
    """An issuer's name, or the host of its identifier when it has no display name."""
    parts = urlsplit(issuer)
    if parts.scheme in ("http", "https") and parts.hostname:
        return parts.hostname
    return issuer


def _text(value: Any, lang: str) -> tuple[str, str | None]:
    """A claim value as text, and the language of that text when it had one."""
    if _is_language_map(value):
        for candidate in (lang, "en"):
            if candidate in value:
                return str(value[candidate]), candidate
        first = next(iter(value))
        return str(value[first]), first
    if isinstance(value, bool):
        return ("✓" if value else "✗"), None
    if isinstance(value, list):
        return ", ".join(_text(v, lang)[0] for v in value), None
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_text(v, lang)[0]}" for k, v in value.items()), None
    return str(value), None
