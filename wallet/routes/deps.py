"""FastAPI dependencies of the wallet page, as ``Annotated`` aliases.

The objects come from ``app.state`` (built by :func:`wallet.app.create_app`'s lifespan):
``service`` (:class:`~wallet.routes.service.WalletPageService`), ``sessions``
(:class:`~wallet.routes.sessions.SessionStore`) and ``guard``
(:class:`~wallet.routes.sessions.UnlockGuard`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Form, Header, Query, Request

from passerelle.credtypes import LANGUAGES, preferred_language
from passerelle.errors import CsrfError
from wallet.routes.service import WalletPageService
from wallet.routes.sessions import (
    NotUnlockedError,
    Session,
    SessionStore,
    UnlockedWallet,
    UnlockGuard,
)

__all__ = [
    "SESSION_COOKIE",
    "CsrfDep",
    "GuardDep",
    "LangDep",
    "ServiceDep",
    "SessionDep",
    "SessionsDep",
    "WalletDep",
    "choose_language",
    "current_session",
]

#: The cookie holding the session id (HttpOnly, SameSite=Strict; see wallet.app).
SESSION_COOKIE = "passerelle_wallet"


def get_service(request: Request) -> WalletPageService:
    service: WalletPageService = request.app.state.service
    return service


def get_sessions(request: Request) -> SessionStore:
    sessions: SessionStore = request.app.state.sessions
    return sessions


def get_guard(request: Request) -> UnlockGuard:
    guard: UnlockGuard = request.app.state.guard
    return guard


def current_session(request: Request) -> Session:
    """The browser's session (from its cookie), a new one when it has none or it expired.

    Kept on ``request.state.session``, where the app's middleware finds it to set the
    cookie when the id changed.
    """
    found: Session | None = getattr(request.state, "session", None)
    if found is None:
        sessions = get_sessions(request)
        found = sessions.get(request.cookies.get(SESSION_COOKIE)) or sessions.new()
        request.state.session = found
    return found


def choose_language(requested: str | None, accept_language: str | None) -> str | None:
    """``requested`` when it is a page language, else the best one of ``accept_language``
    (None when it names none): never an error."""
    if requested and requested.strip().lower() in LANGUAGES:
        return requested.strip().lower()
    return preferred_language(accept_language)


def get_lang(
    request: Request,
    lang: Annotated[str | None, Query(max_length=8)] = None,
    accept_language: Annotated[str | None, Header()] = None,
) -> str:
    """The page language: ``?lang=`` (remembered by the session), else the session's, else
    the browser's ``Accept-Language``, else English."""
    session = current_session(request)
    if lang and lang in LANGUAGES:
        session.lang = lang
    return session.lang or choose_language(None, accept_language) or LANGUAGES[0]


def get_wallet(request: Request) -> UnlockedWallet:
    """The session's decrypted wallet.

    Raises:
        NotUnlockedError: the wallet is not unlocked in this session (or it just locked
            itself: the file changed on disk since it was read).
    """
    session = current_session(request)
    wallet = session.wallet
    if wallet is not None and get_service(request).changed(wallet):
        session.lock("changed")
        wallet = None
    if wallet is None:
        raise NotUnlockedError("the wallet is locked: open it with your passphrase")
    return wallet


def check_csrf(
    request: Request,
    csrf: Annotated[str, Form(max_length=128)] = "",
    origin: Annotated[str | None, Header()] = None,
) -> None:
    """A form post must carry the session's CSRF token and, when the browser says where it
    comes from, come from this page.

    Raises:
        CsrfError: a missing or wrong token, or another origin.
    """
    if origin is not None:
        expected = f"{request.url.scheme}://{request.headers.get('host', '')}"
        if origin != expected:
            raise CsrfError("the form was sent from another site")
    current_session(request).check_csrf(csrf)


ServiceDep = Annotated[WalletPageService, Depends(get_service)]
SessionsDep = Annotated[SessionStore, Depends(get_sessions)]
GuardDep = Annotated[UnlockGuard, Depends(get_guard)]
SessionDep = Annotated[Session, Depends(current_session)]
LangDep = Annotated[str, Depends(get_lang)]
WalletDep = Annotated[UnlockedWallet, Depends(get_wallet)]
CsrfDep = Annotated[None, Depends(check_csrf)]
