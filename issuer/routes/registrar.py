"""``/registrar``: the registrar's web pages, server-rendered, with no script at all.

A registrar logs in with an API key, issues one credential from a form generated from the
type's JSON Schema, uploads a CSV (previewed with the batch dry run before anything is
issued), lists and searches what was issued, revokes, suspends or reinstates with a reason
after a confirmation page, and prints certificates. English and French.

Sessions: logging in checks the API key once and creates a server-side session under a
random id (256 bits); the cookie holds only that id (``HttpOnly``, ``SameSite=Strict``,
``Secure`` when the service is reached over https, path ``/registrar``). The session keeps
the key's public id, never the key, and every request re-checks that the key is not revoked.
Sessions end after 30 minutes idle, 8 hours in all, or on logging out. They live in the
process's memory: with several worker processes, route a registrar to one (sticky sessions)
or expect to log in again.

CSRF: every POST form carries the session's random token, compared in constant time; the
login form, which has no session yet, carries a token that must equal a short-lived
``SameSite=Strict`` cookie (double submit). The session id changes at login.
"""

from __future__ import annotations

import hmac
import math
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import FileResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.concurrency import run_in_threadpool

from issuer.certificate import PdfRenderer
from issuer.models import BatchIssued, IssuedCredential, TenantPublic
from issuer.routes.certificates import (
    CERTIFICATE_FORMATS,
    CertificateFormat,
    certificate_response,
)
from issuer.service import PERMISSIONS, IssuerService, Principal
from passerelle import codelists
from passerelle.credtypes import LANGUAGES, CredentialType, is_rtl
from passerelle.errors import (
    BatchInvalidError,
    CsrfError,
    CsvEncodingError,
    InvalidInputError,
    PasserelleError,
    PayloadTooLargeError,
    SchemaError,
)

__all__ = ["SESSION_COOKIE", "SessionStore", "router"]

PREFIX = "/registrar"
SESSION_COOKIE = "registrar_session"
LOGIN_COOKIE = "registrar_login"
IDLE_SECONDS = 30 * 60
ABSOLUTE_SECONDS = 8 * 3600
MAX_SESSIONS = 10_000
PAGE_SIZE = 20
UI_LANGUAGES = ("en", "fr")
LIST_SEPARATOR = ";"
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
_TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
_STYLESHEET = Path(__file__).resolve().parent.parent / "static" / "registrar.css"
_CODED_ENUMS = {"assessment_method": "assessment_method", "proficiency": "proficiency"}
StatusActionName = Literal["revoke", "suspend", "reinstate"]
_VERBS: dict[str, StatusActionName] = {
    "revoke": "revoke",
    "suspend": "suspend",
    "reinstate": "reinstate",
}

router = APIRouter(prefix=PREFIX, include_in_schema=False)


# -- words -----------------------------------------------------------------------------------
PHRASES: dict[str, dict[str, str]] = {
    "en": {
        "app": "Passerelle — registrar",
        "skip": "Skip to the content",
        "login": "Log in",
        "logout": "Log out",
        "api_key": "API key",
        "api_key_hint": "The key your administrator gave you (it starts with psk_).",
        "login_failed": "This API key is unknown or revoked.",
        "login_intro": "Log in to issue, list and revoke your centre's credentials.",
        "session_expired": "Your session has ended; log in again.",
        "credentials": "Issued credentials",
        "issue": "Issue one",
        "batch": "Upload a CSV",
        "search": "Search",
        "search_label": "Name or number",
        "status": "Status",
        "any": "Any",
        "valid": "valid",
        "revoked": "revoked",
        "suspended": "suspended",
        "holder": "Holder",
        "number": "Number",
        "type": "Type",
        "issued_at": "Issued",
        "expires_at": "Expires",
        "reason": "Reason",
        "actions": "Actions",
        "none_found": "No credential matches.",
        "page_of": "Page {page} of {pages} ({total} credentials)",
        "previous": "Previous page",
        "next": "Next page",
        "details": "Details",
        "certificate": "Certificate",
        "pdf": "PDF",
        "qr_png": "QR code (PNG)",
        "qr_svg": "QR code (SVG)",
        "print_in": "Certificate in",
        "not_retained": "The service does not keep signed credentials: print the "
        "certificate right after issuing.",
        "revoke": "Revoke",
        "suspend": "Suspend",
        "reinstate": "Reinstate",
        "revoke_title": "Revoke this credential?",
        "suspend_title": "Suspend this credential?",
        "reinstate_title": "Reinstate this credential?",
        "revoke_warning": "Revocation is final: verifiers will refuse this credential from now on.",
        "suspend_warning": "Verifiers will refuse this credential until it is reinstated.",
        "reinstate_warning": "Verifiers will accept this credential again.",
        "reason_hint": "Recorded in the audit log (for example: fraud, error in the name).",
        "confirm_revoke": "Yes, revoke it",
        "confirm_suspend": "Yes, suspend it",
        "confirm_reinstate": "Yes, reinstate it",
        "cancel": "Cancel",
        "done_revoke": "The credential is revoked.",
        "done_suspend": "The credential is suspended.",
        "done_reinstate": "The credential is valid again.",
        "issue_title": "Issue a credential",
        "credential_type": "Credential type",
        "change_type": "Change",
        "valid_days": "Valid for (days)",
        "validity": "Validity",
        "valid_days_hint": "Leave empty for no expiry date.",
        "required": "required",
        "list_hint": "Several values: separate them with ;",
        "person": "The person",
        "number_hint": "Leave empty: the service numbers the credential.",
        "submit_issue": "Issue the credential",
        "errors_title": "There is a problem",
        "fix_fields": "Correct the fields marked below.",
        "issued_one": "Credential issued",
        "issued_many": "{count} credentials issued",
        "batch_title": "Issue from a CSV file",
        "batch_intro": "The first row names the claims (given_name, family_name, "
        "qualification.title.fr...). Nothing is issued before you have seen the preview, "
        "and a batch is issued whole or not at all.",
        "file": "CSV file (UTF-8)",
        "preview": "Check the file",
        "row": "Row",
        "field": "Field",
        "problem": "Problem",
        "batch_errors": "{count} problem(s): nothing was issued. Correct the file and "
        "upload it again.",
        "batch_ready": "{count} row(s) are valid and ready to issue.",
        "submit_batch": "Issue {count} credential(s)",
        "upload_gone": "This upload is no longer available; upload the file again.",
        "forbidden": "Your role does not allow this.",
        "not_found": "There is no such credential here.",
        "error": "Something went wrong",
        "back": "Back to the list",
        "language": "Language",
        "role": "Role",
    },
    "fr": {
        "app": "Passerelle — scolarité",
        "skip": "Aller au contenu",
        "login": "Se connecter",
        "logout": "Se déconnecter",
        "api_key": "Clé d'API",
        "api_key_hint": "La clé que votre administrateur vous a remise (elle commence par psk_).",
        "login_failed": "Cette clé d'API est inconnue ou révoquée.",
        "login_intro": "Connectez-vous pour délivrer, lister et révoquer les attestations "
        "de votre centre.",
        "session_expired": "Votre session a pris fin ; reconnectez-vous.",
        "credentials": "Attestations délivrées",
        "issue": "En délivrer une",
        "batch": "Importer un CSV",
        "search": "Rechercher",
        "search_label": "Nom ou numéro",
        "status": "Statut",
        "any": "Tous",
        "valid": "valide",
        "revoked": "révoquée",
        "suspended": "suspendue",
        "holder": "Titulaire",
        "number": "Numéro",
        "type": "Type",
        "issued_at": "Délivrée le",
        "expires_at": "Expire le",
        "reason": "Motif",
        "actions": "Actions",
        "none_found": "Aucune attestation ne correspond.",
        "page_of": "Page {page} sur {pages} ({total} attestations)",
        "previous": "Page précédente",
        "next": "Page suivante",
        "details": "Détails",
        "certificate": "Certificat",
        "pdf": "PDF",
        "qr_png": "Code QR (PNG)",
        "qr_svg": "Code QR (SVG)",
        "print_in": "Certificat en",
        "not_retained": "Le service ne conserve pas les attestations signées : imprimez le "
        "certificat dès la délivrance.",
        "revoke": "Révoquer",
        "suspend": "Suspendre",
        "reinstate": "Rétablir",
        "revoke_title": "Révoquer cette attestation ?",
        "suspend_title": "Suspendre cette attestation ?",
        "reinstate_title": "Rétablir cette attestation ?",
        "revoke_warning": "La révocation est définitive : les vérificateurs refuseront "
        "désormais cette attestation.",
        "suspend_warning": "Les vérificateurs refuseront cette attestation jusqu'à son "
        "rétablissement.",
        "reinstate_warning": "Les vérificateurs accepteront de nouveau cette attestation.",
        "reason_hint": "Consigné dans le journal d'audit (par exemple : fraude, erreur sur "
        "le nom).",
        "confirm_revoke": "Oui, la révoquer",
        "confirm_suspend": "Oui, la suspendre",
        "confirm_reinstate": "Oui, la rétablir",
        "cancel": "Annuler",
        "done_revoke": "L'attestation est révoquée.",
        "done_suspend": "L'attestation est suspendue.",
        "done_reinstate": "L'attestation est de nouveau valide.",
        "issue_title": "Délivrer une attestation",
        "credential_type": "Type d'attestation",
        "change_type": "Changer",
        "valid_days": "Validité (jours)",
        "validity": "Validité",
        "valid_days_hint": "Laissez vide pour une attestation sans date d'expiration.",
        "required": "obligatoire",
        "list_hint": "Plusieurs valeurs : séparez-les par ;",
        "person": "La personne",
        "number_hint": "Laissez vide : le service numérote l'attestation.",
        "submit_issue": "Délivrer l'attestation",
        "errors_title": "Il y a un problème",
        "fix_fields": "Corrigez les champs signalés ci-dessous.",
        "issued_one": "Attestation délivrée",
        "issued_many": "{count} attestations délivrées",
        "batch_title": "Délivrer à partir d'un fichier CSV",
        "batch_intro": "La première ligne nomme les données (given_name, family_name, "
        "qualification.title.fr...). Rien n'est délivré avant l'aperçu, et un lot est "
        "délivré en entier ou pas du tout.",
        "file": "Fichier CSV (UTF-8)",
        "preview": "Vérifier le fichier",
        "row": "Ligne",
        "field": "Champ",
        "problem": "Problème",
        "batch_errors": "{count} problème(s) : rien n'a été délivré. Corrigez le fichier "
        "et importez-le de nouveau.",
        "batch_ready": "{count} ligne(s) valides, prêtes à être délivrées.",
        "submit_batch": "Délivrer {count} attestation(s)",
        "upload_gone": "Cet import n'est plus disponible ; importez de nouveau le fichier.",
        "forbidden": "Votre rôle ne le permet pas.",
        "not_found": "Cette attestation n'existe pas ici.",
        "error": "Une erreur est survenue",
        "back": "Retour à la liste",
        "language": "Langue",
        "role": "Rôle",
    },
}
LANGUAGE_NAMES = {
    "en": {"en": "English", "fr": "French", "es": "Spanish", "ar": "Arabic"},
    "fr": {"en": "anglais", "fr": "français", "es": "espagnol", "ar": "arabe"},
}


class Phrases:
    """The UI's words in one language; ``t("key", count=3)`` formats placeholders."""

    def __init__(self, lang: str) -> None:
        self.lang = lang if lang in PHRASES else "en"

    def __call__(self, key: str, **values: Any) -> str:
        text = PHRASES[self.lang].get(key) or PHRASES["en"][key]
        return text.format(**values) if values else text


# -- sessions --------------------------------------------------------------------------------
@dataclass
class PendingUpload:
    token: str
    type_name: str
    valid_days: int | None
    data: bytes
    count: int


@dataclass
class WebSession:
    id: str
    csrf: str
    key_id: str
    lang: str
    created: float
    seen: float
    flash: str = ""
    upload: PendingUpload | None = None


class SessionStore:
    """Server-side sessions of one process, by random id; expired ones are dropped when met
    and when the store is full (then the least recently seen goes first)."""

    def __init__(self, clock: Any = time.monotonic) -> None:
        self._sessions: dict[str, WebSession] = {}
        self._lock = threading.Lock()
        self._clock = clock

    def create(self, key_id: str, lang: str) -> WebSession:
        now = self._clock()
        session = WebSession(
            id=secrets.token_urlsafe(32),
            csrf=secrets.token_urlsafe(32),
            key_id=key_id,
            lang=lang,
            created=now,
            seen=now,
        )
        with self._lock:
            if len(self._sessions) >= MAX_SESSIONS:
                self._prune(now)
            self._sessions[session.id] = session
        return session

    def get(self, session_id: str | None) -> WebSession | None:
        if not session_id:
            return None
        now = self._clock()
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                return None
            if self._expired(session, now):
                del self._sessions[session_id]
                return None
            session.seen = now
            return session

    def drop(self, session_id: str) -> None:
        with self._lock:
            self._sessions.pop(session_id, None)

    @staticmethod
    def _expired(session: WebSession, now: float) -> bool:
        return now - session.seen > IDLE_SECONDS or now - session.created > ABSOLUTE_SECONDS

    def _prune(self, now: float) -> None:
        for sid in [s for s, v in self._sessions.items() if self._expired(v, now)]:
            del self._sessions[sid]
        while len(self._sessions) >= MAX_SESSIONS:
            oldest = min(self._sessions.values(), key=lambda v: v.seen)
            del self._sessions[oldest.id]


_STORE_LOCK = threading.Lock()


def _store(request: Request) -> SessionStore:
    """The app's session store, made on first use (never at import)."""
    state = request.app.state
    with _STORE_LOCK:
        store: SessionStore | None = getattr(state, "registrar_sessions", None)
        if store is None:
            store = SessionStore()
            state.registrar_sessions = store
        return store


@dataclass
class Web:
    """A logged-in request: the session, the principal, the service and the UI's words."""

    request: Request
    session: WebSession
    principal: Principal
    service: IssuerService
    tenant: TenantPublic
    t: Phrases = field(init=False)

    def __post_init__(self) -> None:
        self.t = Phrases(self.session.lang)

    def can(self, permission: Literal["issue", "read", "status", "admin"]) -> bool:
        return self.principal.role in PERMISSIONS[permission]


def _service(request: Request) -> IssuerService:
    service: IssuerService = request.app.state.service
    return service


def _ui_language(request: Request, fallback: str) -> str:
    wanted = request.query_params.get("lang", "")
    if wanted in UI_LANGUAGES:
        return wanted
    return fallback if fallback in UI_LANGUAGES else "en"


def _web(request: Request) -> Web | None:
    """The logged-in session of the request, or None (then the page sends to the login)."""
    store = _store(request)
    session = store.get(request.cookies.get(SESSION_COOKIE))
    if session is None:
        return None
    service = _service(request)
    try:
        principal = service.key_principal(session.key_id)
    except PasserelleError:
        store.drop(session.id)
        return None
    session.lang = _ui_language(request, session.lang)
    return Web(request, session, principal, service, service.tenant_public(principal))


def _secure(request: Request) -> bool:
    return request.url.scheme == "https" or _service(request).settings.public_url.startswith(
        "https://"
    )


def _csrf_ok(expected: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(expected.encode(), (given or "").encode())


# -- rendering -------------------------------------------------------------------------------
@cache
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(_TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _headers() -> dict[str, str]:
    return {
        "Content-Security-Policy": CSP,
        "Cache-Control": "no-store",
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
    }


def _page(
    template: str, t: Phrases, *, web: Web | None = None, status: int = 200, **values: Any
) -> Response:
    values.setdefault("flash", "")
    html = (
        _environment()
        .get_template(template)
        .render(
            t=t,
            lang=t.lang,
            web=web,
            prefix=PREFIX,
            csrf=web.session.csrf if web else "",
            retain=bool(web and web.service.settings.retain_tokens),
            type_names={c.name: c.display_name(t.lang) for c in web.service.types} if web else {},
            **values,
        )
    )
    return Response(html, status_code=status, media_type="text/html", headers=_headers())


def _to_login(request: Request) -> Response:
    query = {"expired": "1"} if request.cookies.get(SESSION_COOKIE) else {}
    lang = request.query_params.get("lang")
    if lang in UI_LANGUAGES:
        query["lang"] = lang
    target = f"{PREFIX}/login" + (f"?{urlencode(query)}" if query else "")
    response = RedirectResponse(target, status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=PREFIX)
    return response


def _redirect(path: str, web: Web | None = None, flash: str = "") -> Response:
    if web is not None and flash:
        web.session.flash = flash
    return RedirectResponse(PREFIX + path, status_code=303)


def _error_page(web: Web, exc: PasserelleError) -> Response:
    messages = {"forbidden": "forbidden", "not_found": "not_found"}
    status = 503 if exc.status >= 500 else exc.status
    message = web.t(messages[exc.code]) if exc.code in messages else exc.detail
    return _page(
        "registrar_error.html", web.t, web=web, status=status, title=web.t("error"), message=message
    )


def _csrf_error() -> CsrfError:
    return CsrfError("the form has expired or did not come from this site; open the page again")


def _take_flash(web: Web) -> str:
    flash, web.session.flash = web.session.flash, ""
    return flash


# -- forms from the JSON Schema --------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class FormField:
    """One input of the issuance form; ``name`` is the dotted claim path (the CSV column).

    A language map (``title``) is one field with one input per language, named
    ``<path>.<lang>``.
    """

    name: str
    label: str
    kind: Literal["text", "date", "integer", "select", "list", "langmap"]
    required: bool = False
    hint: str = ""
    options: tuple[tuple[str, str], ...] = ()
    languages: tuple[tuple[str, str, str], ...] = ()  # (tag, label, dir)
    minimum: int | None = None
    maximum: int | None = None
    max_length: int | None = None
    pattern: str = ""

    @property
    def id(self) -> str:
        return "f-" + self.name.replace(".", "-")


@dataclass(frozen=True, slots=True)
class FormGroup:
    legend: str
    fields: tuple[FormField, ...]


def _resolve(schema: Mapping[str, Any], node: Mapping[str, Any]) -> Mapping[str, Any]:
    while "$ref" in node and str(node["$ref"]).startswith("#/"):
        target: Any = schema
        for part in str(node["$ref"])[2:].split("/"):
            target = target[part]
        node = target
    return node


def _field(
    ctype: CredentialType,
    path: tuple[str, ...],
    node: Mapping[str, Any],
    required: bool,
    lang: str,
    t: Phrases,
) -> FormField | None:
    name = ".".join(path)
    label = ctype.label(path, lang)
    hint = ctype.claim_description(path, lang) or ""
    if hint == label:
        hint = ""
    kind = node.get("type")
    if kind == "object" and "patternProperties" in node:
        names = LANGUAGE_NAMES.get(t.lang, LANGUAGE_NAMES["en"])
        languages = tuple((tag, names[tag], "rtl" if is_rtl(tag) else "ltr") for tag in LANGUAGES)
        return FormField(name, label, "langmap", required, hint, languages=languages)
    if kind == "integer":
        return FormField(
            name,
            label,
            "integer",
            required,
            hint,
            minimum=node.get("minimum"),
            maximum=node.get("maximum"),
        )
    if kind == "array":
        return FormField(name, label, "list", required, f"{hint} {t('list_hint')}".strip())
    if kind != "string":
        return None
    if "enum" in node:
        coded = _CODED_ENUMS.get(path[-1])
        options = tuple(
            (str(v), (codelists.describe(coded, v, lang) if coded else None) or str(v))
            for v in node["enum"]
        )
        return FormField(name, label, "select", required, hint, options=options)
    if node.get("format") == "date":
        return FormField(name, label, "date", required, hint)
    if path == ("credential_number",):
        return FormField(name, label, "text", False, t("number_hint"), max_length=64)
    return FormField(
        name,
        label,
        "text",
        required,
        hint,
        max_length=node.get("maxLength"),
        pattern=str(node.get("pattern", "")),
    )


def form_groups(ctype: CredentialType, lang: str, t: Phrases) -> list[FormGroup]:
    """The form's fieldsets: the person's claims, then one per object claim (nested objects
    flattened into it), in the schema's order."""
    schema = ctype.schema
    root = _resolve(schema, schema)
    person: list[FormField] = []
    groups: list[FormGroup] = []
    top_required = set(root.get("required", []))
    for name, raw in root.get("properties", {}).items():
        node = _resolve(schema, raw)
        if node.get("type") == "object" and "properties" in node:
            fields: list[FormField] = []
            _walk(ctype, (name,), node, name in top_required, lang, t, fields)
            groups.append(FormGroup(ctype.label((name,), lang), tuple(fields)))
            continue
        made = _field(ctype, (name,), node, name in top_required, lang, t)
        if made is not None:
            person.append(made)
    return [FormGroup(t("person"), tuple(person)), *groups]


def _walk(
    ctype: CredentialType,
    path: tuple[str, ...],
    node: Mapping[str, Any],
    required: bool,
    lang: str,
    t: Phrases,
    out: list[FormField],
) -> None:
    inner_required = set(node.get("required", []))
    for name, raw in node.get("properties", {}).items():
        child = _resolve(ctype.schema, raw)
        here = required and name in inner_required
        if child.get("type") == "object" and "properties" in child:
            _walk(ctype, (*path, name), child, here, lang, t, out)
            continue
        made = _field(ctype, (*path, name), child, here, lang, t)
        if made is not None:
            out.append(made)


def claims_from_form(
    groups: list[FormGroup], form: Mapping[str, str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """The claims a submitted form fills, and conversion errors by field name. Empty
    inputs leave their claim out (the schema then says what is missing)."""
    claims: dict[str, Any] = {}
    problems: dict[str, str] = {}
    for group in groups:
        for item in group.fields:
            if item.kind == "langmap":
                texts = {
                    tag: form.get(f"{item.name}.{tag}", "").strip() for tag, _, _ in item.languages
                }
                texts = {k: v for k, v in texts.items() if v}
                if texts:
                    _set(claims, item.name, texts)
                continue
            raw = form.get(item.name, "").strip()
            if not raw:
                continue
            if item.kind == "integer":
                try:
                    _set(claims, item.name, int(raw))
                except ValueError:
                    problems[item.name] = "must be a whole number"
            elif item.kind == "list":
                values = [v.strip() for v in raw.split(LIST_SEPARATOR) if v.strip()]
                _set(claims, item.name, values)
            else:
                _set(claims, item.name, raw)
    return claims, problems


def _set(claims: dict[str, Any], dotted: str, value: Any) -> None:
    node = claims
    parts = dotted.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


def _field_errors(
    groups: list[FormGroup], violations: list[dict[str, str]]
) -> tuple[dict[str, str], list[str]]:
    """Schema violations by form field (``$.qualification.title`` -> that field), and the
    ones no field shows (a whole object missing)."""
    names = {f.name for g in groups for f in g.fields}
    by_field: dict[str, str] = {}
    general: list[str] = []
    for violation in violations:
        path = violation["path"].removeprefix("$.").removeprefix("$")
        # a language map member's problem belongs to its map
        while path and path not in names and "." in path:
            path = path.rsplit(".", 1)[0]
        if path in names:
            by_field[path] = "; ".join(filter(None, (by_field.get(path), violation["message"])))
        else:
            general.append(f"{violation['path']}: {violation['message']}")
    return by_field, general


# -- static ----------------------------------------------------------------------------------
@router.get("/static/registrar.css")
def stylesheet() -> FileResponse:
    return FileResponse(
        _STYLESHEET, media_type="text/css", headers={"Cache-Control": "public, max-age=3600"}
    )


# -- login -----------------------------------------------------------------------------------
@router.get("")
def home(request: Request) -> Response:
    return RedirectResponse(f"{PREFIX}/credentials", status_code=303)


@router.get("/login")
def login_form(request: Request) -> Response:
    t = Phrases(_ui_language(request, "en"))
    return _login_page(request, t, expired=request.query_params.get("expired") == "1")


def _login_page(
    request: Request, t: Phrases, *, error: str = "", expired: bool = False
) -> Response:
    token = secrets.token_urlsafe(32)
    response = _page(
        "registrar_login.html",
        t,
        status=401 if error else 200,
        login_csrf=token,
        error=error,
        expired=expired,
    )
    response.set_cookie(
        LOGIN_COOKIE,
        token,
        max_age=1800,
        path=PREFIX,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
    )
    return response


@router.post("/login")
async def login(
    request: Request,
    api_key: Annotated[str, Form(max_length=200)] = "",
    csrf: Annotated[str, Form(max_length=100)] = "",
    lang: Annotated[str, Form(max_length=8)] = "en",
) -> Response:
    t = Phrases(lang if lang in UI_LANGUAGES else "en")
    if not _csrf_ok(request.cookies.get(LOGIN_COOKIE, ""), csrf):
        return _login_page(request, t, expired=True)
    service = _service(request)
    try:
        principal = await run_in_threadpool(service.authenticate, api_key.strip())
    except PasserelleError:
        return _login_page(request, t, error=t("login_failed"))
    store = _store(request)
    old = request.cookies.get(SESSION_COOKIE)
    if old:
        store.drop(old)  # a fresh id at every login: no session fixation
    session = store.create(principal.actor, t.lang)
    response = RedirectResponse(f"{PREFIX}/credentials", status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        session.id,
        path=PREFIX,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
    )
    response.delete_cookie(LOGIN_COOKIE, path=PREFIX)
    return response


@router.post("/logout")
def logout(request: Request, csrf: Annotated[str, Form(max_length=100)] = "") -> Response:
    web = _web(request)
    if web is not None and _csrf_ok(web.session.csrf, csrf):
        _store(request).drop(web.session.id)
    response = RedirectResponse(f"{PREFIX}/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=PREFIX)
    return response


# -- the list --------------------------------------------------------------------------------
@router.get("/credentials")
def credential_list(
    request: Request,
    q: Annotated[str, Query(max_length=200)] = "",
    status: Annotated[str, Query(max_length=16)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    web = _web(request)
    if web is None:
        return _to_login(request)
    wanted = status if status in ("valid", "revoked", "suspended") else None
    try:
        found = web.service.list_credentials(
            web.principal, query=q.strip() or None, status=wanted, page=page, page_size=PAGE_SIZE
        )
    except PasserelleError as exc:
        return _error_page(web, exc)
    pages = max(1, math.ceil(found.total / PAGE_SIZE))

    def page_link(number: int) -> str:
        query = {k: v for k, v in (("q", q), ("status", wanted or "")) if v}
        return f"{PREFIX}/credentials?{urlencode({**query, 'page': number})}"

    return _page(
        "registrar_list.html",
        web.t,
        web=web,
        title=web.t("credentials"),
        found=found,
        q=q,
        status_filter=wanted or "",
        pages=pages,
        previous=page_link(page - 1) if page > 1 else "",
        next=page_link(page + 1) if page < pages else "",
        flash=_take_flash(web),
    )


# -- one credential --------------------------------------------------------------------------
@router.get("/credentials/{credential_id}")
def credential_detail(request: Request, credential_id: str) -> Response:
    web = _web(request)
    if web is None:
        return _to_login(request)
    try:
        record = web.service.get_credential(web.principal, credential_id[:32])
    except PasserelleError as exc:
        return _error_page(web, exc)
    names = LANGUAGE_NAMES[web.t.lang]
    return _page(
        "registrar_credential.html",
        web.t,
        web=web,
        title=record.holder_name,
        record=record,
        languages=[(tag, names[tag]) for tag in LANGUAGES],
        flash=_take_flash(web),
    )


def _allowed_actions(status: str) -> tuple[str, ...]:
    return {"valid": ("suspend", "revoke"), "suspended": ("reinstate", "revoke")}.get(status, ())


@router.get("/credentials/{credential_id}/status/{action}")
def status_confirmation(request: Request, credential_id: str, action: str) -> Response:
    web = _web(request)
    if web is None:
        return _to_login(request)
    if action not in _VERBS:
        return _error_page(web, InvalidInputError("no such action"))
    try:
        record = web.service.get_credential(web.principal, credential_id[:32])
        web.service.require(web.principal, "status")
    except PasserelleError as exc:
        return _error_page(web, exc)
    return _page(
        "registrar_status.html",
        web.t,
        web=web,
        title=web.t(f"{action}_title"),
        record=record,
        action=action,
        reason="",
        error="",
    )


@router.post("/credentials/{credential_id}/status/{action}")
def change_status(
    request: Request,
    credential_id: str,
    action: str,
    reason: Annotated[str, Form(max_length=1000)] = "",
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    web = _web(request)
    if web is None:
        return _to_login(request)
    if not _csrf_ok(web.session.csrf, csrf):
        return _error_page(web, _csrf_error())
    if action not in _VERBS:
        return _error_page(web, InvalidInputError("no such action"))
    verb = _VERBS[action]
    try:
        if not reason.strip() or len(reason.strip()) > 500:
            record = web.service.get_credential(web.principal, credential_id[:32])
            return _page(
                "registrar_status.html",
                web.t,
                web=web,
                status=422,
                title=web.t(f"{action}_title"),
                record=record,
                action=action,
                reason=reason,
                error="1 to 500 characters",
            )
        web.service.change_status(web.principal, credential_id[:32], verb, reason.strip())
    except PasserelleError as exc:
        return _error_page(web, exc)
    return _redirect(f"/credentials/{credential_id}", web, web.t(f"done_{action}"))


# -- certificates ----------------------------------------------------------------------------
_KINDS: dict[str, CertificateFormat] = {
    "certificate": "html",
    "certificate.pdf": "pdf",
    "qr.png": "qr.png",
    "qr.svg": "qr.svg",
}


def _renderer(request: Request) -> PdfRenderer | None:
    renderer: PdfRenderer | None = getattr(request.app.state, "pdf_renderer", None)
    return renderer


@router.get("/credentials/{credential_id}/print/{kind}")
async def print_retained(
    request: Request,
    credential_id: str,
    kind: str,
    lang: Annotated[Literal["en", "fr", "es", "ar"] | None, Query()] = None,
) -> Response:
    """The certificate, PDF or QR code of a retained credential (``ISSUER_RETAIN_TOKENS``)."""
    web = await run_in_threadpool(_web, request)
    if web is None:
        return _to_login(request)
    if kind not in _KINDS:
        return _error_page(web, InvalidInputError("no such document"))
    try:
        source = await run_in_threadpool(
            web.service.certificate_source, web.principal, credential_id[:32]
        )
        return await certificate_response(
            source,
            _KINDS[kind],
            lang=lang,
            renderer=_renderer(request),
            download=kind == "certificate.pdf",
        )
    except PasserelleError as exc:
        return _error_page(web, exc)


@router.post("/credentials/{credential_id}/print")
async def print_issued(
    request: Request,
    credential_id: str,
    credential: Annotated[str, Form(max_length=100_000)] = "",
    format: Annotated[str, Form(max_length=16)] = "html",
    lang: Annotated[str, Form(max_length=8)] = "",
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """The certificate printed from the credential just issued (shown on the result page,
    never stored)."""
    web = await run_in_threadpool(_web, request)
    if web is None:
        return _to_login(request)
    if not _csrf_ok(web.session.csrf, csrf):
        return _error_page(web, _csrf_error())
    kind: CertificateFormat = next((k for k in CERTIFICATE_FORMATS if k == format), "html")
    try:
        source = await run_in_threadpool(
            web.service.certificate_source, web.principal, credential_id[:32], credential
        )
        return await certificate_response(
            source,
            kind,
            lang=lang if lang in LANGUAGES else None,
            renderer=_renderer(request),
            download=kind == "pdf",
        )
    except PasserelleError as exc:
        return _error_page(web, exc)


# -- issuing one -----------------------------------------------------------------------------
def _type_choices(service: IssuerService, lang: str) -> list[tuple[str, str]]:
    return [(c.name, c.display_name(lang)) for c in service.types]


def _issue_page(
    web: Web,
    ctype: CredentialType,
    *,
    values: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    general: list[str] | None = None,
    status: int = 200,
) -> Response:
    return _page(
        "registrar_issue.html",
        web.t,
        web=web,
        status=status,
        title=web.t("issue_title"),
        ctype=ctype,
        type_label=ctype.display_name(web.t.lang),
        types=_type_choices(web.service, web.t.lang),
        groups=form_groups(ctype, web.t.lang, web.t),
        values=values or {},
        errors=errors or {},
        general=general or [],
    )


@router.get("/issue")
def issue_form(
    request: Request, type: Annotated[str, Query(max_length=300)] = "QualificationCredential"
) -> Response:
    web = _web(request)
    if web is None:
        return _to_login(request)
    try:
        web.service.require(web.principal, "issue")
        ctype = web.service.credential_type(type)
    except PasserelleError as exc:
        return _error_page(web, exc)
    return _issue_page(web, ctype)


@router.post("/issue")
async def issue(request: Request) -> Response:
    web = await run_in_threadpool(_web, request)
    if web is None:
        return _to_login(request)
    form = await request.form()
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    if not _csrf_ok(web.session.csrf, values.get("csrf")):
        return _error_page(web, _csrf_error())
    try:
        ctype = web.service.credential_type(values.get("type", ""))
    except PasserelleError as exc:
        return _error_page(web, exc)
    groups = form_groups(ctype, web.t.lang, web.t)
    claims, problems = claims_from_form(groups, values)
    valid_days: int | None = None
    raw_days = values.get("valid_days", "").strip()
    if raw_days:
        if raw_days.isdigit() and 1 <= int(raw_days) <= 36_500:
            valid_days = int(raw_days)
        else:
            problems["valid_days"] = "a whole number of days from 1 to 36500"
    if problems:
        return _issue_page(web, ctype, values=values, errors=problems, status=422)
    try:
        issued = await run_in_threadpool(
            lambda: web.service.issue(
                web.principal,
                type_name=ctype.name,
                claims=claims,
                holder_jwk=None,
                valid_days=valid_days,
            )
        )
    except SchemaError as exc:
        by_field, general = _field_errors(groups, list(exc.extra.get("violations", [])))
        return _issue_page(web, ctype, values=values, errors=by_field, general=general, status=422)
    except PasserelleError as exc:
        return _error_page(web, exc)
    return _issued_page(web, [issued])


def _issued_page(web: Web, issued: list[IssuedCredential]) -> Response:
    names = LANGUAGE_NAMES[web.t.lang]
    return _page(
        "registrar_issued.html",
        web.t,
        web=web,
        title=web.t("issued_one") if len(issued) == 1 else web.t("issued_many", count=len(issued)),
        issued=issued,
        languages=[(tag, names[tag]) for tag in LANGUAGES],
        default_language=web.tenant.default_language,
    )


# -- CSV batches -----------------------------------------------------------------------------
def _batch_page(web: Web, *, status: int = 200, **values: Any) -> Response:
    defaults: dict[str, Any] = {
        "errors": [],
        "summary": "",
        "upload": None,
        "rows": [],
        "type_name": "QualificationCredential",
        "valid_days": "",
    }
    defaults.update(values)
    return _page(
        "registrar_batch.html",
        web.t,
        web=web,
        status=status,
        title=web.t("batch_title"),
        types=_type_choices(web.service, web.t.lang),
        **defaults,
    )


@router.get("/batch")
def batch_form(request: Request) -> Response:
    web = _web(request)
    if web is None:
        return _to_login(request)
    try:
        web.service.require(web.principal, "issue")
    except PasserelleError as exc:
        return _error_page(web, exc)
    return _batch_page(web)


@router.post("/batch/preview")
async def batch_preview(
    request: Request,
    file: Annotated[UploadFile, File()],
    type: Annotated[str, Form(max_length=300)] = "QualificationCredential",
    valid_days: Annotated[str, Form(max_length=6)] = "",
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """The batch dry run: every row checked, nothing issued; the file is kept in the
    session until it is issued or another is uploaded."""
    web = await run_in_threadpool(_web, request)
    if web is None:
        return _to_login(request)
    if not _csrf_ok(web.session.csrf, csrf):
        return _error_page(web, _csrf_error())
    service = web.service
    limit = service.settings.max_upload_bytes
    data = await file.read(limit + 1)
    days = int(valid_days) if valid_days.isdigit() and 1 <= int(valid_days) <= 36_500 else None
    form: dict[str, Any] = {"type_name": type, "valid_days": valid_days}
    web.session.upload = None
    try:
        service.require(web.principal, "issue")
        if len(data) > limit:
            raise PayloadTooLargeError(f"the upload exceeds {limit} bytes")
        rows = await run_in_threadpool(service.parse_csv, type, data)
        await run_in_threadpool(
            lambda: service.issue_batch(
                web.principal, type_name=type, rows=rows, valid_days=days, dry_run=True
            )
        )
    except BatchInvalidError as exc:
        problems = list(exc.extra.get("errors", []))
        return _batch_page(
            web,
            status=422,
            errors=problems,
            summary=web.t("batch_errors", count=len(problems) or 1)
            + ("" if problems else f" {exc.detail}"),
            **form,
        )
    except (CsvEncodingError, PayloadTooLargeError, InvalidInputError) as exc:
        return _batch_page(web, status=422, summary=exc.detail, **form)
    except PasserelleError as exc:
        return _error_page(web, exc)
    upload = PendingUpload(secrets.token_urlsafe(24), type, days, data, len(rows))
    web.session.upload = upload
    preview = [
        {
            "row": r.row,
            "holder": " ".join(
                str(r.claims[n]) for n in ("given_name", "family_name") if n in r.claims
            ),
            "title": _first_title(r.claims),
        }
        for r in rows[:50]
    ]
    return _batch_page(
        web, upload=upload, rows=preview, summary=web.t("batch_ready", count=len(rows)), **form
    )


def _first_title(claims: Mapping[str, Any]) -> str:
    for value in claims.values():
        if isinstance(value, Mapping) and isinstance(value.get("title"), Mapping):
            return next(iter(value["title"].values()), "")
    return ""


@router.post("/batch/issue")
async def batch_issue(
    request: Request,
    upload: Annotated[str, Form(max_length=100)] = "",
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Issue the previewed file. The upload token is the batch's idempotency key, so a
    second click or a reload issues nothing twice."""
    web = await run_in_threadpool(_web, request)
    if web is None:
        return _to_login(request)
    if not _csrf_ok(web.session.csrf, csrf):
        return _error_page(web, _csrf_error())
    pending = web.session.upload
    if pending is None or not hmac.compare_digest(pending.token, upload):
        return _batch_page(web, status=409, summary=web.t("upload_gone"))
    service = web.service

    def run() -> BatchIssued:
        rows = service.parse_csv(pending.type_name, pending.data)
        return service.issue_batch(
            web.principal,
            type_name=pending.type_name,
            rows=rows,
            valid_days=pending.valid_days,
            idempotency_key="registrar-" + pending.token,
        )

    try:
        result = await run_in_threadpool(run)
    except PasserelleError as exc:
        return _error_page(web, exc)
    web.session.upload = None
    return _issued_page(web, result.credentials)
