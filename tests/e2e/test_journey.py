"""The whole journey across three processes on 127.0.0.1 (issue 6).

A training centre (issuer service) creates a credential offer; the worker's wallet (the
``passerelle wallet`` command) receives the credential over OpenID4VCI; an employer's
verifier service asks for name + qualification; the wallet presents over OpenID4VP; the
verifier shows it valid. Then the centre revokes the credential, and the same flow shows it
revoked: the verifier fetched the centre's status list over HTTP, as in production.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.system import System, running_system
from tests.factories import example_claims, vct

PASSPHRASE = "worker passphrase 4711"


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    tmp = tmp_path_factory.mktemp("journey")
    extra = {
        # short status list lifetimes, so that a revocation shows within the test
        "ISSUER_STATUS_TTL": "1",
        "VERIFIER_STATUS_MAX_TTL": "1",
        "VERIFIER_STATUS_DEFAULT_TTL": "1",
        "PASSERELLE_WALLET_DIR": str(tmp / "wallet"),
        "PASSERELLE_WALLET_PASSPHRASE": PASSPHRASE,
    }
    with running_system(tmp, extra) as running:
        yield running


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
