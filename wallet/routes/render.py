"""Rendering the wallet page: Jinja templates and the words of the page in four languages.

Templates live in ``wallet/web/templates``, the style sheet in ``wallet/web/static`` and every
word of the page in ``wallet/web/i18n.json`` (``languages``, ``ui``, and ``errors``: one plain
sentence per error ``code``). Pages carry no script at all: forms and links do everything,
which is what lets the Content-Security-Policy forbid scripts outright.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse

from passerelle import errors
from passerelle.credtypes import LANGUAGES, is_rtl
from wallet.routes.deps import choose_language, current_session
from wallet.routes.sessions import NotUnlockedError

__all__ = ["STATIC_DIR", "TEMPLATES_DIR", "error_page", "messages", "render", "unlock_page"]

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
TEMPLATES_DIR = WEB_DIR / "templates"
STATIC_DIR = WEB_DIR / "static"


@functools.cache
def messages() -> dict[str, Any]:
    """The page's words (read once)."""
    data: dict[str, Any] = json.loads((WEB_DIR / "i18n.json").read_text(encoding="utf-8"))
    return data


@functools.cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _page_lang(request: Request) -> str:
    session = current_session(request)
    accepted = choose_language(None, request.headers.get("accept-language"))
    return session.lang or accepted or LANGUAGES[0]


def render(
    request: Request,
    template: str,
    *,
    lang: str | None = None,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    """``template`` rendered for this request's session in ``lang`` (default: the session's)."""
    session = current_session(request)
    chosen = lang or _page_lang(request)
    words = messages()
    root = str(request.scope.get("root_path", "")).rstrip("/")
    # the language links stay on this page (and its choices) when it can be fetched again
    here = request.url.path if request.method == "GET" else root + "/"
    kept = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
    if request.method != "GET":
        kept = []
    lang_links = [
        (code, words["languages"][code]["name"], f"{here}?{urlencode([*kept, ('lang', code)])}")
        for code in LANGUAGES
    ]
    html = (
        _environment()
        .get_template(template)
        .render(
            lang=chosen,
            dir="rtl" if is_rtl(chosen) else "ltr",
            t=words["ui"][chosen],
            lang_links=lang_links,
            query=urlencode(kept),
            root=root,
            csrf=session.csrf,
            unlocked=session.wallet is not None,
            **context,
        )
    )
    return HTMLResponse(html, status_code=status)


def unlock_page(
    request: Request, *, lang: str, status: int = 200, error: str | None = None
) -> HTMLResponse:
    """The unlock form, saying once why the wallet locked itself, if it did."""
    session = current_session(request)
    reason, session.locked_because = session.locked_because, None
    notice = messages()["ui"][lang][f"locked_{reason}"] if reason else None
    return render(request, "unlock.html", lang=lang, status=status, error=error, notice=notice)


def error_page(request: Request, error: errors.PasserelleError) -> HTMLResponse:
    """The page for ``error``: the unlock form when the wallet is locked, else an error page
    with one plain sentence in the worker's language and the technical detail."""
    lang = _page_lang(request)
    session = current_session(request)
    sentences: dict[str, str] = messages()["errors"][lang]
    sentence = sentences.get(error.code) or sentences["default"]
    status = error.status
    if isinstance(error, NotUnlockedError):
        return unlock_page(request, lang=lang, status=status)
    if (
        isinstance(error, errors.WalletLockedError | errors.UnlockThrottledError)
        and session.wallet is None
    ):
        return unlock_page(request, lang=lang, status=status, error=sentence)
    return render(
        request,
        "error.html",
        lang=lang,
        status=status,
        sentence=sentence,
        code=error.code,
        detail=error.detail,
    )
