"""``passerelle issuer ...``: set up, run and operate the issuer service.

Errors print one line and exit with status 2; a batch with row errors prints the rows and
exits with status 1.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from sqlalchemy.exc import SQLAlchemyError

from issuer.db import create_db_engine, migrate
from issuer.keyring import TenantKeyring
from issuer.service import IssuerService, TenantProfile
from issuer.settings import IssuerSettings
from passerelle import errors
from passerelle.cli._common import LOG_LEVEL_OPTION, LogLevel, serve_factory
from passerelle.credtypes import load_types
from passerelle.errors import BatchInvalidError
from passerelle.keys import resolve_passphrase

app = typer.Typer(help="The issuer service for training centres.", no_args_is_help=True)
_err = Console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])

DatabaseOption = Annotated[
    str | None, typer.Option("--database-url", help="Default: $DATABASE_URL or SQLite.")
]
TenantOption = Annotated[str | None, typer.Option("--tenant", help="Tenant slug.")]


def _fail(message: str) -> typer.Exit:
    _err.print(f"[red]error:[/red] {message}", highlight=False)
    return typer.Exit(2)


def _guarded(func: F) -> F:
    """Turn expected failures into a message and exit status 2 (never a traceback)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except BatchInvalidError:
            raise
        except errors.PasserelleError as exc:
            raise _fail(f"{exc.detail} [{exc.code}]") from None
        except ValidationError as exc:
            raise _fail(f"bad configuration: {exc.errors()[0]['msg']}") from None
        except SQLAlchemyError as exc:
            raise _fail(f"database error: {exc.__class__.__name__}: {exc.args[0]}") from None
        except OSError as exc:
            raise _fail(str(exc)) from None

    return wrapper  # type: ignore[return-value]


def _settings(database_url: str | None) -> IssuerSettings:
    settings = IssuerSettings()
    if database_url:
        settings = settings.model_copy(update={"database_url": database_url})
    return settings


def _service(settings: IssuerSettings) -> IssuerService:
    passphrase = (
        settings.key_passphrase.get_secret_value()
        if settings.key_passphrase
        else resolve_passphrase()
    )
    engine = create_db_engine(settings.database_url)
    return IssuerService(
        engine, settings, load_types(), TenantKeyring(settings.key_store, passphrase)
    )


def _names(values: list[str]) -> dict[str, str]:
    names: dict[str, str] = {}
    for value in values:
        lang, sep, text = value.partition("=")
        if not sep or not lang or not text:
            raise errors.InvalidInputError(f"--name {value!r}: write LANG=NAME, e.g. fr=CFP Dakar")
        names[lang.strip()] = text.strip()
    return names


@app.command()
@_guarded
def init(
    slug: Annotated[str, typer.Option(help="Tenant id in URLs, e.g. cfp-dakar.")] = "demo",
    name: Annotated[
        list[str] | None, typer.Option(help="Legal name as LANG=NAME (repeatable).")
    ] = None,
    country: Annotated[str, typer.Option(help="ISO 3166-1 alpha-2.")] = "MA",
    accreditation_body: Annotated[str | None, typer.Option()] = None,
    accreditation_number: Annotated[str | None, typer.Option()] = None,
    website: Annotated[str | None, typer.Option()] = None,
    logo_url: Annotated[str | None, typer.Option()] = None,
    language: Annotated[str, typer.Option(help="Default language of certificates.")] = "fr",
    prefix: Annotated[str | None, typer.Option(help="Credential number prefix.")] = None,
    database_url: DatabaseOption = None,
) -> None:
    """Create or upgrade the database, create a tenant with its signing key, and print its
    admin API key (once)."""
    settings = _settings(database_url)
    migrate(settings.database_url)
    service = _service(settings)
    profile = TenantProfile(
        slug=slug,
        names=_names(name or []) or {"en": slug},
        country=country,
        accreditation_body=accreditation_body,
        accreditation_number=accreditation_number,
        website=website,
        logo_url=logo_url,
        default_language=language,
        credential_prefix=prefix,
    )
    tenant, key = service.create_tenant(profile)
    typer.echo(f"tenant:     {tenant.slug}")
    typer.echo(f"issuer:     {tenant.issuer_url}")
    typer.echo(f"admin key:  {key}")
    typer.echo("(store the admin key now: it is not shown again)")


@app.command()
@_guarded
def migrate_db(database_url: DatabaseOption = None) -> None:
    """Apply the database migrations only."""
    migrate(_settings(database_url).database_url)
    typer.echo("database is up to date")


@app.command()
@_guarded
def serve(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
    workers: Annotated[int, typer.Option(min=1)] = 1,
    log_level: Annotated[LogLevel, LOG_LEVEL_OPTION] = LogLevel.info,
) -> None:
    """Run the HTTP service (uvicorn)."""
    _settings(None)  # fail early on bad configuration
    serve_factory("issuer.asgi:build", host=host, port=port, workers=workers, level=log_level)


@app.command("issue-batch")
@_guarded
def issue_batch(
    file: Annotated[Path, typer.Argument(help="UTF-8 CSV file, header = claim paths.")],
    type_name: Annotated[
        str, typer.Option("--type", help="Credential type.")
    ] = "QualificationCredential",
    valid_days: Annotated[int | None, typer.Option(min=1)] = None,
    idempotency_key: Annotated[str | None, typer.Option()] = None,
    dry_run: Annotated[bool, typer.Option(help="Validate only.")] = False,
    output: Annotated[
        Path | None, typer.Option(help="Write the issued credentials (JSON lines) here.")
    ] = None,
    tenant: TenantOption = None,
    database_url: DatabaseOption = None,
) -> None:
    """Issue every row of a CSV file (all or nothing), with a progress bar."""
    service = _service(_settings(database_url))
    principal = service.cli_principal(tenant)
    data = file.read_bytes()
    try:
        rows = service.parse_csv(type_name, data)
        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=_err,
            transient=True,
        ) as bar:
            task = bar.add_task("issuing", total=len(rows))
            result = service.issue_batch(
                principal,
                type_name=type_name,
                rows=rows,
                valid_days=valid_days,
                idempotency_key=idempotency_key,
                dry_run=dry_run,
                progress=lambda done, _total: bar.update(task, completed=done),
            )
    except BatchInvalidError as exc:
        _err.print(f"[red]{exc.detail}[/red]", highlight=False)
        for item in exc.extra.get("errors", []):
            _err.print(
                f"  row {item['row']}: {item['field'] or '-'}: {item['message']} [{item['code']}]",
                highlight=False,
            )
        raise typer.Exit(1) from None
    if dry_run:
        typer.echo(f"{result.count} row(s) are valid; nothing was issued")
        return
    if output is not None:
        with output.open("w", encoding="utf-8") as handle:
            for item in result.credentials:
                handle.write(json.dumps(item.model_dump(mode="json")) + "\n")
    typer.echo(f"issued {result.count} credential(s), batch {result.batch_id}")


@app.command()
@_guarded
def revoke(
    credential_id: Annotated[str, typer.Argument(help="The credential's id.")],
    reason: Annotated[str, typer.Option(help="Why (kept in the audit log).")],
    tenant: TenantOption = None,
    database_url: DatabaseOption = None,
) -> None:
    """Revoke a credential for good."""
    service = _service(_settings(database_url))
    record = service.change_status(service.cli_principal(tenant), credential_id, "revoke", reason)
    typer.echo(f"{record.id} is {record.status}")


@app.command("audit-verify")
@_guarded
def audit_verify(tenant: TenantOption = None, database_url: DatabaseOption = None) -> None:
    """Check the tenant's audit hash chain; exit 1 when it was tampered with."""
    service = _service(_settings(database_url))
    result = service.verify_audit(service.cli_principal(tenant))
    if result.valid:
        typer.echo(f"audit chain intact: {result.events} event(s), head {result.head}")
        return
    typer.echo(f"audit chain BROKEN at event {result.first_bad_seq}: {result.detail}", err=True)
    raise typer.Exit(1)
