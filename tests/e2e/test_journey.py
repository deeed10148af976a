"""The whole journey across three processes on 127.0.0.1 (issue 6).

A training centre (issuer service) creates a credential offer; the worker's wallet (the
``passerelle wallet`` command) receives the credential over OpenID4VCI; an employer's
verifier service asks for name + qualification; the wallet presents over OpenID4VP; the
verifier shows it valid. Then the centre revokes the credential, and the same flow shows it
revoked: the verifier fetched the centre's status list over HTTP, as in production.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from passerelle import trustlist
from passerelle.keys import DEV_PASSPHRASE, KeyStore, generate_key
from tests.factories import example_claims, vct

SLUG = "cfp-e2e"
PASSPHRASE = "worker passphrase 4711"
#: the installed console script of this virtualenv (what a user runs)
PASSERELLE = [str(Path(sys.executable).with_name("passerelle"))]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until_up(url: str, process: subprocess.Popen[bytes], deadline: float = 30.0) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the server exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)  # polling a starting server: bounded by the deadline
    raise RuntimeError(f"{url} did not come up within {deadline} s")


@dataclass
class System:
    issuer: str
    verifier: str
    admin_key: str
    env: dict[str, str]

    def wallet(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*PASSERELLE, "wallet", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    tmp = tmp_path_factory.mktemp("journey")
    issuer_port, verifier_port = _free_port(), _free_port()
    issuer_url = f"http://127.0.0.1:{issuer_port}"
    env = {
        **os.environ,
        "PASSERELLE_DEV": "1",
        "DATABASE_URL": f"sqlite:///{tmp / 'issuer.db'}",
        "ISSUER_KEY_STORE": str(tmp / "keys"),
        "ISSUER_PUBLIC_URL": issuer_url,
        "ISSUER_STATUS_TTL": "1",
        "VERIFIER_STATUS_MAX_TTL": "1",
        "VERIFIER_STATUS_DEFAULT_TTL": "1",
        "PASSERELLE_WALLET_DIR": str(tmp / "wallet"),
        "PASSERELLE_WALLET_PASSPHRASE": PASSPHRASE,
    }
    init = subprocess.run(
        [*PASSERELLE, "issuer", "init", "--slug", SLUG, "--name", "fr=Centre E2E",
         "--country", "MA", "--prefix", "E2E"],
        env=env, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    admin_key = next(w for w in init.stdout.split() if w.startswith("psk_"))

    # the accreditation body lists the centre's key in a signed trust list
    anchor = generate_key()
    jwks = KeyStore(tmp / "keys" / SLUG, DEV_PASSPHRASE).jwks()["keys"]
    source = {
        "iss": "http://127.0.0.1/accreditation",
        "jurisdiction": "MA",
        "issuers": [
            {
                "id": f"{issuer_url}/tenants/{SLUG}",
                "names": {"fr": "Centre E2E"},
                "country": "MA",
                "accreditation": {"body": {"fr": "Organisme"}, "id": "MA-E2E", "scope": [vct()]},
                "status": "active",
                "valid_from": "2024-01-01T00:00:00Z",
                "jwks": {"keys": [{**k, "valid_from": "2024-01-01T00:00:00Z"} for k in jwks]},
            }
        ],
    }
    payload = trustlist.build_trust_list(source, now=int(time.time()), lifetime=86400)
    (tmp / "list.jwt").write_text(trustlist.sign_trust_list(payload, anchor))
    (tmp / "anchor.jwk.json").write_text(json.dumps(anchor.public.to_jwk()))

    issuer = subprocess.Popen([*PASSERELLE, "issuer", "serve", "--port", str(issuer_port)], env=env)
    verifier = subprocess.Popen(
        [*PASSERELLE, "verifier", "serve", "--port", str(verifier_port),
         "--trust-anchor", str(tmp / "anchor.jwk.json"), "--trust-list", str(tmp / "list.jwt"),
         "--allow-http-host", "127.0.0.1",
         "--public-url", f"http://127.0.0.1:{verifier_port}"],
        env=env,
    )  # fmt: skip
    try:
        _wait_until_up(f"{issuer_url}/health", issuer)
        _wait_until_up(f"http://127.0.0.1:{verifier_port}/healthz", verifier)
        yield System(issuer_url, f"http://127.0.0.1:{verifier_port}", admin_key, env)
    finally:
        for process in (issuer, verifier):
            process.terminate()
        for process in (issuer, verifier):
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


def _ask_and_present(system: System) -> dict[str, object]:
    """The employer asks for name + qualification; the wallet answers; the verifier's view."""
    request = httpx.post(
        f"{system.verifier}/api/v1/requests",
        json={
            "vct_values": [vct()],
            "claims": [["given_name"], ["family_name"], ["qualification"]],
        },
        timeout=10,
    )
    assert request.status_code == 201, request.text
    link = request.json()["link"]
    presented = system.wallet("present", link, "--yes")
    assert presented.returncode == 0, presented.stderr + presented.stdout
    state = httpx.get(f"{system.verifier}/api/v1/requests/{request.json()['id']}", timeout=10)
    assert state.status_code == 200, state.text
    body = state.json()
    assert body["state"] == "answered", body
    result = body["result"]
    assert isinstance(result, dict)
    return result


def test_offer_receive_present_verify_then_revoke(system: System) -> None:
    initialised = system.wallet("init")
    assert initialised.returncode == 0, initialised.stderr

    headers = {"Authorization": f"Bearer {system.admin_key}"}
    offer = httpx.post(
        f"{system.issuer}/api/v1/offers",
        json={"type": "QualificationCredential", "claims": example_claims(), "tx_code": True},
        headers=headers,
        timeout=10,
    )
    assert offer.status_code in (200, 201), offer.text
    offered = offer.json()
    received = system.wallet("receive", offered["offer_uri"], "--tx-code", offered["tx_code"])
    assert received.returncode == 0, received.stderr + received.stdout
    listing = system.wallet("list", "--lang", "fr")
    assert "Certificat de qualification" in listing.stdout

    result = _ask_and_present(system)
    assert result["valid"] is True, result["checks"]
    assert result["status"] == "valid"
    claims = result["credential"]["claims"]  # type: ignore[index]
    assert claims["given_name"] == "Youssef" and claims["family_name"] == "El Amrani"
    assert "birthdate" not in claims and "nationalities" not in claims
    assert any(c["name"] == "key_binding" and c["ok"] for c in result["checks"])  # type: ignore[union-attr]

    # the centre revokes the credential; the verifier sees it once its cached list expires
    listed = httpx.get(f"{system.issuer}/api/v1/credentials", headers=headers, timeout=10)
    credential_id = listed.json()["items"][0]["id"]
    revoked = httpx.post(
        f"{system.issuer}/api/v1/credentials/{credential_id}/revoke",
        json={"reason": "issued in error"},
        headers=headers,
        timeout=10,
    )
    assert revoked.status_code == 200, revoked.text
    time.sleep(1.5)  # the status list ttl is 1 s in this system: let the verifier's copy age
    result = _ask_and_present(system)
    assert result["valid"] is False
    assert result["status"] == "revoked"
