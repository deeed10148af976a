"""``passerelle keys``: the encrypted local key store of an issuer, holder or trust anchor.

The store is a directory (``--store``, default ``$PASSERELLE_KEY_DIR`` or ``./keys``) of
passphrase-encrypted PKCS#8 files and a public index, ``keystore.json`` (see
:mod:`passerelle.keys`). Commands that write a private key (``generate``, ``rotate``) or change
a key's life cycle (``compromise``) need the passphrase from ``PASSERELLE_KEY_PASSPHRASE``,
``PASSERELLE_KEY_PASSPHRASE_FILE`` or ``PASSERELLE_DEV=1``; ``list`` and ``export`` read the
public index only and need none. Nothing here ever prints a private key.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from passerelle import errors
from passerelle.cli._common import cli_errors, fail, print_json
from passerelle.keys import KeyRecord, KeyStore, resolve_passphrase

__all__ = ["app"]

app = typer.Typer(
    help="Signing keys: generate, list, export (public only), rotate, mark compromised.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

#: The index file that marks a directory as a key store (written by ``passerelle.keys``).
_INDEX = "keystore.json"


class Alg(StrEnum):
    EDDSA = "EdDSA"
    ES256 = "ES256"


StoreOption = Annotated[
    Path,
    typer.Option(
        "--store",
        envvar="PASSERELLE_KEY_DIR",
        file_okay=False,
        help="Key store directory (default: $PASSERELLE_KEY_DIR, else ./keys).",
    ),
]


def _store(directory: Path, *, must_exist: bool = True) -> KeyStore:
    """A store opened with the passphrase (for commands that write)."""
    if must_exist:
        _require_index(directory)
    return KeyStore(directory, resolve_passphrase())


def _public_store(directory: Path) -> KeyStore:
    """A store for reading the public index only: no private key is decrypted, so the
    passphrase is never asked for (an empty one is never used)."""
    _require_index(directory)
    return KeyStore(directory, "")


def _require_index(directory: Path) -> None:
    if not (directory / _INDEX).is_file():
        raise errors.KeyNotFoundError(
            f"no key store in {directory} (create one with 'passerelle keys generate')"
        )


def _summary(record: KeyRecord) -> dict[str, Any]:
    """A record's life cycle, without its public JWK (``export`` prints that)."""
    data = record.to_json()
    del data["public_jwk"]
    return data


def _rfc3339(value: str, option: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        fail(f"{option} must be an RFC 3339 date-time, e.g. 2026-01-31T12:00:00Z")
    if moment.tzinfo is None:
        fail(f"{option} must carry a time zone (Z or +hh:mm)")
    return moment


@app.command()
def generate(
    store: StoreOption = Path("keys"),
    alg: Annotated[Alg, typer.Option("--alg", help="Signature algorithm.")] = Alg.EDDSA,
    label: Annotated[str, typer.Option("--label", help="A note for humans.")] = "",
) -> None:
    """Create the store's first signing key (prints its kid on standard output).

    A store has one active key; to replace it, use 'passerelle keys rotate'.
    """
    with cli_errors():
        key_store = _store(store, must_exist=False)
        active = next((r for r in key_store.records() if r.status == "active"), None)
        if active is not None:
            fail(
                f"{store} already has an active key {active.kid}: "
                "use 'passerelle keys rotate' to replace it",
                "invalid_input",
            )
        record = key_store.generate(alg.value, label=label)
    typer.echo(f"generated {record.alg} key, {record.status}, in {store}", err=True)
    typer.echo(record.kid)


@app.command("list")
def list_keys(
    store: StoreOption = Path("keys"),
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the keys of the store, oldest first, with their life cycle."""
    with cli_errors():
        records = _public_store(store).records()
    rows = [_summary(r) for r in records]
    if as_json:
        print_json(rows)
        return
    columns = ("kid", "alg", "status", "created_at", "retired_at", "compromised_at", "label")
    table = [list(columns)] + [[str(row[c] or "-") for c in columns] for row in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(columns))]
    for line in table:
        typer.echo("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip())


@app.command()
def export(
    store: StoreOption = Path("keys"),
    kid: Annotated[str | None, typer.Option("--kid", help="Export this key.")] = None,
    all_keys: Annotated[
        bool, typer.Option("--all", help="Export a JWKS of every key not compromised.")
    ] = False,
) -> None:
    """Print a public JWK (default: the active key) or, with --all, a JWKS. Never private."""
    with cli_errors():
        if kid is not None and all_keys:
            fail("give --kid or --all, not both")
        key_store = _public_store(store)
        if all_keys:
            compromised = {r.kid for r in key_store.records() if r.compromised_at is not None}
            jwks = key_store.jwks()
            # a JWKS carries no compromise time: a verifier given this key would accept forgeries
            jwks["keys"] = [k for k in jwks["keys"] if k["kid"] not in compromised]
            for name in sorted(compromised):
                typer.echo(f"warning: compromised key {name} left out", err=True)
            print_json(jwks)
            return
        record = key_store.record(kid) if kid else key_store.active_record()
        if record.compromised_at is not None:
            since = _summary(record)["compromised_at"]
            typer.echo(f"warning: key {record.kid} is compromised since {since}", err=True)
        [jwk] = [k for k in key_store.jwks()["keys"] if k["kid"] == record.kid]
        print_json(jwk)


@app.command()
def rotate(
    store: StoreOption = Path("keys"),
    alg: Annotated[
        Alg | None, typer.Option("--alg", help="Algorithm of the new key (default: the same).")
    ] = None,
) -> None:
    """Make a new key the active one; the old one is retired and kept for verification.

    Prints the new kid. Publish the new public key (trust list, JWKS) before signing with it.
    """
    with cli_errors():
        key_store = _store(store)
        previous = next((r for r in key_store.records() if r.status == "active"), None)
        record = key_store.rotate(alg.value if alg else None)
    retired = f"; {previous.kid} retired" if previous else ""
    typer.echo(f"new active {record.alg} key in {store}{retired}", err=True)
    typer.echo(record.kid)


@app.command()
def compromise(
    kid: Annotated[
        str,
        typer.Argument(
            help="The kid of the compromised key (one starting with '-' goes after '--')."
        ),
    ],
    since: Annotated[
        str,
        typer.Option(
            "--since",
            help="RFC 3339 time from which its signatures are void (be early rather than late).",
        ),
    ],
    store: StoreOption = Path("keys"),
) -> None:
    """Mark a key compromised from --since on; an active key is retired (rotate next).

    A kid may start with '-': then put it last, after '--' (compromise --since T -- -kid).
    """
    moment = _rfc3339(since, "--since")
    with cli_errors():
        key_store = _store(store)
        was_active = key_store.record(kid).status == "active"
        record = key_store.mark_compromised(kid, moment)
    typer.echo(f"{record.kid} marked compromised since {_summary(record)['compromised_at']}")
    if was_active:
        typer.echo(
            "warning: that was the active key; run 'passerelle keys rotate' for a new one "
            "and publish the compromise in your trust list",
            err=True,
        )
