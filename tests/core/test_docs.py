"""The README documents what the code offers: every error code, every CLI command."""

from __future__ import annotations

import typer.main

from passerelle import errors
from passerelle.cli import build_app
from tests.factories import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_readme_error_table_is_current() -> None:
    # `make docs` rewrites it
    assert errors.markdown_table() in README, "run `make docs` to refresh the README's table"


def test_every_core_command_is_documented() -> None:
    command = typer.main.get_command(build_app())
    assert hasattr(command, "commands")
    core = {"keys", "issue", "present", "verify", "bundle", "status-list", "trust-list", "qr"}
    for name in core:
        sub = command.commands[name]
        subs = getattr(sub, "commands", None)
        names = [f"{name} {s}" for s in subs] if subs else [name]
        for full in names:
            assert f"passerelle {full}" in README, f"README lacks `passerelle {full}`"
