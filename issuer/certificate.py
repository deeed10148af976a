"""Printable certificates: an A4 HTML page with the credential's QR code, and its PDF.

A training centre prints the certificate and hands it to the graduate; an employer abroad
reads it and scans the QR code, which carries the compact paper payload of the signed
credential (:func:`passerelle.qr.encode_payload`). The page is one self-contained HTML
document: inline CSS (``@page`` A4, print styles), the QR code inline as SVG (vector, so it
prints sharply at any resolution), no script and nothing fetched except an optional logo.
Labels come from the credential type's metadata (the same words a verifier shows); coded
claims (ISCO-08, EQF, ISCED-F, assessment method, proficiency) are described in words with
:mod:`passerelle.codelists`. English, French, Spanish and Arabic (right to left) are
supported; every value is escaped by Jinja2's autoescaping.

Public API:

- :func:`render_certificate_html` builds the page (pure, no I/O besides reading the
  template once).
- :class:`PdfRenderer` keeps one headless Chromium for the app's lifetime (``start`` and
  ``close`` from the lifespan) and prints pages to PDF; :func:`render_certificate_pdf` is
  the one-shot synchronous form for scripts and the CLI.
- :class:`IssuerProfile` is what the page says about the issuing centre.

Errors: bad arguments raise :class:`passerelle.errors.InvalidInputError`; a QR payload too
large for a QR code raises :class:`passerelle.errors.QrTooLargeError`; any failure of the
PDF engine raises :class:`CertificateRenderError`, which the service maps to a 503 problem.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from passerelle import codelists, qr
from passerelle.credtypes import LANGUAGES, CredentialType, is_rtl
from passerelle.errors import InvalidInputError

if TYPE_CHECKING:
    from playwright.async_api import Browser, BrowserContext, Page, Playwright

__all__ = [
    "CHROMIUM_ARGS",
    "CHROMIUM_PATH",
    "QR_ERROR_CORRECTION",
    "CertificateRenderError",
    "IssuerProfile",
    "PdfRenderer",
    "format_date",
    "render_certificate_html",
    "render_certificate_pdf",
]

#: Debian's Chromium; Playwright's own browser downloads are never used.
CHROMIUM_PATH: Final = "/usr/bin/chromium"
#: Flags for a headless Chromium that talks to no Google service and needs no sandbox
#: privileges (containers); shared with the tests' browser fixture.
CHROMIUM_ARGS: Final[tuple[str, ...]] = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
#: QR error correction on paper: M (15 %) keeps modules large enough for phone cameras
#: (a qualification is a version-19 code, 0.45 mm a module at the printed size).
QR_ERROR_CORRECTION: Final = "M"

_HERE = Path(__file__).resolve().parent
_TEMPLATE = "certificate.html"
_STYLESHEET = _HERE / "static" / "certificate.css"
_DEFAULT_ACCENT = "#0b5d5b"
_HEX_COLOUR = re.compile(r"#[0-9A-Fa-f]{6}")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# Data URIs of raster images only: an SVG logo could carry script.
_LOGO_URL = re.compile(r"(?:https://\S+|data:image/(?:png|jpeg|webp);base64,[A-Za-z0-9+/=]+)")
# Claims shown elsewhere on the page, or meant for machines (long ESCO URIs live in the QR).
_NOT_IN_DETAILS = frozenset(
    {"title", "description", "esco_occupation", "esco_skills", "esco_skill"}
)
_CODED = {
    "isco08": "isco08",
    "isced_f": "iscedf",
    "assessment_method": "assessment_method",
    "proficiency": "proficiency",
}

_MONTHS: Final[Mapping[str, tuple[str, ...]]] = {
    "en": (
        "January", "February", "March", "April", "May", "June",
        "July", "August", "September", "October", "November", "December",
    ),
    "fr": (
        "janvier", "février", "mars", "avril", "mai", "juin",
        "juillet", "août", "septembre", "octobre", "novembre", "décembre",
    ),
    "es": (
        "enero", "febrero", "marzo", "abril", "mayo", "junio",
        "julio", "agosto", "septiembre", "octubre", "noviembre", "diciembre",
    ),
    "ar": (
        "يناير", "فبراير", "مارس", "أبريل", "مايو", "يونيو",
        "يوليو", "أغسطس", "سبتمبر", "أكتوبر", "نوفمبر", "ديسمبر",
    ),
}  # fmt: skip

#: Language names for ``language_of_instruction``; other codes are shown as they are.
_LANGUAGE_NAMES: Final[Mapping[str, Mapping[str, str]]] = {
    "en": {"en": "English", "fr": "French", "es": "Spanish", "ar": "Arabic"},
    "fr": {"en": "anglais", "fr": "français", "es": "espagnol", "ar": "arabe"},
    "es": {"en": "inglés", "fr": "francés", "es": "español", "ar": "árabe"},
    "ar": {"en": "الإنجليزية", "fr": "الفرنسية", "es": "الإسبانية", "ar": "العربية"},
}

#: The page's own words (claim labels come from the type metadata instead).
_PHRASES: Final[Mapping[str, Mapping[str, str]]] = {
    "en": {
        "comma": ", ",
        "colon": ": ",
        "awarded_to": "This certificate is awarded to",
        "accreditation": "Accreditation",
        "number_sign": "No.",
        "issued_on": "Issued on",
        "valid_until": "Valid until",
        "scan": "Scan to verify",
        "scan_note": "The QR code carries the signed digital credential. Scan it with a "
        "Passerelle verifier to check that this certificate is authentic and still valid.",
        "qr_alt": "QR code of the signed credential",
    },
    "fr": {
        "comma": ", ",
        "colon": "\u00a0: ",
        "awarded_to": "Le présent certificat est décerné à",
        "accreditation": "Accréditation",
        "number_sign": "n°",
        "issued_on": "Délivré le",
        "valid_until": "Valable jusqu'au",
        "scan": "Scannez pour vérifier",
        "scan_note": "Le code QR contient l'attestation numérique signée. Scannez-le avec un "
        "vérificateur Passerelle pour contrôler l'authenticité et la validité de ce certificat.",
        "qr_alt": "Code QR de l'attestation signée",
    },
    "es": {
        "comma": ", ",
        "colon": ": ",
        "awarded_to": "El presente certificado se otorga a",
        "accreditation": "Acreditación",
        "number_sign": "n.º",
        "issued_on": "Expedido el",
        "valid_until": "Válido hasta el",
        "scan": "Escanee para verificar",
        "scan_note": "El código QR contiene la credencial digital firmada. Escanéelo con un "
        "verificador Passerelle para comprobar que este certificado es auténtico y válido.",
        "qr_alt": "Código QR de la credencial firmada",
    },
    "ar": {
        "comma": "، ",
        "colon": ": ",
        "awarded_to": "تُمنح هذه الشهادة إلى",
        "accreditation": "الاعتماد",
        "number_sign": "رقم",
        "issued_on": "تاريخ الإصدار",
        "valid_until": "صالحة حتى",
        "scan": "امسح الرمز للتحقق",
        "scan_note": "يحمل رمز الاستجابة السريعة الشهادة الرقمية الموقّعة. امسحه بأداة تحقق "
        "Passerelle للتأكد من أن هذه الشهادة أصلية وما زالت سارية.",
        "qr_alt": "رمز الاستجابة السريعة للشهادة الموقّعة",
    },
}


class CertificateRenderError(RuntimeError):
    """The PDF engine is missing, did not start, crashed or timed out.

    Not a request problem: the service answers 503 (proposed error code
    ``render_unavailable``). The message names the cause and never holds personal data.
    """


# -- the issuing centre ----------------------------------------------------------------------


def _pick_text(texts: Mapping[str, str], lang: str) -> tuple[str, str] | None:
    """``(text, its language)`` for ``lang``: exact tag, same primary language, English,
    then the first language given. None when ``texts`` holds no non-empty text."""
    usable = {str(k): v for k, v in texts.items() if isinstance(v, str) and v.strip()}
    if not usable:
        return None
    wanted = lang.replace("_", "-").lower()
    lowered = {k.lower(): k for k in usable}
    primary = wanted.split("-", 1)[0]
    candidates = [wanted, *(k for k in lowered if k.split("-", 1)[0] == primary), "en"]
    for candidate in candidates:
        if candidate in lowered:
            key = lowered[candidate]
            return usable[key], key
    key = next(iter(usable))
    return usable[key], key


@dataclass(frozen=True, slots=True)
class IssuerProfile:
    """What the certificate says about the issuing centre.

    ``names`` and, when it is a mapping, ``accreditation_body`` are keyed by language tag
    (``{"fr": "...", "ar": "..."}``). ``logo_url`` is an ``https:`` URL or a ``data:`` URI
    of a PNG, JPEG or WebP image; only a ``data:`` URI appears in PDFs, whose renderer
    works offline.
    """

    names: Mapping[str, str]
    country: str
    accreditation_body: str | Mapping[str, str]
    accreditation_number: str
    website: str | None = None
    logo_url: str | None = None

    def __post_init__(self) -> None:
        if _pick_text(self.names, "en") is None:
            raise InvalidInputError("the issuer profile needs a legal name in one language")
        if self.logo_url is not None and not _LOGO_URL.fullmatch(self.logo_url):
            raise InvalidInputError(
                "the logo must be an https URL or a data: URI of a PNG, JPEG or WebP image"
            )
        if self.website is not None and not re.fullmatch(r"https?://\S+", self.website):
            raise InvalidInputError("the issuer's website must be an http(s) URL")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> IssuerProfile:
        """A profile from a mapping with the field names as keys (``website`` and
        ``logo_url`` optional).

        Raises:
            InvalidInputError: a key is missing, unknown or of the wrong type.
        """
        known = {"names", "country", "accreditation_body", "accreditation_number"}
        optional = {"website", "logo_url"}
        unknown = sorted(set(data) - known - optional)
        missing = sorted(known - set(data))
        if unknown or missing:
            raise InvalidInputError(
                "issuer profile: "
                + "; ".join(
                    part
                    for part in (
                        f"missing {', '.join(missing)}" if missing else "",
                        f"unknown {', '.join(unknown)}" if unknown else "",
                    )
                    if part
                )
            )
        names, body = data["names"], data["accreditation_body"]
        if not isinstance(names, Mapping):
            raise InvalidInputError("issuer profile: names must map language tags to names")
        if not isinstance(body, str | Mapping):
            raise InvalidInputError(
                "issuer profile: accreditation_body must be a name or map language tags to names"
            )
        for key in ("country", "accreditation_number"):
            if not isinstance(data[key], str):
                raise InvalidInputError(f"issuer profile: {key} must be a string")
        for key in optional:
            if data.get(key) is not None and not isinstance(data[key], str):
                raise InvalidInputError(f"issuer profile: {key} must be a string")
        return cls(
            names=dict(names),
            country=data["country"],
            accreditation_body=body if isinstance(body, str) else dict(body),
            accreditation_number=data["accreditation_number"],
            website=data.get("website"),
            logo_url=data.get("logo_url"),
        )

    def name(self, lang: str) -> tuple[str, str]:
        """The legal name in ``lang`` (else English, else any) and the language it is in."""
        picked = _pick_text(self.names, lang)
        assert picked is not None  # checked at construction
        return picked

    def accreditation_body_name(self, lang: str) -> tuple[str, str]:
        """The accreditation body's name in ``lang`` (as for :meth:`name`)."""
        if isinstance(self.accreditation_body, str):
            return self.accreditation_body, ""
        return _pick_text(self.accreditation_body, lang) or ("", "")


# -- localisation ----------------------------------------------------------------------------


def _page_language(lang: str) -> str:
    primary = lang.replace("_", "-").split("-", 1)[0].lower()
    if primary not in LANGUAGES:
        raise InvalidInputError(
            f"certificates are printed in {', '.join(LANGUAGES)}; not in {lang!r}"
        )
    return primary


def format_date(value: date, lang: str) -> str:
    """``value`` written out for ``lang``: "4 July 2025", "1er juillet 2025",
    "4 de julio de 2025", "4 يوليو 2025" (Western digits, as in the Maghreb).

    Raises:
        InvalidInputError: ``lang`` is not one of the certificate languages.
    """
    page = _page_language(lang)
    month = _MONTHS[page][value.month - 1]
    if page == "fr":
        day = "1er" if value.day == 1 else str(value.day)
        return f"{day} {month} {value.year}"
    if page == "es":
        return f"{value.day} de {month} de {value.year}"
    return f"{value.day} {month} {value.year}"


def _format_int(value: int, lang: str) -> str:
    grouped = f"{value:,}"
    if lang == "fr":
        return grouped.replace(",", "\u202f")  # narrow no-break space
    if lang == "es":  # Spanish groups from five digits on
        return grouped.replace(",", ".") if abs(value) >= 10_000 else str(value)
    return grouped


# -- the page's content ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Text:
    """A text and the language it is in ("" when it is the page's language)."""

    text: str
    lang: str = ""

    @property
    def dir(self) -> str:
        return ("rtl" if is_rtl(self.lang) else "ltr") if self.lang else ""


@dataclass(frozen=True, slots=True)
class _Detail:
    label: str
    code: str = ""
    text: str = ""
    note: str = ""


@dataclass(frozen=True, slots=True)
class _Page:
    lang: str
    dir: str
    density: str
    accent: str
    title: str
    type_name: str
    phrases: Mapping[str, str]
    centre: _Text
    centre_country: str
    website: str
    logo_url: str
    holder_name: str
    holder_size: str
    birthdate_label: str
    birthdate: str
    achievement_label: str
    achievement_title: _Text
    title_size: str
    description: _Text | None
    details: Sequence[_Detail]
    accreditation_body: _Text
    accreditation_number: str
    issued_on: str
    valid_until: str
    number_label: str
    number: str
    qr_svg: Markup


def _achievement(claims: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]]:
    """The claim holding what was achieved: the first object claim with a ``title``."""
    for name, value in claims.items():
        if isinstance(value, Mapping) and isinstance(value.get("title"), Mapping):
            return name, value
    raise InvalidInputError("the claims hold no achievement (an object with a title)")


def _as_date(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return None


def _detail(label: str, name: str, value: Any, lang: str) -> _Detail | None:
    """One line of the details grid, or None for a value the paper does not show."""
    if name in _CODED and isinstance(value, str | int):
        described = codelists.describe(_CODED[name], value, lang)
        if name in ("isco08", "isced_f"):
            return _Detail(label, code=str(value), text=described or "")
        return _Detail(label, text=described or str(value))
    if name == "eqf_level" and isinstance(value, int):
        return _Detail(label, code=str(value), note=codelists.describe("eqf", value, lang) or "")
    if name == "nqf" and isinstance(value, Mapping):
        level = value.get("level")
        framework = value.get("framework")
        return _Detail(
            label,
            code=str(level) if level is not None else "",
            text=str(framework) if framework is not None else "",
        )
    if name == "language_of_instruction" and isinstance(value, str):
        return _Detail(label, text=_LANGUAGE_NAMES[lang].get(value.lower(), value))
    if name == "learning_hours" and isinstance(value, int) and not isinstance(value, bool):
        return _Detail(label, code=_format_int(value, lang))
    when = _as_date(value)
    if when is not None:
        return _Detail(label, text=format_date(when, lang))
    if isinstance(value, str):
        # codes such as a country (MA) are read the same way in every language
        return _Detail(label, code=value) if len(value) <= 3 else _Detail(label, text=value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _Detail(label, code=str(value))
    if isinstance(value, list) and all(isinstance(v, str) for v in value) and value:
        return _Detail(label, text=", ".join(value))
    return None


def _details(
    ctype: CredentialType, achievement_name: str, achievement: Mapping[str, Any], lang: str
) -> list[_Detail]:
    """The achievement's claims in the type metadata's order, then any it does not list."""
    described = [
        path[1]
        for path in ctype.claim_paths()
        if len(path) == 2 and path[0] == achievement_name and isinstance(path[1], str)
    ]
    names = [n for n in described if n in achievement]
    names += [n for n in achievement if n not in described]
    rows: list[_Detail] = []
    for name in names:
        if name in _NOT_IN_DETAILS:
            continue
        label = ctype.label((achievement_name, name), lang)
        row = _detail(label, name, achievement[name], lang)
        if row is not None:
            rows.append(row)
    return rows


def _accent(ctype: CredentialType) -> str:
    """The type's card colour from its metadata (validated: it goes into CSS)."""
    for entry in ctype.metadata.get("display", []):
        colour = entry.get("rendering", {}).get("simple", {}).get("background_color")
        if isinstance(colour, str) and _HEX_COLOUR.fullmatch(colour):
            return colour
    return _DEFAULT_ACCENT


def _qr_svg(payload: str) -> Markup:
    """The QR code as an inline ``<svg>`` element (the XML prologue removed)."""
    document = qr.render_svg(payload, ec=QR_ERROR_CORRECTION, box_size=1, border=4)
    start = document.index("<svg")
    # our own markup from a matrix of booleans: no claim text can reach it
    return Markup(document[start:].strip())  # noqa: S704


@cache
def _environment() -> Environment:
    """The Jinja2 environment, built on first use; autoescaping is on for every template."""
    return Environment(
        # by path, not by package name: tests/issuer/ can shadow the name "issuer"
        loader=FileSystemLoader(_HERE / "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


@cache
def _stylesheet() -> Markup:
    # our own file, inlined so the page is self-contained
    return Markup(_STYLESHEET.read_text(encoding="utf-8"))  # noqa: S704


def _size_class(block: str, text: str, *, long: int, longer: int) -> str:
    """A modifier class that sets long texts smaller, so that every page fits one sheet."""
    if len(text) > longer:
        return f" {block}--longer"
    if len(text) > long:
        return f" {block}--long"
    return ""


def _density(holder: str, title: str, description: str) -> str:
    """``compact`` (three columns of details, less space) when long texts need the room."""
    crowded = len(holder) > 56 or len(title) > 90 or len(description) > 150
    return "compact" if crowded else "regular"


def _text(value: Any, field_name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError(f"the claims need {field_name} (a non-empty string)")
    return value.strip()


def render_certificate_html(
    *,
    claims: Mapping[str, Any],
    credential_type: CredentialType,
    issuer: IssuerProfile | Mapping[str, Any],
    lang: str,
    qr_payload: str,
    issued_at: datetime,
    expires_at: datetime | None = None,
    credential_number: str | None = None,
) -> str:
    """The printable A4 certificate of a credential, as one self-contained HTML page.

    ``claims`` are the subject claims as issued (``schemas/<type>/example.json`` shows
    them); ``qr_payload`` is what the QR code must carry, usually
    ``qr.encode_payload(compact_sd_jwt)`` or a verifier URL ending in ``#PS1:...``.
    ``lang`` is ``en``, ``fr``, ``es`` or ``ar`` (a region such as ``fr-MA`` is allowed);
    the achievement's title is shown in that language when the claims have it, else in
    English, else in the first language they have. ``issued_at`` and ``expires_at`` are
    printed as the calendar dates of the datetimes as given (pass them in the centre's
    time zone). ``credential_number`` defaults to the ``credential_number`` claim.

    Raises:
        InvalidInputError: an unsupported ``lang``, a bad issuer profile, or claims without
            a family name or an achievement with a title.
        QrTooLargeError: ``qr_payload`` does not fit in a QR code.
    """
    page_lang = _page_language(lang)
    profile = issuer if isinstance(issuer, IssuerProfile) else IssuerProfile.from_mapping(issuer)
    ctype = credential_type
    phrases = _PHRASES[page_lang]

    family = _text(claims.get("family_name"), "family_name")
    given = claims.get("given_name")
    holder = f"{given.strip()} {family}" if isinstance(given, str) and given.strip() else family

    achievement_name, achievement = _achievement(claims)
    title = _pick_text(achievement["title"], page_lang)
    if title is None:
        raise InvalidInputError(f"the claims need a title for {achievement_name}")
    description_texts = achievement.get("description")
    description = (
        _pick_text(description_texts, page_lang) if isinstance(description_texts, Mapping) else None
    )

    def foreign(text: str, text_lang: str) -> _Text:
        """Tag a text with its language only when it differs from the page's."""
        same = text_lang.split("-", 1)[0].lower() in ("", page_lang)
        return _Text(text, "" if same else text_lang)

    birth = _as_date(claims.get("birthdate"))
    number = credential_number or claims.get("credential_number") or ""
    body_name, body_lang = profile.accreditation_body_name(page_lang)
    centre_name, centre_lang = profile.name(page_lang)
    type_name = ctype.display_name(page_lang)

    page = _Page(
        lang=page_lang,
        dir="rtl" if is_rtl(page_lang) else "ltr",
        density=_density(holder, title[0], description[0] if description else ""),
        accent=_accent(ctype),
        title=f"{type_name} — {holder}",
        type_name=type_name,
        phrases=phrases,
        centre=foreign(centre_name, centre_lang),
        centre_country=profile.country,
        website=profile.website or "",
        logo_url=profile.logo_url or "",
        holder_name=holder,
        holder_size=_size_class("holder", holder, long=28, longer=56),
        birthdate_label=ctype.label(("birthdate",), page_lang),
        birthdate=format_date(birth, page_lang) if birth else "",
        achievement_label=ctype.label((achievement_name, "title"), page_lang),
        achievement_title=foreign(*title),
        title_size=_size_class("achievement", title[0], long=90, longer=180),
        description=foreign(*description) if description else None,
        details=_details(ctype, achievement_name, achievement, page_lang),
        accreditation_body=foreign(body_name, body_lang),
        accreditation_number=profile.accreditation_number,
        issued_on=format_date(issued_at.date(), page_lang),
        valid_until=format_date(expires_at.date(), page_lang) if expires_at else "",
        number_label=ctype.label(("credential_number",), page_lang),
        number=str(number),
        qr_svg=_qr_svg(qr_payload),
    )
    template = _environment().get_template(_TEMPLATE)
    return template.render(page=page, stylesheet=_stylesheet())


# -- PDF -------------------------------------------------------------------------------------


class PdfRenderer:
    """One headless Chromium, started once, that prints HTML pages to A4 PDFs.

    Why Chromium (through Playwright) rather than WeasyPrint: the PDF is then exactly what
    the screenshot test looked at and what a registrar sees when printing from a browser
    (same layout engine, same fonts, Arabic shaped by HarfBuzz), and no second layout
    engine comes in with its own CSS subset and its own Pango system libraries. The price
    is a Chromium on the server (Debian's ``chromium`` package, about 150 MB of memory
    while running), which is why one browser is kept for the app's lifetime: launching it
    takes about 0.6 s, a warm print about 70 ms (figures in the test module's docstring).

    Pages are printed in one browser context with JavaScript disabled and the network
    offline: a certificate cannot run script or make the server fetch a URL (so a logo
    must be a ``data:`` URI to appear in the PDF). Tabs are kept and reused, because opening
    one costs more than printing; ``max_concurrent`` bounds the tabs (memory), ``timeout``
    (seconds) each print. A browser that died is relaunched on the next render.

    Use it from the service's lifespan::

        renderer = PdfRenderer()
        await renderer.start()
        ...
        pdf = await renderer.render(html)
        ...
        await renderer.close()

    or as ``async with PdfRenderer() as renderer:``.
    """

    def __init__(
        self,
        *,
        executable_path: str = CHROMIUM_PATH,
        args: Sequence[str] = CHROMIUM_ARGS,
        max_concurrent: int = 4,
        timeout: float = 20.0,
    ) -> None:
        if max_concurrent < 1 or timeout <= 0:
            raise InvalidInputError("max_concurrent must be at least 1 and timeout positive")
        self._executable_path = executable_path
        self._args = list(args)
        self._timeout_ms = timeout * 1000
        self._slots = asyncio.Semaphore(max_concurrent)
        self._lock = asyncio.Lock()
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None
        self._context: BrowserContext | None = None
        self._idle: list[Page] = []

    @property
    def started(self) -> bool:
        """Whether :meth:`start` succeeded and :meth:`close` has not been called since."""
        return self._context is not None

    async def start(self) -> None:
        """Launch Chromium; does nothing when it is running.

        Raises:
            CertificateRenderError: Playwright is not installed, there is no Chromium at
                ``executable_path``, or it failed to start.
        """
        async with self._lock:
            if self._browser is not None and self._browser.is_connected():
                return
            await self._shutdown()
            await self._launch()

    async def _launch(self) -> None:
        try:
            from playwright.async_api import Error as PlaywrightError
            from playwright.async_api import async_playwright
        except ImportError as exc:
            raise CertificateRenderError(
                "PDF rendering needs the playwright package (pip install playwright)"
            ) from exc
        if not Path(self._executable_path).is_file():
            raise CertificateRenderError(
                f"no Chromium at {self._executable_path} (apt-get install chromium)"
            )
        try:
            self._playwright = await async_playwright().start()
            self._browser = await self._playwright.chromium.launch(
                executable_path=self._executable_path,
                args=self._args,
                headless=True,
                timeout=self._timeout_ms,
            )
            self._context = await self._browser.new_context(java_script_enabled=False, offline=True)
        except PlaywrightError as exc:
            await self._shutdown()
            raise CertificateRenderError(f"Chromium did not start: {exc.message}") from exc

    async def _shutdown(self) -> None:
        browser, playwright = self._browser, self._playwright
        self._browser = self._playwright = self._context = None
        self._idle.clear()
        try:
            if browser is not None:
                await browser.close()
        except Exception:  # noqa: S110 - a browser that died needs no closing
            pass
        finally:
            if playwright is not None:
                await playwright.stop()

    async def close(self) -> None:
        """Close Chromium; does nothing when it is not running."""
        async with self._lock:
            await self._shutdown()

    async def __aenter__(self) -> PdfRenderer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def render(self, html: str) -> bytes:
        """The PDF of ``html``: A4 unless the page's ``@page`` says otherwise, backgrounds
        printed, no margins added (the certificate's CSS has its own).

        Raises:
            CertificateRenderError: not started, Chromium failed or the print timed out.
        """
        from playwright.async_api import Error as PlaywrightError

        if self._context is None or self._browser is None:
            raise CertificateRenderError("the PDF renderer is not started")
        if not self._browser.is_connected():
            await self.start()  # relaunch after a crash
        async with self._slots:
            page = await self._take_page()
            try:
                await page.set_content(html, wait_until="load", timeout=self._timeout_ms)
                pdf = await page.pdf(
                    format="A4",
                    print_background=True,
                    prefer_css_page_size=True,
                    margin={"top": "0", "right": "0", "bottom": "0", "left": "0"},
                )
            except PlaywrightError as exc:
                with contextlib.suppress(PlaywrightError):
                    await page.close()
                raise CertificateRenderError(f"printing to PDF failed: {exc.message}") from exc
            self._idle.append(page)
            return pdf

    async def _take_page(self) -> Page:
        from playwright.async_api import Error as PlaywrightError

        while self._idle:
            page = self._idle.pop()
            if not page.is_closed():
                return page
        if self._context is None:
            raise CertificateRenderError("the PDF renderer was closed")
        try:
            return await self._context.new_page()
        except PlaywrightError as exc:
            raise CertificateRenderError(f"Chromium failed: {exc.message}") from exc


def render_certificate_pdf(html: str, *, executable_path: str = CHROMIUM_PATH) -> bytes:
    """The A4 PDF of ``html``, launching Chromium for this one document (about a second).

    For scripts, the CLI and tests; a service keeps a :class:`PdfRenderer` instead. It
    blocks the caller; where an event loop already runs in this thread (Playwright's sync
    API leaves one), the work is done on a helper thread with its own loop.

    Raises:
        CertificateRenderError: as :meth:`PdfRenderer.start` and :meth:`PdfRenderer.render`.
    """

    async def once() -> bytes:
        async with PdfRenderer(executable_path=executable_path) as renderer:
            return await renderer.render(html)

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(once())
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="certificate-pdf") as pool:
        return pool.submit(asyncio.run, once()).result()
