"""``/api/v1/credentials/{id}/qr.png|qr.svg|certificate|certificate.pdf``: the printed forms
of a credential.

Each one needs the signed credential itself (the QR code carries its compact paper payload,
``PS1:...``). The service keeps it only when ``ISSUER_RETAIN_TOKENS`` is on; otherwise the
``GET`` routes answer ``410 token_not_retained`` and the client prints from the credential it
received at issuance with ``POST /api/v1/credentials/{id}/certificate``, which checks that
the credential sent is this record's, signed by the centre.

The helpers (:func:`certificate_response` and friends) are shared with the registrar web
pages, which authenticate by session instead of by API key.
"""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict
from pydantic import Field as PydanticField
from starlette.concurrency import run_in_threadpool

from issuer.certificate import (
    QR_ERROR_CORRECTION,
    CertificateRenderError,
    PdfRenderer,
    render_certificate_html,
)
from issuer.deps import PrincipalDep, ServiceDep
from issuer.responses import PROBLEMS
from issuer.service import CertificateSource
from passerelle import qr
from passerelle.errors import RenderUnavailableError

__all__ = [
    "CERTIFICATE_FORMATS",
    "CertificateFormat",
    "RendererDep",
    "certificate_csp",
    "certificate_response",
    "router",
]

Language = Literal["en", "fr", "es", "ar"]
CertificateFormat = Literal["html", "pdf", "qr.png", "qr.svg"]
CERTIFICATE_FORMATS: tuple[CertificateFormat, ...] = ("html", "pdf", "qr.png", "qr.svg")
_MEDIA_TYPES: dict[CertificateFormat, str] = {
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
    "qr.png": "image/png",
    "qr.svg": "image/svg+xml",
}
_STYLE = re.compile(r"<style>(.*?)</style>", re.S)
# personal data: never stored by a shared cache, never sent on as a referrer
_PRIVATE = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


def _problem(description: str) -> dict[str, Any]:
    return {**PROBLEMS[404], "description": description}


_RESPONSES: dict[int | str, dict[str, Any]] = {
    **PROBLEMS,
    410: _problem("The signed credential was not retained (token_not_retained)"),
    503: _problem("PDF engine unavailable (render_unavailable)"),
}

router = APIRouter(prefix="/api/v1/credentials", tags=["certificates"], responses=_RESPONSES)
CredentialId = Annotated[str, Path(min_length=1, max_length=32)]
LangQuery = Annotated[
    Language | None,
    Query(description="Language of the page; the centre's default language if left out."),
]


def get_renderer(request: Request) -> PdfRenderer:
    renderer: PdfRenderer = request.app.state.pdf_renderer
    return renderer


RendererDep = Annotated[PdfRenderer, Depends(get_renderer)]


def certificate_csp(html: str) -> str:
    """A Content-Security-Policy for a certificate page: no script, nothing fetched but
    images (the centre's logo), and only the page's own inline stylesheets (by hash)."""
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(css.encode()).digest()).decode() + "'"
        for css in _STYLE.findall(html)
    )
    styles = hashes or "'none'"
    return (
        f"default-src 'none'; style-src {styles}; img-src data: https:; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )


def _html(source: CertificateSource, lang: str | None) -> str:
    return render_certificate_html(
        claims=source.claims,
        credential_type=source.credential_type,
        issuer=source.issuer,
        lang=lang or source.default_language,
        qr_payload=qr.encode_payload(source.compact),
        issued_at=source.issued_at,
        expires_at=source.expires_at,
        credential_number=source.credential_number,
    )


def _filename(source: CertificateSource, extension: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", source.credential_number)[:64] or source.public_id
    return f"certificate-{safe}.{extension}"


async def certificate_response(
    source: CertificateSource,
    kind: CertificateFormat,
    *,
    lang: str | None,
    renderer: PdfRenderer | None = None,
    download: bool = False,
) -> Response:
    """The certificate page, its PDF or the QR code of ``source`` as an HTTP response.

    The PDF engine is started on the first PDF (launching Chromium for every app, tests
    included, would cost every start-up about half a second) and kept for the app's life.

    Raises:
        InvalidInputError: an unsupported ``lang``; RenderUnavailableError: no PDF engine.
    """
    headers = dict(_PRIVATE)
    if kind == "qr.png":
        payload = qr.encode_payload(source.compact)
        png = await run_in_threadpool(qr.render_png, payload, ec=QR_ERROR_CORRECTION)
        return Response(png, media_type=_MEDIA_TYPES[kind], headers=headers)
    if kind == "qr.svg":
        svg = qr.render_svg(qr.encode_payload(source.compact), ec=QR_ERROR_CORRECTION)
        headers["Content-Security-Policy"] = "default-src 'none'; frame-ancestors 'none'"
        return Response(svg, media_type=_MEDIA_TYPES[kind], headers=headers)
    html = await run_in_threadpool(_html, source, lang)
    if kind == "html":
        headers["Content-Security-Policy"] = certificate_csp(html)
        headers["X-Frame-Options"] = "DENY"
        if download:
            headers["Content-Disposition"] = f'attachment; filename="{_filename(source, "html")}"'
        return Response(html, media_type=_MEDIA_TYPES[kind], headers=headers)
    if renderer is None:
        raise RenderUnavailableError("no PDF engine is configured")
    try:
        await renderer.start()
        pdf = await renderer.render(html)
    except CertificateRenderError as exc:
        raise RenderUnavailableError(f"the certificate PDF cannot be made now: {exc}") from exc
    disposition = "attachment" if download else "inline"
    headers["Content-Disposition"] = f'{disposition}; filename="{_filename(source, "pdf")}"'
    return Response(pdf, media_type=_MEDIA_TYPES[kind], headers=headers)


def _content(*kinds: CertificateFormat) -> dict[int | str, dict[str, Any]]:
    schema = {"type": "string", "format": "binary"}
    return {
        200: {
            "description": "The document",
            "content": {_MEDIA_TYPES[k].split(";")[0]: {"schema": schema} for k in kinds},
        }
    }


async def _source(
    service: ServiceDep, principal: PrincipalDep, credential_id: str, compact: str | None = None
) -> CertificateSource:
    return await run_in_threadpool(service.certificate_source, principal, credential_id, compact)


@router.get("/{credential_id}/qr.png", response_class=Response, responses=_content("qr.png"))
async def qr_png(
    credential_id: CredentialId, service: ServiceDep, principal: PrincipalDep
) -> Response:
    """The QR code (PNG) of the credential's compact paper payload (``PS1:...``)."""
    source = await _source(service, principal, credential_id)
    return await certificate_response(source, "qr.png", lang=None)


@router.get("/{credential_id}/qr.svg", response_class=Response, responses=_content("qr.svg"))
async def qr_svg(
    credential_id: CredentialId, service: ServiceDep, principal: PrincipalDep
) -> Response:
    """The QR code (SVG) of the credential's compact paper payload (``PS1:...``)."""
    source = await _source(service, principal, credential_id)
    return await certificate_response(source, "qr.svg", lang=None)


@router.get("/{credential_id}/certificate", response_class=Response, responses=_content("html"))
async def certificate_page(
    credential_id: CredentialId,
    service: ServiceDep,
    principal: PrincipalDep,
    renderer: RendererDep,
    lang: LangQuery = None,
) -> Response:
    """The printable A4 certificate (HTML with print CSS, no script, strict CSP)."""
    source = await _source(service, principal, credential_id)
    return await certificate_response(source, "html", lang=lang, renderer=renderer)


@router.get("/{credential_id}/certificate.pdf", response_class=Response, responses=_content("pdf"))
async def certificate_pdf(
    credential_id: CredentialId,
    service: ServiceDep,
    principal: PrincipalDep,
    renderer: RendererDep,
    lang: LangQuery = None,
) -> Response:
    """The certificate as a one-page A4 PDF."""
    source = await _source(service, principal, credential_id)
    return await certificate_response(source, "pdf", lang=lang, renderer=renderer)


class CertificateRequest(BaseModel):
    """The signed credential as issued, and the form wanted."""

    model_config = ConfigDict(extra="forbid")
    credential: str = PydanticField(
        min_length=1, max_length=100_000, description="The compact SD-JWT VC from issuance."
    )
    format: CertificateFormat = "html"
    lang: Language | None = None


@router.post(
    "/{credential_id}/certificate",
    response_class=Response,
    responses=_content(*CERTIFICATE_FORMATS),
)
async def certificate_from_credential(
    credential_id: CredentialId,
    body: CertificateRequest,
    service: ServiceDep,
    principal: PrincipalDep,
    renderer: RendererDep,
) -> Response:
    """The certificate, PDF or QR code printed from the credential sent (for services that
    do not retain signed credentials). It must be this record's credential, signed by the
    centre; nothing is stored."""
    source = await _source(service, principal, credential_id, body.credential)
    return await certificate_response(source, body.format, lang=body.lang, renderer=renderer)
