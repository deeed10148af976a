"""``passerelle status-list inspect`` and ``create``, mounted in a local typer app."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from passerelle import jose, statuslist
from passerelle.cli.statuslist import app as status_list_app
from passerelle.keys import generate_key

VECTORS = Path(__file__).parent.parent / "vectors" / "03_token_status_list"
TOKEN_FILE = VECTORS / "status_list_token.jwt"
PUBLIC_KEY = VECTORS / "status_list_token_public_key.jwk.json"
PRIVATE_KEY = VECTORS / "status_list_token_signing_key.private.jwk.json"
EXAMPLE_URI = "https://example.com/statuslists/1"

app = typer.Typer()
app.add_typer(status_list_app, name="status-list")


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def _create(runner: CliRunner, *extra: str) -> str:
    result = runner.invoke(
        app,
        [
            "status-list",
            "create",
            "--size",
            "131072",
            "--uri",
            "https://issuer.example/sl/1",
            "--issuer",
            "https://issuer.example",
            "--key",
            str(PRIVATE_KEY),
            *extra,
        ],
    )
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


def test_inspect_without_key_warns_loudly(runner: CliRunner) -> None:
    result = runner.invoke(app, ["status-list", "inspect", str(TOKEN_FILE), "--index", "0"])
    assert result.exit_code == 0
    assert "signature NOT verified" in result.stderr
    assert "verified: NO" in result.stdout
    assert f"sub: {EXAMPLE_URI}" in result.stdout
    assert "iss: https://example.com" in result.stdout
    assert "iat: 1686920170 (2023-06-16T12:56:10Z)" in result.stdout
    assert "ttl: 43200" in result.stdout
    assert "size: 16" in result.stdout
    assert "revoked: 9" in result.stdout
    assert "index 0: revoked (1)" in result.stdout


def test_inspect_with_key_as_json(runner: CliRunner) -> None:
    result = runner.invoke(
        app,
        [
            "status-list",
            "inspect",
            str(TOKEN_FILE),
            "--key",
            str(PUBLIC_KEY),
            "--uri",
            EXAMPLE_URI,
            "--index",
            "1",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "NOT verified" not in result.stderr
    report = json.loads(result.stdout)
    assert report["verified"] is True
    assert report["sub"] == EXAMPLE_URI
    assert (report["iat"], report["exp"], report["ttl"]) == (1686920170, 2291720170, 43200)
    assert (report["bits"], report["size"]) == (1, 16)
    assert report["counts"] == {"valid": 7, "revoked": 9}
    assert report["index"] == {"idx": 1, "value": 0, "status": "valid"}


def test_inspect_token_string_and_stdin(runner: CliRunner) -> None:
    token = TOKEN_FILE.read_text().strip()
    by_arg = runner.invoke(app, ["status-list", "inspect", token, "--json"])
    by_stdin = runner.invoke(app, ["status-list", "inspect", "-", "--json"], input=token + "\n")
    assert by_arg.exit_code == by_stdin.exit_code == 0
    assert json.loads(by_arg.stdout) == json.loads(by_stdin.stdout)


def test_create_then_inspect(runner: CliRunner) -> None:
    token = _create(runner, "--revoke", "5", "--revoke", "70000", "--suspend", "9")
    assert jose.parse_compact(token).header["typ"] == "statuslist+jwt"
    result = runner.invoke(
        app,
        ["status-list", "inspect", "-", "--key", str(PUBLIC_KEY), "--index", "9", "--json"],
        input=token,
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["iss"] == "https://issuer.example"
    assert (report["bits"], report["size"]) == (2, 131072)
    assert report["counts"] == {"valid": 131069, "revoked": 2, "suspended": 1}
    assert report["index"]["status"] == "suspended"
    assert report["exp"] - report["iat"] == statuslist.DEFAULT_LIFETIME


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["inspect", str(TOKEN_FILE), "--index", "16"], "status_index_out_of_range"),
        (
            ["inspect", str(TOKEN_FILE), "--key", str(PUBLIC_KEY), "--uri", "https://x"],
            "status_list_uri_mismatch",
        ),
        (["inspect", "no-such-file.jwt"], "invalid_input"),
        (["inspect", str(PUBLIC_KEY)], "malformed_token"),
        (["inspect", str(TOKEN_FILE), "--uri", EXAMPLE_URI], "invalid_input"),
        (["inspect", str(TOKEN_FILE), "--key", str(PRIVATE_KEY)], "invalid_key"),
    ],
)
def test_inspect_errors_exit_2_without_traceback(
    runner: CliRunner, args: list[str], code: str
) -> None:
    result = runner.invoke(app, ["status-list", *args])
    assert result.exit_code == 2
    assert f"error [{code}]" in result.stderr
    assert "Traceback" not in result.output


def test_inspect_with_a_wrong_key(runner: CliRunner, tmp_path: Path) -> None:
    other = tmp_path / "other.jwk.json"
    other.write_text(json.dumps(generate_key("ES256").public.to_jwk()))
    result = runner.invoke(app, ["status-list", "inspect", str(TOKEN_FILE), "--key", str(other)])
    assert result.exit_code == 2
    assert "error [invalid_signature]" in result.stderr


def test_inspect_picks_the_key_of_a_jwks_by_kid(runner: CliRunner, tmp_path: Path) -> None:
    jwks = tmp_path / "jwks.json"
    example = json.loads(PUBLIC_KEY.read_text())
    jwks.write_text(json.dumps({"keys": [generate_key().public.to_jwk(with_kid=True), example]}))
    ok = runner.invoke(app, ["status-list", "inspect", str(TOKEN_FILE), "--key", str(jwks)])
    assert ok.exit_code == 0, ok.output
    jwks.write_text(
        json.dumps({"keys": [generate_key().public.to_jwk(), generate_key().public.to_jwk()]})
    )
    missing = runner.invoke(app, ["status-list", "inspect", str(TOKEN_FILE), "--key", str(jwks)])
    assert missing.exit_code == 2
    assert "error [key_not_found]" in missing.stderr


@pytest.mark.parametrize(
    ("extra", "code"),
    [
        (["--bits", "3"], "status_list_invalid"),
        (["--bits", "1", "--suspend", "4"], "status_list_invalid"),
        (["--revoke", "131072"], "status_index_out_of_range"),
        (["--revoke", "4", "--suspend", "4"], "invalid_input"),
    ],
)
def test_create_errors(runner: CliRunner, extra: list[str], code: str) -> None:
    result = runner.invoke(
        app,
        [
            "status-list",
            "create",
            "--uri",
            "https://issuer.example/sl/1",
            "--issuer",
            "https://issuer.example",
            "--key",
            str(PRIVATE_KEY),
            *extra,
        ],
    )
    assert result.exit_code == 2
    assert f"error [{code}]" in result.stderr


def test_create_requires_uri_issuer_and_key(runner: CliRunner) -> None:
    result = runner.invoke(app, ["status-list", "create", "--size", "8"])
    assert result.exit_code == 2
    assert "Missing option" in result.output
