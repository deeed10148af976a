"""The employer's web page: scan, upload or paste a credential and read the answer.

``router`` serves two things and nothing else:

- ``GET /``: the page, rendered on the server in the chosen language (``?lang=``, else the
  browser's ``Accept-Language``, else English; Arabic is laid out right to left). The page's
  script calls the verification API (``POST /api/v1/verify``) of the same service.
- ``GET /static/{path}``: the page's script, style sheet, messages and the vendored QR
  scanner, straight from ``STATIC_DIR``. The app includes the router and mounts nothing.

All the words of the page (interface, check names, one plain sentence per error ``code``) are in
one file, ``static/i18n.json``, in English, French, Spanish and Arabic. Meanings of the code lists
the verification result does not explain (assessment method, proficiency) come from
``passerelle.codelists`` and are handed to the page with the messages.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Annotated, Any

import jinja2
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import FileResponse, HTMLResponse

from passerelle import codelists, errors
from passerelle.credtypes import LANGUAGES, preferred_language

__all__ = ["API_PATH", "LANGUAGES", "STATIC_DIR", "choose_language", "router"]

STATIC_DIR = Path(__file__).resolve().parent / "static"
TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
#: Where the page's script sends credentials (relative to the app's root path).
API_PATH = "/api/v1/verify"
#: Code lists the page explains itself (the result's ``meaning`` covers ISCO, EQF, ISCED).
_PAGE_CODELISTS = ("assessment_method", "proficiency")
# Everything the page loads is its own; the camera preview and the receipt are blob: URLs.
_PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
        "media-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Permissions-Policy": "camera=(self), microphone=(), geolocation=()",
    "Cache-Control": "no-cache",
}
_STATIC_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}

router = APIRouter(include_in_schema=False)


@functools.cache
def _messages() -> dict[str, Any]:
    messages: dict[str, Any] = json.loads((STATIC_DIR / "i18n.json").read_text(encoding="utf-8"))
    return messages


@functools.cache
def _codelist_words() -> dict[str, dict[str, dict[str, str]]]:
    """``{list: {lang: {code: words}}}`` for the lists in ``_PAGE_CODELISTS``."""
    words: dict[str, dict[str, dict[str, str]]] = {}
    for name in _PAGE_CODELISTS:
        words[name] = {
            lang: {
                code: codelists.describe(name, code, lang) or code
                for code in codelists.list_codes(name)
            }
            for lang in LANGUAGES
        }
    return words


@functools.cache
def _templates() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=jinja2.select_autoescape(("html",)),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    # |tojson still escapes < > & ' for the <script> element; Arabic stays readable and small.
    environment.policies["json.dumps_kwargs"] = {"sort_keys": True, "ensure_ascii": False}
    return environment


def choose_language(requested: str | None, accept_language: str | None) -> str:
    """The page language: ``requested`` if supported, else the best of ``accept_language``.

    Unsupported or malformed values are ignored (never an error); English is the fallback.
    """
    if requested:
        primary = requested.strip().split("-")[0].lower()
        if primary in LANGUAGES:
            return primary
    return preferred_language(accept_language) or LANGUAGES[0]


@router.get("/", response_class=HTMLResponse)
def employer_page(
    request: Request,
    lang: Annotated[str | None, Query(max_length=35)] = None,
    accept_language: Annotated[str | None, Header()] = None,
) -> HTMLResponse:
    """The employer's verification page in the chosen language."""
    chosen = choose_language(lang, accept_language)
    messages = _messages()
    root = str(request.scope.get("root_path", "")).rstrip("/")
    bootstrap = {
        "lang": chosen,
        "api": root + API_PATH,
        "page": root + "/",
        "languages": messages["languages"],
        "ui": messages["ui"],
        "checks": messages["checks"],
        "passed": messages["passed"],
        "codes": messages["codes"],
        "codelists": _codelist_words(),
    }
    html = (
        _templates()
        .get_template("employer.html")
        .render(
            lang=chosen,
            dir=messages["languages"][chosen]["dir"],
            t=messages["ui"][chosen],
            languages=messages["languages"],
            static=root + "/static",
            page=root + "/",
            bootstrap=bootstrap,
        )
    )
    return HTMLResponse(html, headers=_PAGE_HEADERS)


@router.get("/static/{file_path:path}")
def static_file(file_path: str) -> FileResponse:
    """A script, style sheet, image or JSON file of ``STATIC_DIR`` (nothing outside it).

    Raises:
        NotFoundError: no such file.
    """
    base = STATIC_DIR.resolve()
    target = (base / file_path).resolve()
    hidden = any(part.startswith(".") for part in Path(file_path).parts)
    if hidden or not target.is_relative_to(base) or target.suffix not in _STATIC_TYPES:
        raise errors.NotFoundError("no such static file")
    if not target.is_file():
        raise errors.NotFoundError("no such static file")
    vendored = target.is_relative_to(base / "vendor")
    return FileResponse(
        target,
        media_type=_STATIC_TYPES[target.suffix],
        headers={
            "Cache-Control": "public, max-age=86400" if vendored else "no-cache",
            "X-Content-Type-Options": "nosniff",
        },
    )
