"""wallet.cli: the worker's journey on the command line, and its error contract."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from passerelle import qr
from tests import factories
from tests.wallet.conftest import FAST_KDF, PASSPHRASE, clock
from tests.wallet.fakes import FakeIssuer, FakeVerifier, client_for, dcql
from wallet.cli import WalletEnv, app

BACKUP_PASSPHRASE = "backup passphrase for the USB stick"


def make_env(
    directory: Path,
    *fakes: Any,
    passphrase: str = PASSPHRASE,
) -> WalletEnv:
    def client() -> httpx.Client:
        return client_for(*fakes)

    return WalletEnv(
        directory=directory,
        passphrase=lambda confirm: passphrase,
        backup_passphrase=lambda confirm: BACKUP_PASSPHRASE,
        client_factory=client,
        kdf=FAST_KDF,
        now=clock(),
    )


Run = Callable[..., Any]


@pytest.fixture
def run() -> Run:
    runner = CliRunner()

    def invoke(env: WalletEnv, *args: str, input: str | None = None) -> Any:
        return runner.invoke(app, list(args), obj=env, input=input)

    return invoke


def test_the_worker_journey(tmp_path: Path, run: Run) -> None:
    issuer = FakeIssuer(tx_code="4938")
    verifier = FakeVerifier(dcql([["given_name"], ["family_name"], ["qualification", "title"]]))
    env = make_env(tmp_path / "phone", issuer, verifier)

    result = run(env, "init")
    assert result.exit_code == 0, result.output
    assert "holder key" in result.output and "(ES256)" in result.output

    result = run(env, "list")
    assert "no credentials yet" in result.output

    result = run(env, "receive", issuer.offer_link(), "--tx-code", "4938")
    assert result.exit_code == 0, result.output
    assert "received" in result.output and "Qualification" in result.output
    credential_id = result.output.split()[1]

    result = run(env, "list", "--lang", "fr")
    assert result.exit_code == 0
    assert credential_id in result.output and "Centre Hay Hassani" in result.output

    result = run(env, "show", credential_id[:6], "--lang", "en")
    assert result.exit_code == 0, result.output
    assert "El Amrani" in result.output and "1998-04-17" in result.output

    result = run(env, "present", verifier.link(), "--yes")
    assert result.exit_code == 0, result.output
    assert "given_name" in result.output and "will be shared" in result.output
    assert "always visible" in result.output
    assert "shared with the verifier" in result.output
    [verified] = verifier.results["q"]
    assert verified["valid"] is True
    assert "birthdate" not in verified["credential"]["claims"]

    backup = tmp_path / "usb" / "passerelle.backup"
    result = run(env, "export", str(backup))
    assert result.exit_code == 0, result.output
    assert "1 credential(s)" in result.output

    new_phone = make_env(tmp_path / "new-phone", passphrase="a new phone passphrase")
    result = run(new_phone, "import", str(backup))
    assert result.exit_code == 0, result.output
    assert "imported 1 credential(s)" in result.output
    result = run(new_phone, "import", str(backup))
    assert "imported 0 credential(s), 1 already held" in result.output
    assert credential_id in run(new_phone, "list").output


def test_a_transaction_code_is_prompted_for(tmp_path: Path, run: Run) -> None:
    issuer = FakeIssuer(tx_code="4938")
    env = make_env(tmp_path / "w", issuer)
    run(env, "init", "--alg", "EdDSA")
    result = run(env, "receive", issuer.offer_link(), input="4938\n")
    assert result.exit_code == 0, result.output
    assert "code sent by SMS" in result.output


def test_the_worker_chooses_and_may_decline(tmp_path: Path, run: Run) -> None:
    issuer = FakeIssuer()
    verifier = FakeVerifier(dcql([["given_name"], ["family_name"]]))
    env = make_env(tmp_path / "w", issuer, verifier)
    run(env, "init")
    run(env, "receive", issuer.offer_link())

    result = run(env, "present", verifier.link(), input="n\n")
    assert result.exit_code == 1
    assert "nothing was shared" in result.output
    assert verifier.posted == []

    result = run(env, "present", verifier.link(), "--only", "family_name", input="y\n")
    assert result.exit_code == 0, result.output
    assert "withheld" in result.output
    claims = verifier.results["q"][0]["credential"]["claims"]
    assert "family_name" in claims and "given_name" not in claims


def test_offline_presentation_as_a_qr_code(tmp_path: Path, run: Run) -> None:
    issuer = FakeIssuer()
    verifier = FakeVerifier(dcql([["family_name"]]))
    env = make_env(tmp_path / "w", issuer, verifier)
    run(env, "init")
    run(env, "receive", issuer.offer_link())
    out = tmp_path / "presentation.png"
    result = run(env, "present", verifier.link(), "--yes", "--qr", str(out))
    assert result.exit_code == 0, result.output
    assert verifier.posted == []
    presentation = qr.decode_payload(qr.decode_image(out.read_bytes()))
    assert presentation.count("~") == 2  # one disclosure, then the KB-JWT


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["list"], "wallet_not_found"),
        (["show", "0000"], "wallet_not_found"),
        (["init", "--alg", "RS256"], "invalid_input"),
        (["receive", "openid-credential-offer://?nothing"], "wallet_not_found"),
    ],
)
def test_errors_exit_2_with_their_code(
    tmp_path: Path, run: Run, args: list[str], code: str
) -> None:
    result = run(make_env(tmp_path / "none"), *args)
    assert result.exit_code == 2
    assert f"error [{code}]:" in result.output
    assert "Traceback" not in result.output


def test_wrong_passphrase_and_bad_links(tmp_path: Path, run: Run) -> None:
    issuer = FakeIssuer(tx_code="4938")
    env = make_env(tmp_path / "w", issuer)
    run(env, "init")
    locked = make_env(tmp_path / "w", passphrase="not my passphrase")
    result = run(locked, "list")
    assert result.exit_code == 2 and "error [wallet_locked]:" in result.output

    result = run(env, "receive", "openid-credential-offer://?nothing")
    assert result.exit_code == 2 and "error [credential_offer_invalid]:" in result.output

    result = run(env, "receive", issuer.offer_link(), "--tx-code", "0000")
    assert result.exit_code == 2 and "error [grant_refused]:" in result.output

    result = run(env, "present", "openid4vp://?client_id=x")
    assert result.exit_code == 2 and "error [presentation_request_invalid]:" in result.output

    result = run(env, "show", "ffff")
    assert result.exit_code == 2 and "error [credential_not_found]:" in result.output

    result = run(env, "import", str(tmp_path / "missing.backup"))
    assert result.exit_code == 2 and "error [wallet_not_found]:" in result.output

    result = run(env, "list", "--lang", "de")
    assert result.exit_code == 2 and "error [invalid_input]:" in result.output


def test_settings_from_the_environment(tmp_path: Path) -> None:
    env = WalletEnv.from_environ(
        {
            "PASSERELLE_WALLET_DIR": str(tmp_path),
            "PASSERELLE_WALLET_PASSPHRASE": "from the environment",
            "PASSERELLE_BACKUP_PASSPHRASE": "backup from the environment",
        }
    )
    assert env.directory == tmp_path
    assert env.passphrase(True) == "from the environment"
    assert env.backup_passphrase(False) == "backup from the environment"
    default = WalletEnv.from_environ({})
    assert default.directory == Path.home() / ".passerelle" / "wallet"
    assert factories.NOW.tzinfo is not None
