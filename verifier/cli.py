"""``passerelle verifier``: run the verification service and manage its trust anchors.

``serve`` runs the API with uvicorn (uvloop + httptools, ``--workers`` processes), every
option becoming a ``VERIFIER_*`` variable that the worker processes read
(:class:`verifier.settings.VerifierSettings`). ``trust add|remove|list`` talk to a running
service's admin API (``--url``, admin key from ``--admin-key`` or ``VERIFIER_ADMIN_KEY``),
so that every worker of that service sees the change without a restart (with
``VERIFIER_ANCHOR_STORE`` set, see the README). ``admin-key`` makes a new admin key and the
hash to configure.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from passerelle.cli._common import (
    LOG_LEVEL_OPTION,
    LogLevel,
    cli_errors,
    fail,
    read_json_file,
    serve_factory,
)
from verifier.settings import hash_admin_key

__all__ = ["app"]

app = typer.Typer(help="The verification service.", no_args_is_help=True)
trust_app = typer.Typer(
    help="Trust anchors of a running verifier (admin API).", no_args_is_help=True
)
app.add_typer(trust_app, name="trust")

UrlOption = Annotated[
    str, typer.Option("--url", envvar="VERIFIER_URL", help="Base URL of the verifier service.")
]
KeyOption = Annotated[
    str | None,
    typer.Option("--admin-key", envvar="VERIFIER_ADMIN_KEY", help="The admin API key."),
]
DEFAULT_URL = "http://127.0.0.1:8000"


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    trust_anchor: Annotated[
        list[Path] | None, typer.Option("--trust-anchor", help="Trust anchor public JWK file.")
    ] = None,
    trust_list: Annotated[
        list[str] | None, typer.Option("--trust-list", help="Trust list file or https URL.")
    ] = None,
    bundle: Annotated[Path | None, typer.Option(help="Offline bundle file.")] = None,
    offline: Annotated[bool, typer.Option(help="Never touch the network.")] = False,
    allow_http_host: Annotated[
        list[str] | None,
        typer.Option("--allow-http-host", help="Host fetched over http / on a local address."),
    ] = None,
    public_url: Annotated[str | None, typer.Option(help="URL wallets reach us at.")] = None,
    log_level: Annotated[LogLevel, LOG_LEVEL_OPTION] = LogLevel.info,
) -> None:
    """Run the verifier API (options override the VERIFIER_* environment)."""
    overrides: dict[str, Any] = {
        "VERIFIER_TRUST_ANCHORS": [str(p) for p in trust_anchor] if trust_anchor else None,
        "VERIFIER_TRUST_LISTS": trust_list or None,
        "VERIFIER_BUNDLE_PATH": str(bundle) if bundle else None,
        "VERIFIER_OFFLINE": "true" if offline else None,
        "VERIFIER_ALLOW_HTTP_HOSTS": allow_http_host or None,
        "VERIFIER_PUBLIC_URL": public_url,
    }
    for name, value in overrides.items():
        if value is not None:
            os.environ[name] = value if isinstance(value, str) else json.dumps(value)
    with cli_errors():
        from verifier.settings import VerifierSettings

        try:
            VerifierSettings()  # fail here, readably, rather than in every worker
        except ValueError as exc:
            fail(str(exc))
    serve_factory(
        "verifier.app:app_from_env", host=host, port=port, workers=workers, level=log_level
    )


@app.command("admin-key")
def admin_key() -> None:
    """Make a new admin key: give the key to operators, configure its hash."""
    key = secrets.token_urlsafe(32)
    typer.echo(f"admin key (VERIFIER_ADMIN_KEY for the CLI): {key}")
    typer.echo(f"hash (VERIFIER_ADMIN_KEY_HASH for the service): {hash_admin_key(key)}")


def _call(method: str, url: str, admin: str | None, **kwargs: Any) -> Any:
    headers = {"Authorization": f"Bearer {admin}"} if admin else {}
    try:
        response = httpx.request(method, url, headers=headers, timeout=10.0, **kwargs)
    except httpx.HTTPError as exc:
        fail(f"{url}: {type(exc).__name__}", "upstream_unavailable")
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.status_code >= 400:
        fail(str(body.get("detail", response.text[:200])), str(body.get("code", "http_error")))
    return body


@trust_app.command("list")
def trust_list_command(url: UrlOption = DEFAULT_URL) -> None:
    """Show the anchors and trust lists a running verifier uses (JSON)."""
    typer.echo(json.dumps(_call("GET", f"{url.rstrip('/')}/api/v1/trust", None), indent=2))


@trust_app.command("add")
def trust_add(
    jwk_file: Annotated[Path, typer.Argument(help="The anchor's public JWK file.")],
    url: UrlOption = DEFAULT_URL,
    admin: KeyOption = None,
) -> None:
    """Trust one more anchor (no restart)."""
    with cli_errors():
        jwk = read_json_file(jwk_file)
    body = _call("POST", f"{url.rstrip('/')}/api/v1/admin/anchors", admin, json={"jwk": jwk})
    typer.echo(f"anchor {body['kid']} added ({body['anchors']} in force)")


@trust_app.command("remove")
def trust_remove(
    kid: Annotated[str, typer.Argument(help="The anchor's kid (JWK thumbprint).")],
    url: UrlOption = DEFAULT_URL,
    admin: KeyOption = None,
) -> None:
    """Stop trusting an anchor; its lists are dropped at once."""
    body = _call("DELETE", f"{url.rstrip('/')}/api/v1/admin/anchors/{kid}", admin)
    typer.echo(f"anchor {body['kid']} removed ({body['anchors']} in force)")
