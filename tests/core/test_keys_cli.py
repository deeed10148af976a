"""``passerelle keys``: generate, list, export, rotate, compromise."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner, Result

from passerelle.cli.keys import app
from passerelle.keys import DEV_PASSPHRASE, KeyStore, generate_key, public_key_from_jwk

PASSPHRASE = "test passphrase, not a secret"

cli = typer.Typer()
cli.add_typer(app, name="keys")

ENV_NAMES = (
    "PASSERELLE_KEY_PASSPHRASE",
    "PASSERELLE_KEY_PASSPHRASE_FILE",
    "PASSERELLE_DEV",
    "PASSERELLE_KEY_DIR",
)


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PASSERELLE_KEY_PASSPHRASE", PASSPHRASE)
    monkeypatch.chdir(tmp_path)  # the default store, ./keys, lands in tmp_path


def run(*args: Any, code: int = 0) -> Result:
    result = CliRunner().invoke(cli, ["keys", *(str(a) for a in args)])
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return result


def kid_of(result: Result) -> str:
    return result.stdout.strip()


def compromise(store: Path, kid: str, since: str, code: int = 0) -> Result:
    # a kid is base64url and may start with '-': it goes last, after '--'
    return run("compromise", "--since", since, "--store", store, "--", kid, code=code)


def test_generate_and_export(tmp_path: Path) -> None:
    store = tmp_path / "centre"
    kid = kid_of(run("generate", "--store", store, "--label", "Centre"))
    assert (store / f"{kid}.pem").read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY")
    jwk = json.loads(run("export", "--store", store).stdout)
    assert jwk["kid"] == kid and jwk["alg"] == "EdDSA" and jwk["use"] == "sig"
    assert public_key_from_jwk(jwk).kid == kid
    assert "d" not in jwk
    record = KeyStore(store, PASSPHRASE).active_record()
    assert (record.kid, record.label) == (kid, "Centre")


def test_generate_es256(tmp_path: Path) -> None:
    kid = kid_of(run("generate", "--store", tmp_path / "w", "--alg", "ES256"))
    assert KeyStore(tmp_path / "w", PASSPHRASE).signing_key().alg == "ES256"
    assert KeyStore(tmp_path / "w", PASSPHRASE).signing_key().kid == kid


@pytest.mark.parametrize("alg", ["RS256", "HS256", "none", "eddsa"])
def test_generate_refuses_other_algs(tmp_path: Path, alg: str) -> None:
    run("generate", "--store", tmp_path / "s", "--alg", alg, code=2)
    assert not (tmp_path / "s").exists()


def test_default_store_is_keys_in_the_working_directory(tmp_path: Path) -> None:
    kid = kid_of(run("generate"))
    assert (tmp_path / "keys" / f"{kid}.pem").exists()
    assert json.loads(run("export").stdout)["kid"] == kid


def test_store_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PASSERELLE_KEY_DIR", str(tmp_path / "env-store"))
    kid = kid_of(run("generate"))
    assert (tmp_path / "env-store" / f"{kid}.pem").exists()
    assert kid in run("list").stdout
    # --store wins over the environment
    other = kid_of(run("generate", "--store", tmp_path / "other"))
    assert (tmp_path / "other" / f"{other}.pem").exists()


def test_generate_twice_refuses_and_points_to_rotate(tmp_path: Path) -> None:
    store = tmp_path / "s"
    kid = kid_of(run("generate", "--store", store))
    result = run("generate", "--store", store, code=2)
    assert "rotate" in result.output and kid in result.output
    assert len(KeyStore(store, PASSPHRASE).records()) == 1


def test_missing_passphrase_is_exit_2_with_the_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PASSERELLE_KEY_PASSPHRASE")
    result = run("generate", "--store", tmp_path / "s", code=2)
    assert "error [key_store_locked]" in result.stderr
    assert "PASSERELLE_KEY_PASSPHRASE" in result.stderr
    assert not (tmp_path / "s").exists()


def test_wrong_passphrase_cannot_rotate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = tmp_path / "s"
    kid = kid_of(run("generate", "--store", store))
    monkeypatch.setenv("PASSERELLE_KEY_PASSPHRASE", "wrong")
    result = run("rotate", "--store", store, code=2)
    assert "error [key_store_locked]" in result.stderr
    assert [r.kid for r in KeyStore(store, PASSPHRASE).records()] == [kid]


def test_passphrase_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PASSERELLE_KEY_PASSPHRASE")
    secret = tmp_path / "passphrase.txt"
    secret.write_text("from the file\n")
    monkeypatch.setenv("PASSERELLE_KEY_PASSPHRASE_FILE", str(secret))
    run("generate", "--store", tmp_path / "s")
    KeyStore(tmp_path / "s", "from the file").signing_key()


def test_dev_mode_warns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PASSERELLE_KEY_PASSPHRASE")
    monkeypatch.setenv("PASSERELLE_DEV", "1")
    result = run("generate", "--store", tmp_path / "s")
    assert "PASSERELLE_DEV=1" in result.stderr and "production" in result.stderr
    KeyStore(tmp_path / "s", DEV_PASSPHRASE).signing_key()


def test_list(tmp_path: Path) -> None:
    store = tmp_path / "s"
    first = kid_of(run("generate", "--store", store, "--label", "first key"))
    second = kid_of(run("rotate", "--store", store, "--alg", "ES256"))
    rows = json.loads(run("list", "--store", store, "--json").stdout)
    assert [(r["kid"], r["alg"], r["status"]) for r in rows] == [
        (first, "EdDSA", "retired"),
        (second, "ES256", "active"),
    ]
    assert set(rows[0]) == {
        "kid",
        "alg",
        "status",
        "created_at",
        "retired_at",
        "compromised_at",
        "label",
    }
    assert rows[0]["label"] == "first key" and rows[0]["retired_at"].endswith("Z")
    assert rows[1]["retired_at"] is None and rows[1]["compromised_at"] is None
    table = run("list", "--store", store).stdout.splitlines()
    assert table[0].split() == [
        "kid",
        "alg",
        "status",
        "created_at",
        "retired_at",
        "compromised_at",
        "label",
    ]
    assert table[1].startswith(first) and "retired" in table[1] and "first key" in table[1]
    assert table[2].startswith(second) and "active" in table[2]


def test_list_and_export_need_no_passphrase(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = tmp_path / "s"
    kid = kid_of(run("generate", "--store", store))
    monkeypatch.delenv("PASSERELLE_KEY_PASSPHRASE")
    assert kid in run("list", "--store", store).stdout
    assert json.loads(run("export", "--store", store).stdout)["kid"] == kid


def test_no_store_is_exit_2(tmp_path: Path) -> None:
    for command in (
        ["list"],
        ["export"],
        ["rotate"],
        ["compromise", "k", "--since", "2026-01-01T00:00:00Z"],
    ):
        result = run(*command, "--store", tmp_path / "nowhere", code=2)
        assert "error [key_not_found]" in result.stderr
        assert "passerelle keys generate" in result.stderr
    assert not (tmp_path / "nowhere").exists()


def test_export_kid_and_all(tmp_path: Path) -> None:
    store = tmp_path / "s"
    first = kid_of(run("generate", "--store", store))
    second = kid_of(run("rotate", "--store", store))
    assert json.loads(run("export", "--store", store).stdout)["kid"] == second
    assert json.loads(run("export", "--store", store, "--kid", first).stdout)["kid"] == first
    jwks = json.loads(run("export", "--store", store, "--all").stdout)
    assert [k["kid"] for k in jwks["keys"]] == [first, second]
    assert jwks == KeyStore(store, PASSPHRASE).jwks()
    run("export", "--store", store, "--kid", "unknown", code=2)
    run("export", "--store", store, "--kid", first, "--all", code=2)


def test_export_never_prints_private_parts(tmp_path: Path) -> None:
    store = tmp_path / "s"
    run("generate", "--store", store)
    run("rotate", "--store", store, "--alg", "ES256")
    outputs = [
        run("export", "--store", store).output,
        run("export", "--store", store, "--all").output,
        run("list", "--store", store, "--json").output,
        run("list", "--store", store).output,
    ]
    secrets = []
    for record in KeyStore(store, PASSPHRASE).records():
        signing = KeyStore(store, PASSPHRASE).signing_key(record.kid)
        secrets.append(repr(signing.private))
        if signing.alg == "ES256":
            value = signing.private.private_numbers().private_value  # type: ignore[union-attr]
            secrets.append(str(value))
    for output in outputs:
        assert '"d"' not in output and "PRIVATE" not in output
        for secret in secrets:
            assert secret not in output


def test_rotate(tmp_path: Path) -> None:
    store = tmp_path / "s"
    first = kid_of(run("generate", "--store", store, "--alg", "ES256"))
    result = run("rotate", "--store", store)
    second = kid_of(result)
    assert second != first and f"{first} retired" in result.stderr
    key_store = KeyStore(store, PASSPHRASE)
    assert key_store.active_record().kid == second
    assert key_store.active_record().alg == "ES256"  # the same alg by default
    assert key_store.signing_key(first).kid == first  # kept
    third = kid_of(run("rotate", "--store", store, "--alg", "EdDSA"))
    assert key_store.active_record().alg == "EdDSA"
    assert [r.status for r in key_store.records()] == ["retired", "retired", "active"]
    assert key_store.active_record().kid == third


def test_compromise(tmp_path: Path) -> None:
    store = tmp_path / "s"
    first = kid_of(run("generate", "--store", store))
    second = kid_of(run("rotate", "--store", store))
    result = compromise(store, first, "2026-01-31T12:00:00+01:00")
    assert "2026-01-31T11:00:00Z" in result.stdout
    record = KeyStore(store, PASSPHRASE).record(first)
    assert record.compromised_at is not None
    assert record.compromised_at.isoformat() == "2026-01-31T11:00:00+00:00"
    rows = {r["kid"]: r for r in json.loads(run("list", "--store", store, "--json").stdout)}
    assert rows[first]["compromised_at"] == "2026-01-31T11:00:00Z"
    # a JWKS cannot say "void since": compromised keys are left out of --all, with a warning
    result = run("export", "--store", store, "--all")
    assert [k["kid"] for k in json.loads(result.stdout)["keys"]] == [second]
    assert f"compromised key {first} left out" in result.stderr
    result = run("export", "--store", store, "--kid", first)
    assert json.loads(result.stdout)["kid"] == first
    assert "compromised" in result.stderr


def test_compromise_the_active_key(tmp_path: Path) -> None:
    store = tmp_path / "s"
    kid = kid_of(run("generate", "--store", store))
    result = compromise(store, kid, "2026-02-01T00:00:00Z")
    assert "passerelle keys rotate" in result.stderr
    assert KeyStore(store, PASSPHRASE).record(kid).status == "retired"
    run("export", "--store", store, code=2)  # no active key any more
    new = kid_of(run("rotate", "--store", store))
    assert json.loads(run("export", "--store", store).stdout)["kid"] == new


@pytest.mark.parametrize(
    "since", ["yesterday", "2026-01-31", "2026-01-31T12:00:00", "31/01/2026 12:00"]
)
def test_compromise_needs_an_rfc3339_time_with_zone(tmp_path: Path, since: str) -> None:
    store = tmp_path / "s"
    kid = kid_of(run("generate", "--store", store))
    result = compromise(store, kid, since, code=2)
    assert "--since" in result.stderr
    assert KeyStore(store, PASSPHRASE).record(kid).compromised_at is None


def test_compromise_requires_since_and_a_known_kid(tmp_path: Path) -> None:
    store = tmp_path / "s"
    run("generate", "--store", store)
    run("compromise", "some-kid", "--store", store, code=2)  # --since missing (click usage)
    result = run(
        "compromise", "unknown", "--since", "2026-01-01T00:00:00Z", "--store", store, code=2
    )
    assert "error [key_not_found]" in result.stderr


def test_help() -> None:
    result = run("--help")
    for command in ("generate", "list", "export", "rotate", "compromise"):
        assert command in result.stdout


def test_a_kid_starting_with_a_dash(tmp_path: Path) -> None:
    signing = generate_key()
    while not signing.kid.startswith("-"):  # one key in 64; generation takes microseconds
        signing = generate_key()
    store = KeyStore(tmp_path / "s", PASSPHRASE)
    store.import_key(signing)
    result = compromise(tmp_path / "s", signing.kid, "2026-01-01T00:00:00Z")
    assert signing.kid in result.stdout
    assert store.record(signing.kid).compromised_at is not None
    exported = run("export", "--store", tmp_path / "s", "--kid", signing.kid).stdout
    assert json.loads(exported)["kid"] == signing.kid
