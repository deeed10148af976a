"""One credential: its claims, the worker's choice of disclosures and the presentation QR.

The choice travels in the query (``?disclose=<claim path as JSON>``, repeated): showing a
QR code changes nothing, so it is a GET, and the URL holds claim *names*, never values.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from wallet.routes.deps import LangDep, ServiceDep, WalletDep
from wallet.routes.render import render
from wallet.routes.service import decode_path, type_styles

__all__ = ["router"]

router = APIRouter()

DiscloseQuery = Annotated[list[str], Query(max_length=64)]


@router.get("/credentials/{credential_id}", response_class=HTMLResponse)
def show_credential(
    request: Request,
    credential_id: str,
    wallet: WalletDep,
    service: ServiceDep,
    lang: LangDep,
) -> HTMLResponse:
    """The credential's claims and the disclosure choices, personal data unticked.

    Raises:
        CredentialNotFoundError: no such credential. NotUnlockedError: the wallet is locked.
    """
    record = wallet.contents.get(credential_id)
    return render(request, "credential.html", lang=lang, view=service.view(record, lang), qr=None)


@router.get("/credentials/{credential_id}/qr", response_class=HTMLResponse)
def show_presentation(
    request: Request,
    credential_id: str,
    wallet: WalletDep,
    service: ServiceDep,
    lang: LangDep,
    disclose: DiscloseQuery = [],  # noqa: B006 - FastAPI copies query defaults
) -> HTMLResponse:
    """The same page with the QR code of the presentation of the ticked claims (no key
    binding: the paper-like path, for an employer without a request of their own).

    Raises:
        InvalidInputError: a ticked claim the credential cannot disclose.
    """
    record = wallet.contents.get(credential_id)
    view = service.view(record, lang, [decode_path(d) for d in disclose])
    payload = service.offline_presentation(view)
    return render(request, "credential.html", lang=lang, view=view, qr=service.qr_svg(payload))


@router.get("/credentials/{credential_id}/qr.png")
def presentation_png(
    credential_id: str,
    wallet: WalletDep,
    service: ServiceDep,
    disclose: DiscloseQuery = [],  # noqa: B006 - FastAPI copies query defaults
) -> Response:
    """The same QR code as a PNG image (to save or print)."""
    record = wallet.contents.get(credential_id)
    view = service.view(record, "en", [decode_path(d) for d in disclose])
    png = service.qr_png(service.offline_presentation(view))
    return Response(png, media_type="image/png")


@router.get("/types.css")
def types_css(service: ServiceDep) -> Response:
    """Each credential type's card colours from its Type Metadata."""
    return Response(type_styles(service.registry), media_type="text/css; charset=utf-8")
