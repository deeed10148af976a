"""``passerelle trust-list``: build, sign and inspect from the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from typer.testing import CliRunner

from passerelle import jose
from passerelle.cli.trustlist import app
from passerelle.keys import KeyStore, SigningKey, generate_key

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "trust-list-source.yaml"
AT = "2026-01-01T00:00:00Z"
AT_EPOCH = 1767225600
PASSPHRASE = "test-passphrase-not-secret"
CASABLANCA = "https://cfp-casablanca.example.ma"

cli = typer.Typer()
cli.add_typer(app, name="trust-list")


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner(env={"PASSERELLE_KEY_PASSPHRASE": PASSPHRASE, "PASSERELLE_DEV": None})


def run(runner: CliRunner, *args: str, code: int = 0, stdin: str | None = None) -> Any:
    result = runner.invoke(cli, ["trust-list", *args], input=stdin)
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    return result


def write_json(path: Path, value: Any) -> Path:
    path.write_text(json.dumps(value), encoding="utf-8")
    return path


def private_jwk_file(path: Path, key: SigningKey) -> Path:
    raw = key.private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    return write_json(path, {**key.public.to_jwk(), "d": jose.b64url_encode(raw)})


@pytest.fixture
def anchor() -> SigningKey:
    return generate_key()


@pytest.fixture
def anchor_files(tmp_path: Path, anchor: SigningKey) -> tuple[Path, Path]:
    """(private JWK file, public JWK file) of the anchor."""
    return (
        private_jwk_file(tmp_path / "anchor.private.json", anchor),
        write_json(tmp_path / "anchor.jwk.json", anchor.public.to_jwk(with_kid=True)),
    )


@pytest.fixture
def signed(runner: CliRunner, tmp_path: Path, anchor_files: tuple[Path, Path]) -> Path:
    out = tmp_path / "list.jwt"
    run(runner, "sign", str(EXAMPLE), "--key", str(anchor_files[0]), "--at", AT, "-o", str(out))
    return out


def test_build_prints_the_payload(runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "payload.json"
    run(runner, "build", str(EXAMPLE), "--lifetime-days", "7", "--at", AT, "-o", str(out))
    payload = json.loads(out.read_text(encoding="utf-8"))
    assert payload["iat"] == AT_EPOCH and payload["exp"] == AT_EPOCH + 7 * 86400
    assert payload["issuers"][0]["id"] == CASABLANCA
    stdout = run(runner, "build", str(EXAMPLE), "--at", AT).stdout
    assert json.loads(stdout)["jurisdiction"] == "MA"


def test_build_reports_invalid_source(runner: CliRunner, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    text = EXAMPLE.read_text(encoding="utf-8").replace("status: active #", "status: revoked #", 1)
    bad.write_text(text, encoding="utf-8")
    result = run(runner, "build", str(bad), code=2)
    assert "error [trust_list_invalid]" in result.output
    assert "issuers[0] (https://cfp-casablanca.example.ma).status" in result.output


def test_build_missing_file(runner: CliRunner, tmp_path: Path) -> None:
    result = run(runner, "build", str(tmp_path / "nope.yaml"), code=2)
    assert "cannot read" in result.output


def test_sign_a_payload_with_a_private_jwk(
    runner: CliRunner, tmp_path: Path, anchor_files: tuple[Path, Path]
) -> None:
    payload = tmp_path / "payload.json"
    run(runner, "build", str(EXAMPLE), "--at", AT, "-o", str(payload))
    token = run(runner, "sign", str(payload), "--key", str(anchor_files[0]), "--at", AT).stdout
    header = jose.parse_compact(token.strip()).header
    assert header["typ"] == "trustlist+jwt"


def test_sign_with_a_key_store(runner: CliRunner, tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "anchor-keys", PASSPHRASE)
    record = store.generate()
    out = tmp_path / "list.jwt"
    run(
        runner,
        "sign",
        str(EXAMPLE),
        "--key-store",
        str(store.directory),
        "--at",
        AT,
        "-o",
        str(out),
    )
    anchor_file = write_json(tmp_path / "anchor.json", store.jwks())
    result = run(runner, "inspect", str(out), "--anchor", str(anchor_file), "--at", AT)
    assert f"VERIFIED: signed by trust anchor key {record.kid}" in result.stdout


@pytest.mark.parametrize("extra", [[], ["--key", "x.json", "--store", "keys"]])
def test_sign_needs_exactly_one_key(runner: CliRunner, extra: list[str]) -> None:
    result = run(runner, "sign", str(EXAMPLE), *extra, code=2)
    assert "--key PRIVATE_JWK_FILE or --store" in result.output


def test_sign_refuses_an_expired_payload(
    runner: CliRunner, tmp_path: Path, anchor_files: tuple[Path, Path]
) -> None:
    payload = tmp_path / "payload.json"
    run(runner, "build", str(EXAMPLE), "--at", AT, "--lifetime-days", "1", "-o", str(payload))
    later = "2026-01-05T00:00:00Z"
    result = run(runner, "sign", str(payload), "--key", str(anchor_files[0]), "--at", later, code=2)
    assert "already expired" in result.output


def test_sign_refuses_a_public_key_as_signing_key(
    runner: CliRunner, anchor_files: tuple[Path, Path]
) -> None:
    result = run(runner, "sign", str(EXAMPLE), "--key", str(anchor_files[1]), "--at", AT, code=2)
    assert "error [invalid_key]" in result.output


def test_inspect_without_anchor_is_unverified(runner: CliRunner, signed: Path) -> None:
    result = run(runner, "inspect", str(signed))
    assert result.stdout.startswith("UNVERIFIED")
    assert CASABLANCA in result.stdout
    data = json.loads(run(runner, "inspect", str(signed), "--json").stdout)
    assert data["verified"] is False and "UNVERIFIED" in data["warning"]
    assert data["header"]["typ"] == "trustlist+jwt"


def test_inspect_with_anchor_is_verified(
    runner: CliRunner, signed: Path, anchor_files: tuple[Path, Path]
) -> None:
    anchor = str(anchor_files[1])
    result = run(runner, "inspect", str(signed), "--anchor", anchor, "--at", AT)
    assert result.stdout.startswith("VERIFIED")
    assert "jurisdiction:  MA" in result.stdout
    assert "expires:       2026-01-31T00:00:00Z" in result.stdout
    assert "https://credentials.passerelle.org/types/skill/v1" in result.stdout
    assert "c4kCZhAP3e7B8QE2BN1x5RakOVzhBCfQyPhLGni_XBc (EdDSA)" in result.stdout
    data = json.loads(
        run(runner, "inspect", str(signed), "--anchor", anchor, "--json", "--at", AT).stdout
    )
    assert data["verified"] is True and data["jurisdiction"] == "MA"
    assert data["issuers"][0]["accreditation"]["id"] == "MA-FP-2024-0173"
    assert all("d" not in key for issuer in data["issuers"] for key in issuer["keys"])


def test_inspect_from_stdin(
    runner: CliRunner, signed: Path, anchor_files: tuple[Path, Path]
) -> None:
    token = signed.read_text(encoding="utf-8")
    result = run(runner, "inspect", "-", "--anchor", str(anchor_files[1]), "--at", AT, stdin=token)
    assert "VERIFIED" in result.stdout


def test_inspect_with_another_anchor_fails(runner: CliRunner, tmp_path: Path, signed: Path) -> None:
    other = write_json(tmp_path / "other.json", generate_key().public.to_jwk())
    result = run(runner, "inspect", str(signed), "--anchor", str(other), "--at", AT, code=2)
    assert "error [trust_anchor_unknown]" in result.output


def test_inspect_expired_list_fails(
    runner: CliRunner, signed: Path, anchor_files: tuple[Path, Path]
) -> None:
    later = "2026-03-01T00:00:00Z"
    result = run(
        runner, "inspect", str(signed), "--anchor", str(anchor_files[1]), "--at", later, code=2
    )
    assert "error [trust_list_expired]" in result.output


def test_inspect_garbage(runner: CliRunner, tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.jwt"
    garbage.write_text("not a token", encoding="utf-8")
    result = run(runner, "inspect", str(garbage), code=2)
    assert "error [malformed_token]" in result.output


def test_inspect_bad_at(runner: CliRunner, signed: Path, anchor_files: tuple[Path, Path]) -> None:
    result = run(
        runner,
        "inspect",
        str(signed),
        "--anchor",
        str(anchor_files[1]),
        "--at",
        "2026-01-01",
        code=2,
    )
    assert "time zone" in result.output
