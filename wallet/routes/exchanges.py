"""Receiving a credential (OpenID4VCI offer link) and answering a verifier's request
(OpenID4VP link): the worker pastes the link, sees what it means, and decides."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse

from passerelle import errors
from wallet.routes.deps import CsrfDep, LangDep, ServiceDep, SessionDep, WalletDep
from wallet.routes.render import render
from wallet.routes.service import decode_path
from wallet.routes.sessions import UnlockedWallet

__all__ = ["router"]

router = APIRouter()

_LINK = Form(max_length=64 * 1024)


@router.post("/receive", response_class=HTMLResponse)
def receive(
    request: Request,
    _csrf: CsrfDep,
    wallet: WalletDep,
    session: SessionDep,
    service: ServiceDep,
    lang: LangDep,
    offer: Annotated[str, _LINK],
    passphrase: Annotated[str, Form(max_length=1024)],
    tx_code: Annotated[str, Form(max_length=64)] = "",
) -> HTMLResponse:
    """Redeem a credential offer and save what it gives (the passphrase is asked again,
    because writing the wallet file needs it; it is used and dropped).

    Raises:
        WalletLockedError: wrong passphrase (nothing was redeemed). GrantError: a wrong or
        missing transaction code, a used or expired offer. OfferError, EndpointError...
    """
    result = service.receive(offer, tx_code.strip() or None, passphrase)
    session.wallet = UnlockedWallet(result.contents, result.stamp, wallet.unlocked_at)
    return render(
        request,
        "received.html",
        lang=lang,
        added=[service.view(r, lang) for r in result.added],
        already=[service.view(r, lang) for r in result.already_held],
    )


@router.post("/requests", response_class=HTMLResponse)
def read_request(
    request: Request,
    _csrf: CsrfDep,
    wallet: WalletDep,
    session: SessionDep,
    service: ServiceDep,
    lang: LangDep,
    link: Annotated[str, _LINK],
) -> HTMLResponse:
    """Show what the verifier asks for, with the requested claims ticked.

    Raises:
        PresentationRequestError, EndpointError: an unusable request.
        NoMatchingCredentialError: nothing held answers it.
    """
    presentation_request = service.read_request(link)
    selection = service.select(presentation_request, wallet.contents)
    request_id = session.keep_request(presentation_request)
    return render(
        request,
        "request.html",
        lang=lang,
        request_id=request_id,
        view=service.request_view(selection, lang),
        qrs=None,
    )


@router.post("/requests/{request_id}", response_class=HTMLResponse)
def answer_request(
    request: Request,
    request_id: str,
    _csrf: CsrfDep,
    wallet: WalletDep,
    session: SessionDep,
    service: ServiceDep,
    lang: LangDep,
    action: Annotated[Literal["send", "qr"], Form()],
    claim: Annotated[list[str], Form(max_length=64)] = [],  # noqa: B006
) -> HTMLResponse:
    """Answer with the ticked claims (the request's always-visible claims go anyway):
    ``send`` posts them to the verifier, ``qr`` shows them as QR codes, each with a KB-JWT
    for the request's nonce and verifier.

    Raises:
        NotFoundError: no such pending request (it was answered, or the wallet locked).
        PresentationRejectedError, EndpointError: the verifier refused or is unreachable.
    """
    pending = session.requests.get(request_id)
    if pending is None:
        raise errors.NotFoundError("this request is no longer pending: read its link again")
    chosen = [decode_path(c) for c in claim]
    offered = service.select(pending, wallet.contents)
    fixed = [
        c.path for cand in offered.candidates for c in cand.claims if not c.selectively_disclosable
    ]
    selection = service.select(pending, wallet.contents, only=[*fixed, *chosen])
    vp_token = service.answer(selection, wallet.contents)
    view = service.request_view(selection, lang)
    if action == "qr":
        presentations = [p for chosen_ in vp_token.values() for p in chosen_]
        qrs = [service.qr_svg(service.encode(p)) for p in presentations]
        return render(request, "request.html", lang=lang, request_id=request_id, view=view, qrs=qrs)
    redirect = service.send(pending, vp_token)
    del session.requests[request_id]
    return render(request, "sent.html", lang=lang, view=view, redirect=redirect)
