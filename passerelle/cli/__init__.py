"""The ``passerelle`` command line (typer).

Each sub-command group lives in its own module exposing ``app`` (a ``typer.Typer``) or
``register(app)``; the services add theirs through the ``passerelle.commands`` entry-point
group, discovered with ``importlib.metadata`` so that the core never imports them.

Exit codes: 0 success (or a valid credential), 1 a credential that is not valid, 2 usage
errors and bad input.
"""

from __future__ import annotations

import importlib
import sys
from importlib.metadata import entry_points

import typer

__all__ = ["build_app", "main"]

# (module, group name, or None when the module registers top-level commands itself)
_CORE_GROUPS: tuple[tuple[str, str | None], ...] = (
    ("passerelle.cli.keys", "keys"),
    ("passerelle.cli.credential", None),
    ("passerelle.cli.bundle", None),
    ("passerelle.cli.statuslist", "status-list"),
    ("passerelle.cli.trustlist", "trust-list"),
    ("passerelle.cli.qr", "qr"),
)


def build_app() -> typer.Typer:
    """The whole CLI: core groups, then the services' entry points."""
    app = typer.Typer(
        name="passerelle",
        help="Portable, verifiable skills and qualification credentials (SD-JWT VC).",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    for module_name, group in _CORE_GROUPS:
        module = importlib.import_module(module_name)
        if group is None:
            module.register(app)
        else:
            app.add_typer(module.app, name=group)
    for entry in entry_points(group="passerelle.commands"):
        try:
            sub = entry.load()
        except Exception as exc:  # a broken service plugin must not take the core CLI down
            print(f"warning: command group {entry.name!r} unavailable: {exc}", file=sys.stderr)
            continue
        app.add_typer(sub, name=entry.name)
    return app


def main() -> None:
    """Console-script entry point."""
    build_app()()
