"""``passerelle trust-list``: build, sign and inspect an accreditation body's trust list.

The format is described in :mod:`passerelle.trustlist`. The usual cycle::

    passerelle trust-list build source.yaml -o payload.json        # validate, check by eye
    passerelle trust-list sign payload.json --store anchor-keys -o list.jwt
    passerelle trust-list inspect list.jwt --anchor anchor.jwk.json
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from passerelle import errors, jose
from passerelle.cli._common import cli_errors, fail, print_json, read_json_file
from passerelle.cli._fetch import load_text_source
from passerelle.keys import (
    KeyStore,
    PublicKey,
    SigningKey,
    private_key_from_jwk,
    public_key_from_jwk,
    resolve_passphrase,
)
from passerelle.trustlist import (
    build_trust_list,
    load_source,
    sign_trust_list,
    verify_trust_list,
)

__all__ = ["app"]

app = typer.Typer(
    help="Trust lists: an accreditation body's signed list of the issuers it accredits.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_UNVERIFIED = "UNVERIFIED: signature not checked (give --anchor to verify)"

LifetimeOption = Annotated[
    int, typer.Option("--lifetime-days", min=1, max=366, help="Days until the list expires.")
]
AtOption = Annotated[
    str | None,
    typer.Option("--at", help="Act as of this RFC 3339 date-time (default: now)."),
]
OutputOption = Annotated[Path | None, typer.Option("--output", "-o", help="Write to FILE.")]


def _moment(value: str | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        fail("--at must be an RFC 3339 date-time, e.g. 2026-01-31T12:00:00Z")
    if moment.tzinfo is None:
        fail("--at must carry a time zone (Z or +hh:mm)")
    return moment


def _write(text: str, output: Path | None) -> None:
    if output is None:
        typer.echo(text)
    else:
        output.write_text(text + "\n", encoding="utf-8")
        typer.echo(f"written: {output}", err=True)


def _payload_or_source(path: Path, *, now: datetime, lifetime_days: int) -> dict[str, Any]:
    """A payload file is signed as it is; a source (YAML, or JSON without ``iat``) is built."""
    if path.suffix.lower() in {".yaml", ".yml"}:
        data: Any = None
    else:
        data = read_json_file(path)
        if not isinstance(data, dict):
            raise errors.InvalidInputError(f"{path} must hold a JSON object")
    if isinstance(data, dict) and "iat" in data:
        if not isinstance(data.get("exp"), int) or data["exp"] <= int(now.timestamp()):
            raise errors.InvalidInputError(
                f"{path}: this payload has already expired (or has no exp); build it again"
            )
        return data
    source = load_source(path)
    return build_trust_list(source, now=now, lifetime=timedelta(days=lifetime_days))


def _anchor_keys(paths: list[Path]) -> list[PublicKey]:
    keys: list[PublicKey] = []
    for path in paths:
        data = read_json_file(path)
        items = data["keys"] if isinstance(data, dict) and "keys" in data else [data]
        if not isinstance(items, list) or not items:
            raise errors.InvalidInputError(f"{path}: a JWK or a JWKS with keys is expected")
        keys.extend(public_key_from_jwk(item) for item in items)
    return keys


def _signing_key(key_file: Path | None, store: Path | None, kid: str | None) -> SigningKey:
    if (key_file is None) == (store is None):
        fail("give the anchor's key: --key PRIVATE_JWK_FILE or --store KEY_STORE_DIR (one)")
    if key_file is not None:
        if kid is not None:
            fail("--kid selects a key in a --store; a --key file holds one key")
        return private_key_from_jwk(read_json_file(key_file))
    assert store is not None
    return KeyStore(store, resolve_passphrase()).signing_key(kid)


@app.command()
def build(
    source: Annotated[Path, typer.Argument(help="Trust list source, YAML or JSON.")],
    lifetime_days: LifetimeOption = 30,
    at: AtOption = None,
    output: OutputOption = None,
) -> None:
    """Validate a source and print the unsigned trust list payload (JSON)."""
    with cli_errors():
        payload = build_trust_list(
            load_source(source), now=_moment(at), lifetime=timedelta(days=lifetime_days)
        )
        _write(json.dumps(payload, indent=2, ensure_ascii=False), output)


@app.command()
def sign(
    document: Annotated[
        Path, typer.Argument(help="Payload JSON from 'build', or a source (built first).")
    ],
    key_file: Annotated[
        Path | None, typer.Option("--key", help="The anchor's private JWK file.")
    ] = None,
    store: Annotated[
        Path | None,
        typer.Option(
            "--store",
            "--key-store",
            help="Key store holding the anchor's key (passphrase from the environment).",
        ),
    ] = None,
    kid: Annotated[
        str | None, typer.Option(help="Key in the store (default: its active key).")
    ] = None,
    lifetime_days: LifetimeOption = 30,
    at: AtOption = None,
    output: OutputOption = None,
) -> None:
    """Sign a trust list with the accreditation body's (trust anchor's) key."""
    with cli_errors():
        now = _moment(at)
        payload = _payload_or_source(document, now=now, lifetime_days=lifetime_days)
        token = sign_trust_list(payload, _signing_key(key_file, store, kid))
        _write(token, output)


@app.command()
def inspect(
    location: Annotated[
        str, typer.Argument(metavar="TOKEN", help="Trust list file, https URL, or - for stdin.")
    ],
    anchor: Annotated[
        list[Path] | None,
        typer.Option("--anchor", help="Trust anchor public JWK (or JWKS) file; repeatable."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    at: AtOption = None,
) -> None:
    """Show a trust list: verified against --anchor keys, or decoded and marked UNVERIFIED."""
    with cli_errors():
        if location == "-":
            token = sys.stdin.read().strip()
        else:
            token = load_text_source(location, offline=False)
        if not anchor:
            jws = jose.parse_compact(token)
            if as_json:
                print_json(
                    {
                        "verified": False,
                        "warning": _UNVERIFIED,
                        "header": jws.header,
                        "payload": jws.payload,
                    }
                )
            else:
                typer.echo(_UNVERIFIED)
                _render(jws.header, jws.payload)
            return
        trusted = verify_trust_list(token, _anchor_keys(anchor), now=_moment(at))
        if as_json:
            print_json({"verified": True, **trusted.to_json()})
            return
        typer.echo(f"VERIFIED: signed by trust anchor key {trusted.kid}")
        jws = jose.parse_compact(trusted.token)
        _render(jws.header, jws.payload)


def _time(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value)


def _names(value: Any) -> str:
    if isinstance(value, dict):
        return " | ".join(f"{lang}: {text}" for lang, text in value.items())
    return str(value)


def _render(header: dict[str, Any], payload: dict[str, Any]) -> None:
    """Human-readable view; tolerant of malformed (unverified) payloads."""
    issuers = payload.get("issuers")
    entries = issuers if isinstance(issuers, list) else []
    typer.echo(f"anchor:        {payload.get('iss')}  (key {header.get('kid')})")
    typer.echo(f"jurisdiction:  {payload.get('jurisdiction')}")
    typer.echo(f"issued:        {_time(payload.get('iat'))}")
    typer.echo(f"expires:       {_time(payload.get('exp'))}")
    typer.echo(f"issuers:       {len(entries)}")
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        acc = entry.get("accreditation")
        acc = acc if isinstance(acc, dict) else {}
        until = entry.get("valid_until", "(open)")
        typer.echo("")
        typer.echo(f"{entry.get('id')}  [{entry.get('status')}]")
        typer.echo(f"  names:          {_names(entry.get('names'))}")
        typer.echo(f"  country:        {entry.get('country')}")
        typer.echo(f"  accreditation:  {acc.get('id')} by {_names(acc.get('body'))}")
        typer.echo(f"  valid:          {entry.get('valid_from')} -> {until}")
        scope = acc.get("scope")
        typer.echo("  scope:")
        for vct in scope if isinstance(scope, list) else []:
            typer.echo(f"    - {vct}")
        jwks = entry.get("jwks")
        keys = jwks.get("keys") if isinstance(jwks, dict) else None
        typer.echo("  keys:")
        for key in keys if isinstance(keys, list) else []:
            if not isinstance(key, dict):
                continue
            line = (
                f"    - {key.get('kid')} ({key.get('alg', key.get('kty'))}) "
                f"{key.get('valid_from')} -> {key.get('valid_until', '(open)')}"
            )
            if "compromised_at" in key:
                line += f"  COMPROMISED since {key['compromised_at']}"
            typer.echo(line)
