"""``/api/v1/credentials``: issue, batch-issue (JSON or CSV), list, read, change status."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Header, Path, Query, Request, Response, UploadFile
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from issuer.batchcsv import ParsedRow
from issuer.deps import PrincipalDep, ServiceDep, get_principal, get_service
from issuer.models import (
    BatchIssue,
    BatchIssued,
    CredentialIssue,
    CredentialPage,
    CredentialPublic,
    IssuedCredential,
    ReasonBody,
)
from issuer.responses import PROBLEMS
from passerelle.errors import PayloadTooLargeError, RequestInvalidError

router = APIRouter(prefix="/api/v1/credentials", tags=["credentials"], responses=PROBLEMS)

_IDEMPOTENCY_KEY_MAX = 200
_IDEMPOTENCY_KEY_HELP = (
    "Retrying with the same key and body returns the first response; "
    "the same key with another body is a 409 idempotency_key_reused."
)
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=_IDEMPOTENCY_KEY_MAX,
        description=_IDEMPOTENCY_KEY_HELP,
    ),
]
CredentialId = Annotated[str, Path(min_length=1, max_length=32)]


_ISSUE_OPENAPI: dict[str, Any] = {
    "parameters": [
        {
            "name": "Idempotency-Key",
            "in": "header",
            "required": False,
            "schema": {"type": "string", "maxLength": _IDEMPOTENCY_KEY_MAX},
            "description": _IDEMPOTENCY_KEY_HELP,
        }
    ],
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": CredentialIssue.model_json_schema()}},
    },
}


def _invalid(exc: ValidationError) -> RequestValidationError:
    """The body's schema errors, located as FastAPI locates them (``body.<field>``)."""
    return RequestValidationError(
        [{**item, "loc": ("body", *item["loc"])} for item in exc.errors(include_url=False)]
    )


async def _issue_request(request: Request) -> tuple[CredentialIssue, str | None]:
    """The body and the Idempotency-Key of an issuance request, read and checked."""
    key = request.headers.get("idempotency-key")
    if key is not None and len(key) > _IDEMPOTENCY_KEY_MAX:
        raise RequestValidationError(
            [
                {
                    "loc": ("header", "Idempotency-Key"),
                    "msg": f"String should have at most {_IDEMPOTENCY_KEY_MAX} characters",
                }
            ]
        )
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type and not (media_type == "application/json" or media_type.endswith("+json")):
        raise RequestInvalidError("send the credential as application/json")
    try:
        return CredentialIssue.model_validate_json(await request.body()), key
    except ValidationError as exc:
        raise _invalid(exc) from None


@router.post(
    "",
    status_code=201,
    response_model=IssuedCredential,
    openapi_extra=_ISSUE_OPENAPI,
)
async def issue_credential(request: Request) -> Response:
    """Issue one SD-JWT VC (roles: admin, issuer)."""
    # the caller, the header and the body are read here rather than declared: FastAPI's
    # dependency and body resolution cost this, the busiest route, a tenth of its CPU
    principal = await get_principal(request)
    service = await get_service(request)
    body, idempotency_key = await _issue_request(request)
    issued = await service.issue_async(
        principal,
        type_name=body.type,
        claims=body.claims,
        holder_jwk=body.holder_jwk,
        valid_days=body.valid_days,
        idempotency_key=idempotency_key,
    )
    # encoded by pydantic at once: the model was built by the service, checking it again
    # against ``response_model`` would cost a tenth of the request
    return Response(issued.model_dump_json(), status_code=201, media_type="application/json")


@router.post("/batch", status_code=201, response_model=BatchIssued)
def issue_batch(
    body: BatchIssue,
    service: ServiceDep,
    principal: PrincipalDep,
    idempotency_key: IdempotencyKey = None,
    dry_run: Annotated[bool, Query(description="Validate only; issue nothing.")] = False,
) -> BatchIssued:
    """Issue a batch from JSON rows: every row is validated first, then all are issued in
    one transaction (all or nothing). Row numbers count from 1."""
    rows = [
        ParsedRow(row=n, claims=r.claims, holder_jwk=r.holder_jwk)
        for n, r in enumerate(body.rows, start=1)
    ]
    return service.issue_batch(
        principal,
        type_name=body.type,
        rows=rows,
        valid_days=body.valid_days,
        idempotency_key=idempotency_key,
        dry_run=dry_run,
    )


@router.post("/batch/csv", status_code=201, response_model=BatchIssued)
async def issue_batch_csv(
    service: ServiceDep,
    principal: PrincipalDep,
    file: Annotated[UploadFile, File(description="UTF-8 CSV; see the column mapping.")],
    type: Annotated[str, Form(min_length=1, max_length=300)],
    valid_days: Annotated[int | None, Form(ge=1, le=36_500)] = None,
    idempotency_key: IdempotencyKey = None,
    dry_run: Annotated[bool, Query(description="Validate only; issue nothing.")] = False,
) -> BatchIssued:
    """Issue a batch from a CSV upload (header row = claim paths). Rows are numbered as in a
    spreadsheet (header = row 1). All or nothing."""
    limit = service.settings.max_upload_bytes
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLargeError(f"the upload exceeds {limit} bytes")
    service.require(principal, "issue")
    rows = service.parse_csv(type, data)
    return service.issue_batch(
        principal,
        type_name=type,
        rows=rows,
        valid_days=valid_days,
        idempotency_key=idempotency_key,
        dry_run=dry_run,
    )


@router.get("", response_model=CredentialPage)
def list_credentials(
    service: ServiceDep,
    principal: PrincipalDep,
    q: Annotated[
        str | None, Query(max_length=200, description="Part of the holder's name or number.")
    ] = None,
    status: Literal["valid", "revoked", "suspended"] | None = None,
    type: Annotated[str | None, Query(max_length=300)] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> CredentialPage:
    """The tenant's credentials, newest first."""
    return service.list_credentials(
        principal, query=q, status=status, type_name=type, page=page, page_size=page_size
    )


@router.get("/{credential_id}", response_model=CredentialPublic)
def get_credential(
    credential_id: CredentialId, service: ServiceDep, principal: PrincipalDep
) -> CredentialPublic:
    return service.get_credential(principal, credential_id)


@router.post("/{credential_id}/revoke", response_model=CredentialPublic)
def revoke(
    credential_id: CredentialId, body: ReasonBody, service: ServiceDep, principal: PrincipalDep
) -> CredentialPublic:
    """Revoke for good (roles: admin, revoker)."""
    return service.change_status(principal, credential_id, "revoke", body.reason)


@router.post("/{credential_id}/suspend", response_model=CredentialPublic)
def suspend(
    credential_id: CredentialId, body: ReasonBody, service: ServiceDep, principal: PrincipalDep
) -> CredentialPublic:
    """Suspend a valid credential (it may be reinstated)."""
    return service.change_status(principal, credential_id, "suspend", body.reason)


@router.post("/{credential_id}/reinstate", response_model=CredentialPublic)
def reinstate(
    credential_id: CredentialId, body: ReasonBody, service: ServiceDep, principal: PrincipalDep
) -> CredentialPublic:
    """Make a suspended credential valid again."""
    return service.change_status(principal, credential_id, "reinstate", body.reason)
