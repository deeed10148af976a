"""``wallet``: the migrant worker's wallet on the command line.

Commands: ``init``, ``receive``, ``list``, ``show``, ``present``, ``export``, ``import``.

The wallet lives in ``$PASSERELLE_WALLET_DIR`` (default ``~/.passerelle/wallet``); its
passphrase comes from ``$PASSERELLE_WALLET_PASSPHRASE`` or is asked for (hidden input), and a
backup's from ``$PASSERELLE_BACKUP_PASSPHRASE`` or a prompt. Every error prints
``error [code]: detail`` on standard error and exits with status 2; a presentation the
worker declines exits with 1 and sends nothing.

Tests (and an embedding program) pass a :class:`WalletEnv` as the click context object
(``CliRunner().invoke(app, args, obj=env)``) to choose the directory, passphrases, KDF
cost, HTTP client and clock; the environment is read only when none is given.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from passerelle import errors
from passerelle.credtypes import LANGUAGES, TypeRegistry, load_types
from wallet import _http, oid4vci, oid4vp
from wallet.store import (
    DEFAULT_KDF,
    FILE_NAME,
    CredentialRecord,
    KdfParams,
    WalletStore,
)

__all__ = ["ENV_BACKUP_PASSPHRASE", "ENV_DIR", "ENV_PASSPHRASE", "WalletEnv", "app"]

ENV_DIR = "PASSERELLE_WALLET_DIR"
ENV_PASSPHRASE = "PASSERELLE_WALLET_PASSPHRASE"
ENV_BACKUP_PASSPHRASE = "PASSERELLE_BACKUP_PASSPHRASE"
EXIT_ERROR = 2
EXIT_DECLINED = 1

app = typer.Typer(
    help="The migrant worker's wallet: receive, keep and show credentials.",
    no_args_is_help=True,
    add_completion=False,
)


def _prompt(text: str, confirm: bool) -> str:
    value: str = typer.prompt(text, hide_input=True, confirmation_prompt=confirm)
    return value


@dataclass
class WalletEnv:
    """Where the wallet is and how the CLI gets what it needs (see the module docstring)."""

    directory: Path
    passphrase: Callable[[bool], str]
    backup_passphrase: Callable[[bool], str]
    client_factory: Callable[[], httpx.Client] = _http.new_client
    kdf: KdfParams = DEFAULT_KDF
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> WalletEnv:
        directory = environ.get(ENV_DIR) or str(Path.home() / ".passerelle" / "wallet")

        def wallet_passphrase(confirm: bool) -> str:
            return environ.get(ENV_PASSPHRASE) or _prompt("Wallet passphrase", confirm)

        def backup_passphrase(confirm: bool) -> str:
            return environ.get(ENV_BACKUP_PASSPHRASE) or _prompt("Backup passphrase", confirm)

        return cls(Path(directory), wallet_passphrase, backup_passphrase)

    def store(self, *, new: bool = False) -> WalletStore:
        """The store, asking for the passphrase (twice when ``new``)."""
        return WalletStore(self.directory, self.passphrase(new), kdf=self.kdf, now=self.now)

    @cached_property
    def registry(self) -> TypeRegistry:
        return load_types()


@app.callback()
def _main(ctx: typer.Context) -> None:
    if not isinstance(ctx.obj, WalletEnv):
        ctx.obj = WalletEnv.from_environ(os.environ)


@contextmanager
def _errors() -> Iterator[None]:
    """Every error as ``error [code]: detail`` and exit status 2, never a traceback."""
    try:
        yield
    except errors.PasserelleError as exc:
        typer.echo(f"error [{exc.code}]: {exc.detail}", err=True)
        raise typer.Exit(EXIT_ERROR) from None
    except OSError as exc:
        name = f" {exc.filename}" if exc.filename else ""
        typer.echo(f"error [invalid_input]: cannot use{name}: {exc.strerror}", err=True)
        raise typer.Exit(EXIT_ERROR) from None


def _env(ctx: typer.Context) -> WalletEnv:
    env = ctx.obj
    assert isinstance(env, WalletEnv)
    return env


def _check_lang(lang: str) -> str:
    if lang not in LANGUAGES:
        raise errors.InvalidInputError(f"language {lang!r}: choose one of {', '.join(LANGUAGES)}")
    return lang


LangOption = Annotated[str, typer.Option("--lang", help="en, fr, es or ar")]


# ---------------------------------------------------------------------------------------
# Commands


@app.command()
def init(
    ctx: typer.Context,
    alg: Annotated[
        str, typer.Option("--alg", help="ES256 (P-256, the interoperable default) or EdDSA")
    ] = "ES256",
) -> None:
    """Create the wallet and its holder key, encrypted with a new passphrase."""
    env = _env(ctx)
    with _errors():
        if alg not in ("ES256", "EdDSA"):
            raise errors.InvalidInputError("--alg is ES256 or EdDSA")
        store = env.store(new=True)
        contents = store.init(alg)
        typer.echo(f"wallet created in {store.directory}")
        typer.echo(f"holder key {contents.holder_key.kid} ({alg})")


def _ask_tx_code(offer: oid4vci.CredentialOffer) -> str:
    assert offer.tx_code is not None
    hint = offer.tx_code.description or "the transaction code sent to you separately"
    if offer.tx_code.length:
        hint += f" ({offer.tx_code.length} characters)"
    value: str = typer.prompt(hint, hide_input=True)
    return value


@app.command()
def receive(
    ctx: typer.Context,
    offer_uri: Annotated[str, typer.Argument(help="openid-credential-offer:// link")],
    tx_code: Annotated[
        str | None, typer.Option("--tx-code", help="transaction code sent separately")
    ] = None,
) -> None:
    """Receive credentials from a training centre's offer (OpenID4VCI)."""
    env = _env(ctx)
    with _errors():
        store = env.store()
        contents = store.load()
        with env.client_factory() as client:
            offer = oid4vci.parse_offer(offer_uri, client=client)
            if offer.tx_code is not None and not tx_code:
                tx_code = _ask_tx_code(offer)
            issued = oid4vci.receive(
                offer,
                holder_key=contents.holder_key,
                client=client,
                tx_code=tx_code,
                iat=int(env.now().timestamp()),
            )
        added = []
        for item in issued:
            record = CredentialRecord.from_credential(
                item.credential,
                received_at=env.now(),
                holder_kid=contents.holder_key.kid,
                registry=env.registry,
                display=item.display,
                issuer_display=item.issuer_display,
                credential_issuer=item.credential_issuer,
                configuration_id=item.configuration_id,
            )
            if contents.add(record):
                added.append(record)
                typer.echo(f"received {record.id}  {record.display_name('en')}  ({record.issuer})")
            else:
                typer.echo(f"already held {record.id}  {record.display_name('en')}")
        if added:
            store.save(contents)


@app.command("list")
def list_(ctx: typer.Context, lang: LangOption = "en") -> None:
    """List the credentials held."""
    env = _env(ctx)
    with _errors():
        _check_lang(lang)
        contents = env.store().load()
        if not contents.credentials:
            typer.echo("no credentials yet: receive one with 'wallet receive OFFER_URI'")
            return
        for record in contents.credentials:
            typer.echo(
                f"{record.id}  {record.display_name(lang)}  {record.issuer_name(lang)}  "
                f"{record.received_at.date().isoformat()}"
            )


def _is_language_map(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and bool(value)
        and all(isinstance(k, str) and len(k) == 2 and isinstance(v, str) for k, v in value.items())
    )


def _leaves(
    node: Any, path: tuple[str | int, ...] = ()
) -> Iterator[tuple[tuple[str | int, ...], Any]]:
    if isinstance(node, dict) and not _is_language_map(node):
        for key, value in node.items():
            yield from _leaves(value, (*path, key))
    elif isinstance(node, list) and any(isinstance(e, dict | list) for e in node):
        for index, value in enumerate(node):
            yield from _leaves(value, (*path, index))
    else:
        yield path, node


_REGISTERED = frozenset({"iss", "iat", "nbf", "exp", "vct", "cnf", "status", "sub"})


def _text(value: Any, lang: str) -> str:
    if _is_language_map(value):
        return str(value.get(lang) or value.get("en") or next(iter(value.values())))
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return str(value)


@app.command()
def show(
    ctx: typer.Context,
    credential_id: Annotated[
        str, typer.Argument(metavar="ID", help="id (or its first 4+ characters)")
    ],
    lang: LangOption = "en",
) -> None:
    """Show one credential and every claim it holds."""
    env = _env(ctx)
    with _errors():
        _check_lang(lang)
        record = env.store().load().get(credential_id)
        ctype = env.registry.get(record.vct) if record.vct in env.registry else None
        typer.echo(f"{record.display_name(lang)}  [{record.id}]")
        typer.echo(f"issuer: {record.issuer_name(lang)} ({record.issuer})")
        typer.echo(f"received: {record.received_at.isoformat()}")
        for path, value in _leaves(record.claims()):
            if path and path[0] in _REGISTERED:
                continue
            label = ctype.label(path, lang) if ctype else ".".join(map(str, path))
            typer.echo(f"  {label}: {_text(value, lang)}")


def _describe(selection: oid4vp.Selection, env: WalletEnv, lang: str) -> None:
    typer.echo(f"verifier: {selection.request.client_id}")
    for candidate in selection.candidates:
        record = candidate.record
        ctype = env.registry.get(record.vct) if record.vct in env.registry else None
        typer.echo(f"credential: {record.display_name(lang)} [{record.id}]")
        if not candidate.claims:
            typer.echo("  no personal claim requested; only what is always visible")
        for claim in candidate.claims:
            label = ctype.label(claim.path, lang) if ctype else claim.label_path
            if not claim.selectively_disclosable:
                state = "always visible"
            elif claim.chosen:
                state = "will be shared"
            else:
                state = "withheld"
            typer.echo(f"  {label} ({claim.label_path}): {state}")


@app.command()
def present(
    ctx: typer.Context,
    request_uri: Annotated[str, typer.Argument(help="openid4vp:// link or request JSON")],
    yes: Annotated[bool, typer.Option("--yes", help="do not ask before sharing")] = False,
    only: Annotated[
        list[str] | None,
        typer.Option("--only", help="share only this requested claim (repeatable)"),
    ] = None,
    credential: Annotated[
        list[str] | None, typer.Option("--credential", help="use only this credential id")
    ] = None,
    qr_file: Annotated[
        Path | None, typer.Option("--qr", help="write a QR code (.png or .svg) instead of sending")
    ] = None,
    lang: LangOption = "en",
) -> None:
    """Answer an employer's presentation request (OpenID4VP), sharing only what is asked."""
    env = _env(ctx)
    with _errors():
        _check_lang(lang)
        contents = env.store().load()
        with env.client_factory() as client:
            request = oid4vp.parse_request(request_uri, client=client)
            ids = [contents.get(c).id for c in credential] if credential else None
            paths = [oid4vp.parse_path(p) for p in only] if only else None
            selection = oid4vp.select(request, contents.credentials, only=paths, credential_ids=ids)
            _describe(selection, env, lang)
            if not yes and not typer.confirm("Share this with the verifier?", default=False):
                typer.echo("nothing was shared")
                raise typer.Exit(EXIT_DECLINED)
            token = oid4vp.build_vp_token(selection, contents.key, iat=int(env.now().timestamp()))
            if qr_file is not None:
                _write_qr(qr_file, token)
                return
            answer = oid4vp.submit(request, token, client=client)
        typer.echo("shared with the verifier")
        redirect = answer.get("redirect_uri")
        if isinstance(redirect, str):
            typer.echo(f"continue at {redirect}")


def _write_qr(target: Path, token: Mapping[str, list[str]]) -> None:
    presentations = [p for chosen in token.values() for p in chosen]
    svg = target.suffix.lower() == ".svg"
    for index, presentation in enumerate(presentations, start=1):
        path = target
        if len(presentations) > 1:
            path = target.with_name(f"{target.stem}-{index}{target.suffix}")
        path.write_bytes(oid4vp.presentation_qr(presentation, svg=svg))
        typer.echo(f"presentation QR code written to {path}")


@app.command()
def export(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="the backup file to write")],
) -> None:
    """Write an encrypted backup of keys and credentials (its own passphrase)."""
    env = _env(ctx)
    with _errors():
        store = env.store()
        contents = store.export_backup(file, env.backup_passphrase(True))
        typer.echo(
            f"backup of {len(contents.credentials)} credential(s) and {len(contents.keys)} "
            f"key(s) written to {file}"
        )


@app.command("import")
def import_(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="a backup (or wallet) file")],
) -> None:
    """Merge a backup into the wallet (created from it if there is none)."""
    env = _env(ctx)
    with _errors():
        store = env.store(new=not (env.directory / FILE_NAME).exists())
        report = store.import_backup(file, env.backup_passphrase(False))
        typer.echo(
            f"imported {len(report.added)} credential(s), {len(report.already_held)} already "
            f"held, {len(report.keys_added)} key(s) added"
        )


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", help="a loopback address")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 8765,
) -> None:
    """Serve the wallet page on this device (http://127.0.0.1:8765/); Ctrl-C stops it."""
    # imported here: the other commands do not need the web stack
    import uvicorn

    from wallet.app import WalletAppSettings, create_app

    env = _env(ctx)
    try:
        settings = WalletAppSettings(directory=env.directory, host=host, port=port)
    except ValueError as exc:
        typer.echo(f"error [invalid_input]: {exc}", err=True)
        raise typer.Exit(EXIT_ERROR) from None
    typer.echo(f"wallet page on http://{settings.host}:{settings.port}/ (Ctrl-C to stop)")
    application = create_app(
        settings, kdf=env.kdf, clock=env.now, client_factory=env.client_factory
    )
    uvicorn.run(application, host=settings.host, port=settings.port, log_level="warning")
