"""The credential commands end to end: issue, present, verify, bundle (all offline)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from passerelle.cli import build_app
from passerelle.keys import KeyStore
from tests.factories import ROOT, status_list_token, trust_list, trust_source

PASS = "correct horse battery staple"
AUD = "https://employer.example"
ISSUER = "https://cfp-casablanca.example.ma"


@pytest.fixture()
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """Key stores for a centre and a worker, and their public JWK files."""
    monkeypatch.setenv("PASSERELLE_KEY_PASSPHRASE", PASS)
    monkeypatch.delenv("PASSERELLE_DEV", raising=False)
    paths: dict[str, Path] = {}
    for name, alg in (("centre", "EdDSA"), ("worker", "ES256")):
        store = KeyStore(tmp_path / name, PASS)
        store.generate(alg)
        pub = tmp_path / f"{name}.jwk.json"
        pub.write_text(json.dumps(store.public_keys()[0].to_jwk()))
        paths[name], paths[f"{name}_pub"] = tmp_path / name, pub
    paths["tmp"] = tmp_path
    return paths


def run(*args: str, stdin: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(build_app(), [str(a) for a in args], input=stdin)
    return result.exit_code, result.output


def issue(env: dict[str, Path], *extra: str) -> Path:
    out = env["tmp"] / "credential.txt"
    code, output = run(
        "issue",
        ROOT / "schemas/qualification/example.json",
        "--issuer",
        ISSUER,
        "--store",
        env["centre"],
        "--holder-key",
        env["worker_pub"],
        "-o",
        out,
        *extra,
    )
    assert code == 0, output
    return out


def test_issue_present_verify_with_key_binding(env: dict[str, Path]) -> None:
    credential = issue(env, "--valid-days", "365")
    code, listing = run("present", credential, "--list")
    assert code == 0
    assert {"given_name", "family_name", "birthdate", "nationalities"} <= set(listing.split())
    presentation = env["tmp"] / "presentation.txt"
    code, output = run(
        "present", credential, "-d", "given_name", "-d", "family_name",
        "--holder-store", env["worker"], "--nonce", "n-123", "--audience", AUD, "-o", presentation,
    )  # fmt: skip
    assert code == 0, output
    code, output = run(
        "verify", presentation.read_text().strip(), "--issuer-key", env["centre_pub"],
        "--nonce", "n-123", "--audience", AUD, "--json",
    )  # fmt: skip
    assert code == 0, output
    result = json.loads(output)
    assert result["valid"] is True
    assert set(result["credential"]["claims"]) >= {"given_name", "family_name", "qualification"}
    assert "birthdate" not in result["credential"]["claims"]
    # a replay towards another verifier is refused
    code, output = run(
        "verify", "-", "--issuer-key", env["centre_pub"], "--nonce", "n-123",
        "--audience", "https://elsewhere.example", "--json",
    stdin=presentation.read_text())  # fmt: skip
    assert code == 1
    assert json.loads(output)["checks"][6]["code"] == "kb_audience_mismatch"


def test_human_output_in_arabic(env: dict[str, Path]) -> None:
    credential = issue(env)
    code, output = run("verify", credential.read_text().strip(), "--issuer-key",
                       env["centre_pub"], "--lang", "ar")  # fmt: skip
    assert code == 0, output
    assert "صالح" in output


def test_trust_list_and_offline_status_list(env: dict[str, Path]) -> None:
    # `issue` signs at the real time: build the lists around it, verify an hour later
    now = datetime.now(UTC).replace(microsecond=0)
    at = (now + timedelta(hours=1)).isoformat()
    store = KeyStore(env["centre"], PASS)
    centre_key = store.signing_key()
    tmp = env["tmp"]
    anchor = KeyStore(tmp / "anchor", PASS)
    anchor.generate("ES256")
    anchor_key = anchor.signing_key()
    (tmp / "anchor.jwk.json").write_text(json.dumps(anchor_key.public.to_jwk()))
    (tmp / "list.jwt").write_text(
        trust_list(trust_source(issuer_key=centre_key, issuer=ISSUER), anchor=anchor_key, now=now)
    )
    uri = "https://cfp-casablanca.example.ma/status/1"
    credential = issue(env, "--status-uri", uri, "--status-idx", "7")
    ok_list, revoked_list = tmp / "ok.jwt", tmp / "revoked.jwt"
    ok_list.write_text(status_list_token(issuer_key=centre_key, now=now))
    revoked_list.write_text(status_list_token(issuer_key=centre_key, revoked=(7,), now=now))
    common = ["--trust-list", tmp / "list.jwt", "--trust-anchor", tmp / "anchor.jwk.json",
              "--offline", "--at", at, "--json"]  # fmt: skip
    code, output = run("verify", credential.read_text().strip(), "--status-list", ok_list, *common)
    assert code == 0, output
    result = json.loads(output)
    assert result["issuer"]["accreditation"]["id"] == "MA-FP-2024-0173"
    assert result["status_info"]["age_seconds"] == 3600
    code, output = run(
        "verify", credential.read_text().strip(), "--status-list", revoked_list, *common
    )
    assert code == 1
    assert json.loads(output)["status"] == "revoked"
    # the same through an offline bundle
    bundle = tmp / "bundle.json"
    code, output = run(
        "bundle", "--trust-list", tmp / "list.jwt", "--trust-anchor", tmp / "anchor.jwk.json",
        "--status-list", revoked_list, "-o", bundle,
    )  # fmt: skip
    assert code == 0, output
    code, output = run(
        "verify", credential.read_text().strip(), "--bundle", bundle,
        "--trust-anchor", tmp / "anchor.jwk.json", "--offline", "--at", at,
        "--json",
    )  # fmt: skip
    assert code == 1
    assert json.loads(output)["status"] == "revoked"


@pytest.mark.parametrize(
    "args",
    [
        ["verify", "abc"],  # no trust configured
        ["verify", "abc", "--issuer-key", "missing.json"],
        ["verify", "abc", "--issuer-key", "{pub}", "--at", "yesterday"],
        ["verify", "abc", "--issuer-key", "{pub}", "--lang", "de"],
        ["verify", "abc", "--issuer-key", "{pub}", "--nonce", "only-nonce"],
        ["verify", "abc", "--trust-list", "https://example.org/l.jwt", "--offline",
         "--trust-anchor", "{pub}"],
        ["issue", "{root}/schemas/qualification/example.json", "--issuer", "https://x.example",
         "--store", "{tmp}/empty"],
        ["issue", "{root}/schemas/qualification/example.json", "--issuer", "https://x.example",
         "--type", "NoSuchCredential", "--store", "{centre}"],
        ["present", "not-a-token", "--list"],
    ],
)  # fmt: skip
def test_usage_errors_exit_2_without_traceback(env: dict[str, Path], args: list[str]) -> None:
    values = {"pub": env["centre_pub"], "root": ROOT, "tmp": env["tmp"], "centre": env["centre"]}
    code, output = run(*[a.format(**values) for a in args])
    assert code == 2, output
    assert "Traceback" not in output
    assert "error" in output.lower()


def test_garbage_token_is_not_valid_exit_1(env: dict[str, Path]) -> None:
    code, output = run("verify", "eyJ.garbage~", "--issuer-key", env["centre_pub"], "--json")
    assert code == 1
    assert json.loads(output)["checks"][0]["ok"] is False


def test_schema_violations_are_all_reported(env: dict[str, Path]) -> None:
    claims = json.loads((ROOT / "schemas/qualification/example.json").read_text())
    claims["qualification"]["eqf_level"] = 9
    claims["birthdate"] = "1998-02-30"
    bad = env["tmp"] / "bad.json"
    bad.write_text(json.dumps(claims))
    code, output = run("issue", bad, "--issuer", ISSUER, "--store", env["centre"])
    assert code == 2
    assert "schema_violation" in output
    assert "$.qualification.eqf_level" in output and "$.birthdate" in output


@pytest.mark.parametrize("service", ["verifier", "issuer"])
def test_serve_refuses_an_unknown_log_level(service: str) -> None:
    result = CliRunner().invoke(build_app(), [service, "serve", "--log-level", "chatty"])
    assert result.exit_code == 2
    assert "'chatty' is not one of" in result.output and "Traceback" not in result.output
