"""``passerelle status-list``: inspect and create IETF Status List Tokens."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from passerelle import errors, statuslist
from passerelle.cli._common import cli_errors, fail, print_json, read_json_file, read_text_arg
from passerelle.jose import KeyResolver
from passerelle.keys import (
    KeyStore,
    PublicKey,
    private_key_from_jwk,
    public_key_from_jwk,
    resolve_passphrase,
)

__all__ = ["app"]

app = typer.Typer(
    help="IETF Token Status Lists: inspect a Status List Token, or create one for a pilot.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
_UNVERIFIED = (
    "WARNING: signature NOT verified (no --key given): anyone could have written this "
    "token; do not rely on its content."
)


def _read_token(source: str) -> str:
    """``-`` is standard input, a compact JWS is taken as is, anything else is a file."""
    text = read_text_arg(source)
    if source == "-" or _JWS.fullmatch(text):
        return text
    path = Path(source)
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise errors.InvalidInputError(
            f"{source!r} is neither a readable file nor a compact JWS ({exc.strerror})"
        ) from exc
    except UnicodeDecodeError as exc:
        raise errors.InvalidInputError(f"{path} is not UTF-8 text") from exc


def _key_resolver(path: Path) -> KeyResolver:
    """A JWK, or a JWKS whose key is picked by the token's ``kid`` (its member or thumbprint)."""
    data = read_json_file(path)
    jwks = data.get("keys") if isinstance(data, dict) and "keys" in data else [data]
    if not isinstance(jwks, list) or not jwks:
        raise errors.InvalidInputError(f"{path}: a JWK or a non-empty JWKS is expected")
    keys: list[tuple[Any, PublicKey]] = [
        (jwk.get("kid") if isinstance(jwk, dict) else None, public_key_from_jwk(jwk))
        for jwk in jwks
    ]

    def resolve(header: Any, payload: Any) -> PublicKey:
        if len(keys) == 1:
            return keys[0][1]
        kid = header.get("kid")
        for member, key in keys:
            if kid is not None and kid in (member, key.kid):
                return key
        raise errors.KeyNotFoundError(f"no key in {path} for kid {kid!r}")

    return resolve


def _status_name(value: int) -> str:
    try:
        return statuslist.Status(value).name.lower()
    except ValueError:
        return f"application-specific ({value:#04x})"


def _rfc3339(timestamp: int | None) -> str | None:
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, UTC).isoformat().replace("+00:00", "Z")


def _parse_at(value: str | None) -> int:
    if value is None:
        return int(time.time())
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        fail("--at must be an RFC 3339 date-time, e.g. 2027-01-31T12:00:00Z")
    if moment.tzinfo is None:
        fail("--at must carry a time zone (Z or +hh:mm)")
    return int(moment.timestamp())


@app.command()
def inspect(
    token: Annotated[
        str, typer.Argument(help="Status List Token: a file, the token, or - for stdin.")
    ],
    index: Annotated[
        int | None, typer.Option("--index", min=0, help="Show the status at this index.")
    ] = None,
    key: Annotated[
        Path | None,
        typer.Option("--key", help="Issuer public JWK (or JWKS) file: verify the token with it."),
    ] = None,
    uri: Annotated[
        str | None, typer.Option("--uri", help="With --key: the URI the token's sub must equal.")
    ] = None,
    at: Annotated[
        str | None, typer.Option("--at", help="With --key: verify as of this RFC 3339 time.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show a Status List Token's claims, its list's size and counts per status."""
    with cli_errors():
        if key is None and (uri is not None or at is not None):
            fail("--uri and --at only make sense with --key")
        text = _read_token(token)
        if key is None:
            typer.secho(_UNVERIFIED, err=True, fg=typer.colors.RED, bold=True)
            parsed = statuslist.parse_status_list_token(text)
        else:
            parsed = statuslist.verify_status_list_token(
                text, _key_resolver(key), expected_uri=uri, now=_parse_at(at)
            )
        entry = None
        if index is not None:
            value = parsed.status_list.get(index)
            entry = {"idx": index, "value": value, "status": _status_name(value)}
    lst = parsed.status_list
    report: dict[str, Any] = {
        "verified": key is not None,
        "iss": parsed.iss,
        "sub": parsed.uri,
        "iat": parsed.iat,
        "exp": parsed.exp,
        "ttl": parsed.ttl,
        "alg": parsed.header.get("alg"),
        "kid": parsed.header.get("kid"),
        "bits": lst.bits,
        "size": lst.size,
        "counts": {_status_name(v): n for v, n in lst.counts().items()},
    }
    if entry is not None:
        report["index"] = entry
    if as_json:
        print_json(report)
        return
    typer.echo(f"verified: {'yes' if key is not None else 'NO (no --key)'}")
    for name in ("iss", "sub", "alg", "kid"):
        typer.echo(f"{name}: {report[name]}")
    for name in ("iat", "exp"):
        typer.echo(f"{name}: {report[name]} ({_rfc3339(report[name])})")
    typer.echo(f"ttl: {report['ttl']}")
    typer.echo(f"bits: {lst.bits}")
    typer.echo(f"size: {lst.size}")
    for name, count in report["counts"].items():
        typer.echo(f"  {name}: {count}")
    if entry is not None:
        typer.echo(f"index {index}: {entry['status']} ({entry['value']})")


@app.command()
def create(
    uri: Annotated[str, typer.Option("--uri", help="The token's own URI (its sub).")],
    issuer: Annotated[str, typer.Option("--issuer", help="The issuer identifier (iss).")],
    key: Annotated[
        Path | None, typer.Option("--key", help="Issuer private JWK file (with 'd').")
    ] = None,
    store: Annotated[
        Path | None, typer.Option("--store", help="Key store whose active key signs.")
    ] = None,
    size: Annotated[
        int, typer.Option("--size", min=1, help="Number of entries.")
    ] = statuslist.DEFAULT_LIST_SIZE,
    bits: Annotated[
        int, typer.Option("--bits", help="Bits per entry: 1, 2, 4 or 8.")
    ] = statuslist.DEFAULT_BITS,
    revoke: Annotated[
        list[int] | None, typer.Option("--revoke", help="Index to mark revoked (repeatable).")
    ] = None,
    suspend: Annotated[
        list[int] | None, typer.Option("--suspend", help="Index to mark suspended (repeatable).")
    ] = None,
    ttl: Annotated[
        int, typer.Option("--ttl", min=1, help="Cache lifetime hint, seconds.")
    ] = statuslist.DEFAULT_TTL,
    lifetime: Annotated[
        int, typer.Option("--lifetime", min=1, help="exp - iat, seconds.")
    ] = statuslist.DEFAULT_LIFETIME,
) -> None:
    """Sign a Status List Token (revoked and suspended indices set) and print it."""
    with cli_errors():
        both = set(revoke or ()) & set(suspend or ())
        if both:
            fail(f"index {min(both)} is both revoked and suspended")
        if (key is None) == (store is None):
            fail("give --key PRIVATE_JWK or --store DIR (one of them)")
        if key is not None:
            signing_key = private_key_from_jwk(read_json_file(key))
        else:
            assert store is not None
            signing_key = KeyStore(store, resolve_passphrase()).signing_key()
        lst = statuslist.StatusList(bits, size)
        for index in revoke or ():
            lst.set(index, statuslist.REVOKED)
        for index in suspend or ():
            lst.set(index, statuslist.SUSPENDED)
        token = statuslist.create_status_list_token(
            lst,
            signing_key,
            uri=uri,
            issuer=issuer,
            now=int(time.time()),
            ttl=ttl,
            lifetime=lifetime,
        )
    typer.echo(token)
