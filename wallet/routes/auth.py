"""The home page (unlock form or list of credentials), unlocking and locking."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from passerelle import errors
from wallet.routes.deps import (
    CsrfDep,
    GuardDep,
    LangDep,
    ServiceDep,
    SessionDep,
    SessionsDep,
)
from wallet.routes.render import render, unlock_page

__all__ = ["router"]

router = APIRouter()


@router.get("/", response_class=HTMLResponse)
def home(request: Request, session: SessionDep, service: ServiceDep, lang: LangDep) -> HTMLResponse:
    """The worker's credentials when the wallet is open, else the unlock form."""
    wallet = session.wallet
    if wallet is not None and service.changed(wallet):
        session.lock("changed")
        wallet = None
    if wallet is None:
        return unlock_page(request, lang=lang)
    views = [service.view(record, lang) for record in wallet.contents.credentials]
    return render(request, "list.html", lang=lang, credentials=views)


@router.post("/unlock")
def unlock(
    request: Request,
    _csrf: CsrfDep,
    session: SessionDep,
    sessions: SessionsDep,
    guard: GuardDep,
    service: ServiceDep,
    passphrase: Annotated[str, Form(max_length=1024)] = "",
) -> Response:
    """Open the wallet with ``passphrase`` for this session (a new session id).

    Raises:
        WalletLockedError: wrong passphrase or damaged file (401). WalletNotFoundError:
        no wallet yet. UnlockThrottledError: too many wrong passphrases in a row (429).
    """
    guard.check()
    try:
        wallet = service.unlock(passphrase)
    except errors.WalletLockedError:
        guard.failed()
        raise
    guard.succeeded()
    request.state.session = sessions.unlock(session, wallet)
    return RedirectResponse(str(request.url_for("home")), status_code=303)


@router.post("/lock")
def lock(request: Request, _csrf: CsrfDep, session: SessionDep, sessions: SessionsDep) -> Response:
    """Forget the decrypted wallet and the session (on a shared device: when done)."""
    lang = session.lang
    sessions.drop(session)
    request.state.session = sessions.new(lang=lang)
    return RedirectResponse(str(request.url_for("home")), status_code=303)
