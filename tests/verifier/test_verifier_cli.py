"""``passerelle verifier``: the commands exist; trust add/list/remove drive the admin API."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from passerelle.cli import build_app
from tests.factories import key
from tests.verifier.conftest import ADMIN_KEY
from verifier import cli

runner = CliRunner()


@pytest.fixture
def through_app(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI's HTTP calls go to the in-process app instead of the network."""

    def request(method: str, url: str, **kwargs: Any) -> httpx.Response:
        kwargs.pop("timeout", None)
        return client.request(method, httpx.URL(url).path, **kwargs)

    monkeypatch.setattr(cli.httpx, "request", request)


def test_commands_are_registered() -> None:
    result = runner.invoke(build_app(), ["verifier", "--help"])
    assert result.exit_code == 0
    for command in ("serve", "trust", "admin-key"):
        assert command in result.output


def test_trust_add_list_remove(through_app: None, tmp_path: Path) -> None:
    jwk_file = tmp_path / "new-anchor.json"
    jwk_file.write_text(json.dumps(key("stranger").public.to_jwk()), encoding="utf-8")
    app = build_app()
    added = runner.invoke(
        app, ["verifier", "trust", "add", str(jwk_file), "--admin-key", ADMIN_KEY]
    )
    assert added.exit_code == 0, added.output
    assert key("stranger").kid in added.output
    listed = runner.invoke(app, ["verifier", "trust", "list"])
    assert [a["kid"] for a in json.loads(listed.output)["anchors"]] == [
        key("anchor").kid,
        key("stranger").kid,
    ]
    removed = runner.invoke(
        app, ["verifier", "trust", "remove", key("stranger").kid, "--admin-key", ADMIN_KEY]
    )
    assert removed.exit_code == 0, removed.output
    denied = runner.invoke(app, ["verifier", "trust", "remove", key("anchor").kid])
    assert denied.exit_code == 2 and "unauthenticated" in denied.output
