"""``/api/v1/credentials``: issue, batch-issue (JSON or CSV), list, read, change status."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Header, Path, Query, Response, UploadFile

from issuer.batchcsv import ParsedRow
from issuer.deps import PrincipalDep, ServiceDep
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
from passerelle.errors import PayloadTooLargeError

router = APIRouter(prefix="/api/v1/credentials", tags=["credentials"], responses=PROBLEMS)

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=200,
        description="Retrying with the same key and body returns the first response; "
        "the same key with another body is a 409 idempotency_key_reused.",
    ),
]
CredentialId = Annotated[str, Path(min_length=1, max_length=32)]


@router.post("", status_code=201, response_model=IssuedCredential)
async def issue_credential(
    body: CredentialIssue,
    service: ServiceDep,
    principal: PrincipalDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Issue one SD-JWT VC (roles: admin, issuer)."""
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
