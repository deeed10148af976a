"""``POST /api/v1/verify/bulk``: many credentials in, one report out (JSON or CSV).

A recruiter filing with a labour ministry uploads the credentials of a group of workers and
gets one row per credential. Input, by ``Content-Type``:

* ``text/csv`` (the body is the file) or ``multipart/form-data`` with the file in part
  ``file``: UTF-8 (a BOM is allowed), comma-, semicolon- or tab-separated (the separator
  most frequent in the header line wins), a header row naming a ``token`` column and
  optionally a ``reference`` column (the recruiter's own identifier, echoed back); other
  columns are ignored and never echoed; blank rows are skipped;
* ``application/json``: ``{"tokens": [...], "lang": ..., "at": ...}`` or a bare array, each
  item a token string or ``{"token": ..., "reference": ...}``.

A token is anything ``POST /api/v1/verify`` takes as text (compact SD-JWT VC, QR payload,
URL). Options ``lang`` and ``at`` are query parameters (a JSON object's own fields win);
every row is verified as of the same moment. Limits: :data:`MAX_ROWS` tokens and
:data:`MAX_BYTES` bytes per request (413 ``payload_too_large``), references of at most
:data:`MAX_REFERENCE` characters. A token that does not verify, garbage included, is a row
with ``valid: false`` and its failing check codes; only a malformed request is a problem.

The report is JSON unless ``?format=csv`` or an ``Accept`` header preferring ``text/csv``.
Each row: ``index`` (1 = first token), ``reference``, ``valid``, ``status``, ``issuer_id``,
``issuer_name`` (in ``lang``), ``type``, ``given_name``, ``family_name``,
``failed_checks``, ``verified_at``. Personal data is limited to the holder's names, and
only as the credential discloses them and only when its signature by a trusted issuer
verified: the recruiter needs them to match a report row with a worker; birth date,
nationality and every other claim stay out. The CSV is meant for spreadsheets: it starts
with a UTF-8 BOM, and a cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return gets a leading ``'`` so that no spreadsheet runs it as a formula (references, issuer
names and holder names come from other parties).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from passerelle import errors
from passerelle.verification import VerificationResult
from verifier.deps import VerificationDep
from verifier.models import Lang, Problem

__all__ = ["MAX_BYTES", "MAX_REFERENCE", "MAX_ROWS", "REPORT_COLUMNS", "router"]

router = APIRouter(prefix="/api/v1", tags=["verify"])

#: Most tokens in one request.
MAX_ROWS = 1000
#: Largest body of one request (bytes; the app-wide limit applies too).
MAX_BYTES = 4 * 1024 * 1024
#: Longest ``reference`` (characters).
MAX_REFERENCE = 200
#: The columns of the CSV report, in order (the JSON rows have the same members).
REPORT_COLUMNS = (
    "index",
    "reference",
    "valid",
    "status",
    "issuer_id",
    "issuer_name",
    "type",
    "given_name",
    "family_name",
    "failed_checks",
    "verified_at",
)
CSV_MEDIA_TYPE = "text/csv"
_TOKEN_COLUMN, _REFERENCE_COLUMN = "token", "reference"
#: Cell starts a spreadsheet would evaluate (OWASP "CSV injection").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_SEPARATORS = (",", ";", "\t")


class BulkItemIn(BaseModel):
    """One token with the caller's reference for it."""

    model_config = ConfigDict(extra="forbid")

    token: str = Field(description="What POST /api/v1/verify takes as 'token'.")
    reference: str | None = Field(
        default=None, max_length=MAX_REFERENCE, description="Echoed in the report row."
    )


BulkItem = str | BulkItemIn


class BulkVerifyIn(BaseModel):
    """Tokens to verify, with the options of the whole batch."""

    model_config = ConfigDict(extra="forbid")

    tokens: list[BulkItem] = Field(description=f"1 to {MAX_ROWS} tokens.")
    lang: Lang | None = Field(default=None, description="Overrides the query's 'lang'.")
    at: AwareDatetime | None = Field(default=None, description="Overrides the query's 'at'.")


class BulkRowOut(BaseModel):
    index: int = Field(description="Position of the token in the input, from 1.")
    reference: str | None
    valid: bool
    status: Literal["valid", "revoked", "suspended", "unknown"]
    issuer_id: str | None
    issuer_name: str | None = Field(description="From the trust list, in 'lang'.")
    type: str | None = Field(description="Credential type name (its vct when unknown here).")
    given_name: str | None = Field(description="Only when disclosed by a genuine credential.")
    family_name: str | None = Field(description="Only when disclosed by a genuine credential.")
    failed_checks: list[str] = Field(description="Codes of the failed checks, in check order.")
    verified_at: str


class BulkSummaryOut(BaseModel):
    total: int
    valid: int
    invalid: int
    revoked: int
    suspended: int


class BulkReportOut(BaseModel):
    verified_at: str
    lang: str
    summary: BulkSummaryOut
    results: list[BulkRowOut]


_JSON_INPUT: TypeAdapter[BulkVerifyIn | list[BulkItem]] = TypeAdapter(BulkVerifyIn | list[BulkItem])
_ITEM_SCHEMA: dict[str, Any] = {"anyOf": [{"type": "string"}, BulkItemIn.model_json_schema()]}
_JSON_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {
            "type": "object",
            "required": ["tokens"],
            "additionalProperties": False,
            "properties": {
                "tokens": {"type": "array", "items": _ITEM_SCHEMA, "maxItems": MAX_ROWS},
                "lang": TypeAdapter(Lang).json_schema(),
                "at": {"type": "string", "format": "date-time"},
            },
        },
        {"type": "array", "items": _ITEM_SCHEMA, "maxItems": MAX_ROWS},
    ]
}
_REQUEST_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": _JSON_SCHEMA},
            CSV_MEDIA_TYPE: {
                "schema": {"type": "string", "description": "A header row naming 'token'."}
            },
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            },
        },
    }
}
_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {CSV_MEDIA_TYPE: {"schema": {"type": "string"}}}},
    **{
        status: {"model": Problem, "content": {"application/problem+json": {}}, "description": what}
        for status, what in (
            (413, f"Over {MAX_ROWS} tokens or {MAX_BYTES} bytes (payload_too_large)"),
            (422, "Malformed request, CSV or encoding (request_invalid, csv_encoding)"),
        )
    },
}


# -- reading the request -------------------------------------------------------------------
def _decode(data: bytes) -> str:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise errors.CsvEncodingError(
            f"the file is not UTF-8 (first invalid byte at offset {exc.start}); save it as "
            "'CSV UTF-8' and upload it again"
        ) from None
    if "\x00" in text:
        raise errors.CsvEncodingError("the file holds NUL characters: it is not a CSV file")
    return text


def _reference(value: str | None, index: int) -> str | None:
    if value is None or not value.strip():
        return None
    if len(value) > MAX_REFERENCE:
        raise errors.RequestInvalidError(
            f"token {index}: the reference is over {MAX_REFERENCE} characters"
        )
    return value.strip()


def _too_many() -> errors.PayloadTooLargeError:
    return errors.PayloadTooLargeError(f"a bulk request holds at most {MAX_ROWS} tokens")


def read_csv(data: bytes) -> list[tuple[str, str | None]]:
    """``(token, reference)`` for each non-blank row of a CSV upload.

    Raises:
        CsvEncodingError: not UTF-8 text.
        RequestInvalidError: malformed CSV, no ``token`` column, no rows, a long reference.
        PayloadTooLargeError: over :data:`MAX_ROWS` rows.
    """
    text = _decode(data)
    first_line = text.split("\n", 1)[0]
    separator = max(_SEPARATORS, key=first_line.count)
    # field_size_limit (131,072 characters) is process-wide state: left alone; a longer
    # cell is a malformed CSV here.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator, strict=True)
    try:
        header = [name.strip().lower() for name in next(reader)]
    except StopIteration:
        raise errors.RequestInvalidError("the file is empty") from None
    except csv.Error as exc:
        raise errors.RequestInvalidError(f"row 1: malformed CSV ({exc})") from None
    if header.count(_TOKEN_COLUMN) != 1 or header.count(_REFERENCE_COLUMN) > 1:
        raise errors.RequestInvalidError(
            "the first row must name the columns, with one 'token' column (and at most one "
            "'reference' column)"
        )
    token_at = header.index(_TOKEN_COLUMN)
    reference_at = header.index(_REFERENCE_COLUMN) if _REFERENCE_COLUMN in header else None
    items: list[tuple[str, str | None]] = []
    try:
        for record in reader:
            if not any(cell.strip() for cell in record):
                continue
            if len(items) >= MAX_ROWS:
                raise _too_many()
            token = record[token_at] if token_at < len(record) else ""
            reference = (
                record[reference_at]
                if reference_at is not None and reference_at < len(record)
                else None
            )
            items.append((token, _reference(reference, len(items) + 1)))
    except csv.Error as exc:
        raise errors.RequestInvalidError(f"row {reader.line_num}: malformed CSV ({exc})") from None
    return items


def _invalid(exc: ValidationError) -> errors.RequestInvalidError:
    """The problem for a body that breaks the schema (locations and messages, no values)."""
    problems = [
        {"loc": [str(p) for p in item["loc"]], "msg": item["msg"]} for item in exc.errors()[:20]
    ]
    return errors.RequestInvalidError("the request does not match its schema", errors=problems)


def read_json(data: bytes) -> tuple[list[tuple[str, str | None]], str | None, datetime | None]:
    """``(token, reference)`` pairs and the body's ``lang`` and ``at`` (None: not given).

    Raises:
        RequestInvalidError: not the documented JSON, or no tokens.
        PayloadTooLargeError: over :data:`MAX_ROWS` tokens.
    """
    try:
        parsed = _JSON_INPUT.validate_json(data)
    except ValidationError as exc:
        raise _invalid(exc) from None
    lang: str | None = None
    at: datetime | None = None
    if isinstance(parsed, BulkVerifyIn):
        items, lang, at = parsed.tokens, parsed.lang, parsed.at
    else:
        items = parsed
    if len(items) > MAX_ROWS:
        raise _too_many()
    pairs = [
        (item, None) if isinstance(item, str) else (item.token, _reference(item.reference, n))
        for n, item in enumerate(items, start=1)
    ]
    return pairs, lang, at


async def _body(request: Request) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BYTES:
        raise errors.PayloadTooLargeError(f"a bulk request body is at most {MAX_BYTES} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BYTES:
            raise errors.PayloadTooLargeError(f"a bulk request body is at most {MAX_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def _uploaded_file(request: Request) -> bytes:
    try:
        form = await request.form(max_files=1, max_fields=4)
    except errors.PasserelleError:
        raise
    except Exception as exc:  # python-multipart / Starlette parse errors, whatever their class
        raise errors.RequestInvalidError("unreadable multipart body") from exc
    try:
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise errors.RequestInvalidError("the 'file' part (the CSV file) is missing")
        data = await upload.read(MAX_BYTES + 1)
    finally:
        await form.close()
    if len(data) > MAX_BYTES:
        raise errors.PayloadTooLargeError(f"a bulk upload is at most {MAX_BYTES} bytes")
    return data


# -- writing the report --------------------------------------------------------------------
def _wants_csv(request: Request, fmt: str | None) -> bool:
    """``format`` decides; else CSV when ``Accept`` ranks ``text/csv`` above JSON."""
    if fmt is not None:
        return fmt == "csv"
    ranks = {"csv": 0.0, "json": 0.0}
    for part in request.headers.get("accept", "").split(","):
        media, *params = (piece.strip() for piece in part.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        media = media.lower()
        if media in (CSV_MEDIA_TYPE, "text/*"):
            ranks["csv"] = max(ranks["csv"], quality)
        if media in ("application/json", "application/*", "*/*"):
            ranks["json"] = max(ranks["json"], quality)
    return ranks["csv"] > ranks["json"]


def _name(names: Any, lang: str) -> str | None:
    if not isinstance(names, dict) or not names:
        return None
    for choice in (lang, lang.split("-")[0], "en"):
        if isinstance(names.get(choice), str):
            return str(names[choice])
    first = next(iter(names.values()))
    return first if isinstance(first, str) else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def report_row(
    index: int, reference: str | None, result: VerificationResult, lang: str
) -> dict[str, Any]:
    """One row of the report (see the module docstring for what it holds and why)."""
    issuer = result.issuer or {}
    credential = result.credential or {}
    claims = credential.get("claims") or {}
    return {
        "index": index,
        "reference": reference,
        "valid": result.valid,
        "status": result.status,
        "issuer_id": _text(issuer.get("id")),
        "issuer_name": _name(issuer.get("names"), lang),
        "type": _text(credential.get("type")) or _text(credential.get("vct")),
        "given_name": _text(claims.get("given_name")),
        "family_name": _text(claims.get("family_name")),
        "failed_checks": [check.code for check in result.failures],
        "verified_at": result.verified_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def safe_cell(value: Any) -> str:
    """A CSV cell that no spreadsheet evaluates (see the module docstring)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        value = " ".join(str(item) for item in value)
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def report_csv(rows: Iterable[dict[str, Any]]) -> str:
    out = io.StringIO()
    out.write("\ufeff")  # Excel reads UTF-8 (Arabic names) only with a BOM
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(REPORT_COLUMNS)
    for row in rows:
        writer.writerow([safe_cell(row[name]) for name in REPORT_COLUMNS])
    return out.getvalue()


def _summary(rows: list[dict[str, Any]]) -> dict[str, int]:
    valid = sum(1 for row in rows if row["valid"])
    return {
        "total": len(rows),
        "valid": valid,
        "invalid": len(rows) - valid,
        "revoked": sum(1 for row in rows if row["status"] == "revoked"),
        "suspended": sum(1 for row in rows if row["status"] == "suspended"),
    }


@router.post(
    "/verify/bulk",
    summary="Verify many credentials (CSV or JSON) into one report",
    description="Verifies each token as POST /api/v1/verify does (as of one moment) and "
    "returns one row per token, as JSON or as CSV (?format=csv or Accept: text/csv). Input: "
    "a CSV file with a 'token' column and an optional 'reference' column (text/csv body, or "
    f"multipart part 'file'), or JSON. At most {MAX_ROWS} tokens and {MAX_BYTES} bytes. "
    "Rows carry the holder's given and family names only when the credential discloses "
    "them and is genuine; no other personal data.",
    response_model=BulkReportOut,
    responses=_RESPONSES,
    openapi_extra=_REQUEST_BODY,
)
async def verify_bulk(
    request: Request,
    service: VerificationDep,
    report_format: Annotated[
        Literal["json", "csv"] | None,
        Query(alias="format", description="Report format (else the Accept header decides)."),
    ] = None,
    lang: Annotated[Lang, Query(description="Language of issuer names: en, fr, es, ar.")] = "en",
    at: Annotated[
        AwareDatetime | None, Query(description="Verify as of this moment (RFC 3339).")
    ] = None,
) -> Response:
    content_type = request.headers.get("content-type", "").lower()
    if content_type.startswith("multipart/form-data"):
        items = read_csv(await _uploaded_file(request))
    elif content_type.startswith(CSV_MEDIA_TYPE):
        items = read_csv(await _body(request))
    elif content_type.startswith("application/json") or not content_type:
        items, body_lang, body_at = read_json(await _body(request))
        lang, at = body_lang or lang, body_at or at
    else:
        raise errors.RequestInvalidError("send text/csv, multipart/form-data or application/json")
    if not items:
        raise errors.RequestInvalidError("no tokens to verify")
    results = await service.verify_many([token for token, _ in items], at=at, lang=lang)
    rows = [
        report_row(n, reference, result, lang)
        for n, ((_, reference), result) in enumerate(zip(items, results, strict=True), start=1)
    ]
    if _wants_csv(request, report_format):
        stamp = results[0].verified_at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
        return Response(
            report_csv(rows),
            media_type=f"{CSV_MEDIA_TYPE}; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="verification-report-{stamp}.csv"'
            },
        )
    return JSONResponse(
        {
            "verified_at": rows[0]["verified_at"],
            "lang": lang,
            "summary": _summary(rows),
            "results": rows,
        }
    )
