"""``passerelle bundle``: one file with what an offline verifier needs (see passerelle.bundle)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from passerelle import errors, statuslist
from passerelle.bundle import make_bundle
from passerelle.cli._common import cli_errors, fail, read_json_file
from passerelle.cli._fetch import load_text_source
from passerelle.keys import PublicKey, public_key_from_jwk
from passerelle.trustlist import TrustStore, verify_trust_list

__all__ = ["register"]


def status_key_resolver(trust: TrustStore) -> Any:
    """Resolve a Status List Token's key: its ``iss`` must be a listed issuer, its ``kid``
    one of that issuer's keys valid at the token's ``iat``."""
    issuers = {record.id: record for record in trust.issuers()}

    def resolve(header: Any, payload: Any) -> PublicKey:
        record = issuers.get(payload.get("iss"))
        if record is None:
            raise errors.IssuerUntrustedError(
                f"status list issuer {payload.get('iss')!r} is in no trusted list"
            )
        iat = payload.get("iat")
        if not isinstance(iat, int):
            raise errors.StatusListError("'iat' must be a NumericDate")
        kid = header.get("kid")
        return record.key_for(kid if isinstance(kid, str) else None, iat)

    return resolve


def bundle(
    trust_list: Annotated[
        list[str], typer.Option("--trust-list", help="Signed trust list file or URL.")
    ],
    trust_anchor: Annotated[
        list[Path], typer.Option("--trust-anchor", help="Trust anchor public JWK file.")
    ],
    status_list: Annotated[
        list[str] | None,
        typer.Option("--status-list", help="Status List Token file or URL (repeatable)."),
    ] = None,
    output: Annotated[Path, typer.Option("--output", "-o")] = Path("passerelle-bundle.json"),
) -> None:
    """Verify trust lists and status lists, then write them into one offline bundle."""
    now = datetime.now(UTC)
    with cli_errors():
        anchors = [public_key_from_jwk(read_json_file(p)) for p in trust_anchor]
        if not anchors:
            fail("at least one --trust-anchor is required")
        trust_tokens = [load_text_source(s, offline=False) for s in trust_list]
        lists = [verify_trust_list(t, anchors, now=now) for t in trust_tokens]
        trust = TrustStore.from_lists(lists)
        resolver = status_key_resolver(trust)
        status_tokens = [load_text_source(s, offline=False) for s in status_list or []]
        for token in status_tokens:
            verified = statuslist.verify_status_list_token(
                token, resolver, expected_uri=None, now=now
            )
            issued = datetime.fromtimestamp(verified.iat, UTC).isoformat()
            typer.echo(f"status list {verified.uri}: verified, issued {issued}", err=True)
        output.write_text(make_bundle(trust_tokens, status_tokens, now=now), encoding="utf-8")
        typer.echo(
            f"wrote {output}: {len(trust_tokens)} trust list(s), "
            f"{len(status_tokens)} status list(s)"
        )


def register(app: typer.Typer) -> None:
    app.command("bundle")(bundle)
