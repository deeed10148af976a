"""The README documents what the code offers: every error code, every CLI command."""

from __future__ import annotations

import re

import typer.main

from passerelle import errors
from passerelle.cli import build_app
from tests.factories import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_error_code_is_in_the_readme_table() -> None:
    table = set(re.findall(r"^\| `([a-z0-9_]+)` \|", README, flags=re.MULTILINE))
    codes = {cls.code for cls in errors.all_error_classes()}
    assert codes - table == set(), "add these codes to the README's error table"
    assert table - codes - {"credential_revoked", "credential_suspended", "not_checked"} == set()


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
