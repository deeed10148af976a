"""Wallet benchmark (issue 6): the full receive and present flows against real services.

Starts the issuer (``passerelle issuer init`` + ``issuer serve``) and the verifier
(``passerelle verifier serve`` with a signed trust list naming the issuer's key) as separate
processes on 127.0.0.1, as ``tests/e2e/test_journey.py`` does, then drives the wallet's
library in this process with one ``httpx.Client`` (the wallet's own, keep-alive):

* receive, ``--rounds`` times per holder key: ``POST /api/v1/offers`` on the issuer (the
  example QualificationCredential claims, ``tx_code: true``), ``oid4vci.parse_offer`` +
  ``oid4vci.receive`` with the transaction code, then the store write
  (``CredentialRecord.from_credential`` + ``WalletStore.add_credential``: load, add, save).
  Each load and save runs scrypt, so the store write is timed apart, with the fast bench
  parameters (N = 2^10) and with the wallet's default ones (N = 2^17, r = 8: 128 MiB);
* present, ``--rounds`` times per holder key: ``POST /api/v1/requests`` on the verifier
  (``given_name``, ``family_name``, ``qualification``), ``oid4vp.parse_request`` on the
  ``openid4vp://`` link (fetches the request object), ``select``, ``build_vp_token``,
  ``submit`` (the verifier verifies the SD-JWT VC + KB-JWT, trust list and status list),
  then ``GET /api/v1/requests/{id}``, which must say answered and valid. The wallet is
  already unlocked (contents in memory); unlocking it is the store load timed above.

One untimed round of each flow runs first (imports, connections, the verifier's first
status list fetch) and is shown as "first". The services run with their default status
list TTLs (300 s), not the e2e test's 1 s, so the timed present rounds use the verifier's
cached status list. Client and both services share the machine's cores.

Sizes: the presentation (SD-JWT + KB-JWT) in characters, and the QR version at level M
(``passerelle.qr.qr_version``) of the plain token (byte mode) and of its PS1 compact payload
(``qr.encode_payload``, alphanumeric mode), for a P-256 holder key (the wallet default,
ES256) and an Ed25519 one (EdDSA).

    .venv/bin/python bench/bench_wallet.py [--rounds 20]
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from passerelle import jose, qr, sdjwt
from tests.e2e.system import System, running_system
from tests.factories import example_claims, vct
from wallet import oid4vci, oid4vp
from wallet._http import new_client
from wallet.store import DEFAULT_KDF, CredentialRecord, KdfParams, WalletStore

#: the bench's scrypt cost (as the wallet tests' FAST_KDF): 1 MiB, about a millisecond
FAST_KDF = KdfParams(log2_n=10, r=8, p=1)
WALLET_PASSPHRASE = "bench wallet passphrase"
MAX_ROUNDS = 200
CLAIMS = [["given_name"], ["family_name"], ["qualification"]]
HOLDER_ALGS = (("P-256", "ES256"), ("Ed25519", "EdDSA"))


# ---------------------------------------------------------------------------------------
# The flows


@dataclass
class Wallet:
    """One holder key, kept in two wallet files: fast scrypt and the default scrypt."""

    alg: str
    fast: WalletStore
    default: WalletStore
    contents: Any = None

    @classmethod
    def create(cls, directory: Path, alg: str) -> Wallet:
        fast = WalletStore(directory / "fast", WALLET_PASSPHRASE, kdf=FAST_KDF)
        contents = fast.init(alg)
        default = WalletStore(directory / "default", WALLET_PASSPHRASE, kdf=DEFAULT_KDF)
        default.save(contents)  # the same key, encrypted at the wallet's real cost
        return cls(alg, fast, default, contents)


@dataclass
class Samples:
    values: dict[str, list[float]] = field(default_factory=dict)

    def add(self, name: str, seconds: float) -> None:
        self.values.setdefault(name, []).append(seconds * 1000)


def _timed(samples: Samples | None, name: str, step: Callable[[], Any]) -> Any:
    start = time.perf_counter()
    result = step()
    if samples is not None:
        samples.add(name, time.perf_counter() - start)
    return result


def receive_once(
    client: httpx.Client, system: System, wallet: Wallet, samples: Samples | None
) -> CredentialRecord:
    """One full receive; times offer, receive (parse_offer + receive) and both store writes."""
    headers = {"Authorization": f"Bearer {system.admin_key}"}
    body = {"type": "QualificationCredential", "claims": example_claims(), "tx_code": True}

    def offer() -> dict[str, Any]:
        answer = client.post(f"{system.issuer}/api/v1/offers", json=body, headers=headers)
        assert answer.status_code in (200, 201), answer.text
        return dict(answer.json())

    offered = _timed(samples, "offer", offer)
    holder = wallet.contents.holder_key

    def redeem() -> list[oid4vci.IssuedCredential]:
        parsed = oid4vci.parse_offer(offered["offer_uri"], client=client)
        return oid4vci.receive(parsed, holder_key=holder, client=client, tx_code=offered["tx_code"])

    issued = _timed(samples, "receive", redeem)
    assert len(issued) == 1

    def record() -> CredentialRecord:
        item = issued[0]
        return CredentialRecord.from_credential(
            item.credential,
            received_at=wallet.fast.now(),
            holder_kid=holder.kid,
            display=item.display,
            issuer_display=item.issuer_display,
            credential_issuer=item.credential_issuer,
            configuration_id=item.configuration_id,
        )

    held: CredentialRecord = _timed(samples, "record", record)
    added = _timed(samples, "store_fast", lambda: wallet.fast.add_credential(held))
    assert added
    # the default-cost wallet: load (one scrypt) and save (another), timed apart
    contents = _timed(samples, "load_default", wallet.default.load)
    assert contents.add(held)
    _timed(samples, "save_default", lambda: wallet.default.save(contents))
    wallet.contents = _timed(samples, "load_fast", wallet.fast.load)
    return held


def present_once(
    client: httpx.Client, system: System, wallet: Wallet, samples: Samples | None
) -> str:
    """One full present; returns the presentation (SD-JWT + KB-JWT)."""
    start = time.perf_counter()
    created = client.post(
        f"{system.verifier}/api/v1/requests", json={"vct_values": [vct()], "claims": CLAIMS}
    )
    assert created.status_code == 201, created.text
    t_request = time.perf_counter()
    request = oid4vp.parse_request(created.json()["link"], client=client)
    selection = oid4vp.select(request, wallet.contents.credentials)
    token = oid4vp.build_vp_token(selection, wallet.contents.key)
    t_build = time.perf_counter()
    oid4vp.submit(request, token, client=client)
    t_submit = time.perf_counter()
    state = client.get(f"{system.verifier}/api/v1/requests/{created.json()['id']}")
    end = time.perf_counter()
    assert state.status_code == 200, state.text
    body = state.json()
    assert body["state"] == "answered", body
    result = body["result"]
    assert result["valid"] is True and result["status"] == "valid", result
    assert set(result["credential"]["claims"]) >= {"given_name", "family_name", "qualification"}
    if samples is not None:
        samples.add("create_request", t_request - start)
        samples.add("wallet_parse_select_build", t_build - t_request)
        samples.add("submit_verify", t_submit - t_build)
        samples.add("get_state", end - t_submit)
        samples.add("present", end - start)
    presentations = [p for chosen in token.values() for p in chosen]
    assert len(presentations) == 1
    return presentations[0]


# ---------------------------------------------------------------------------------------
# Report


def p90(values: list[float]) -> float:
    """Nearest-rank 90th percentile (the 18th of 20)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]


def line(label: str, values: list[float]) -> str:
    return (
        f"  {label:<44} median {statistics.median(values):8.1f} ms   p90 {p90(values):8.1f} ms"
        f"   min {min(values):7.1f}   max {max(values):7.1f}"
    )


def sums(samples: Samples, *names: str) -> list[float]:
    return [sum(parts) for parts in zip(*(samples.values[n] for n in names), strict=True)]


def sizes(presentation: str) -> dict[str, Any]:
    parsed = sdjwt.parse(presentation)
    assert parsed.kb_jwt is not None
    payload = qr.encode_payload(presentation)
    assert qr.decode_payload(payload) == presentation
    return {
        "chars": len(presentation),
        "disclosures": len(parsed.disclosures),
        "issuer_alg": jose.parse_compact(parsed.issuer_jwt).header.get("alg"),
        "kb_alg": jose.parse_compact(parsed.kb_jwt).header.get("alg"),
        "qr_plain": qr.qr_version(presentation, "M"),
        "payload_chars": len(payload),
        "qr_payload": qr.qr_version(payload, "M"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20, help=f"timed rounds (max {MAX_ROUNDS})")
    args = parser.parse_args()
    rounds = max(1, min(args.rounds, MAX_ROUNDS))

    print(
        f"Python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} cores; "
        f"{rounds} timed rounds per flow and holder key, after 1 untimed round"
    )
    with tempfile.TemporaryDirectory(prefix="bench-wallet-") as tmp_name:
        tmp = Path(tmp_name)
        with running_system(tmp) as system, new_client() as client:
            for label, alg in HOLDER_ALGS:
                wallet = Wallet.create(tmp / f"wallet-{alg}", alg)
                receive_samples, present_samples = Samples(), Samples()
                first_receive = time.perf_counter()
                receive_once(client, system, wallet, None)
                first_receive = (time.perf_counter() - first_receive) * 1000
                for _ in range(rounds):
                    receive_once(client, system, wallet, receive_samples)
                first_present = time.perf_counter()
                present_once(client, system, wallet, None)
                first_present = (time.perf_counter() - first_present) * 1000
                presented = [
                    present_once(client, system, wallet, present_samples) for _ in range(rounds)
                ]
                report(label, alg, receive_samples, present_samples, presented,
                       first_receive, first_present)  # fmt: skip


def report(
    label: str,
    alg: str,
    rs: Samples,
    ps: Samples,
    presented: list[str],
    first_receive: float,
    first_present: float,
) -> None:
    v = rs.values
    print(f"\n== holder key {label} ({alg})")
    print("receive (POST offer -> parse_offer + receive -> record):")
    print(line("POST /api/v1/offers (issuer admin API)", v["offer"]))
    print(line("parse_offer + oid4vci.receive", v["receive"]))
    print(line("CredentialRecord.from_credential", v["record"]))
    print(line("full receive, no store write", sums(rs, "offer", "receive", "record")))
    print(line("store write, fast scrypt N=2^10 (load+save)", v["store_fast"]))
    print(line("full receive + store write, fast scrypt",
               sums(rs, "offer", "receive", "record", "store_fast")))  # fmt: skip
    print(line("load, default scrypt N=2^17 r=8", v["load_default"]))
    print(line("save, default scrypt N=2^17 r=8", v["save_default"]))
    print(line("full receive + store write, default scrypt",
               sums(rs, "offer", "receive", "record", "load_default", "save_default")))  # fmt: skip
    print(f"  first (untimed) round, fast store: {first_receive:.1f} ms")
    w = ps.values
    print("present (POST request -> parse_request/select/build -> submit -> GET state):")
    print(line("POST /api/v1/requests (verifier)", w["create_request"]))
    print(line("parse_request + select + build_vp_token", w["wallet_parse_select_build"]))
    print(line("submit (verifier verifies)", w["submit_verify"]))
    print(line("GET /api/v1/requests/{id}", w["get_state"]))
    print(line("full present (wallet unlocked)", w["present"]))
    print(line("full present + unlock, default scrypt",
               [a + b for a, b in zip(w["present"], v["load_default"], strict=True)]))  # fmt: skip
    print(f"  first (untimed) round: {first_present:.1f} ms")
    measured = [sizes(p) for p in presented]
    last = measured[-1]

    def spread(key: str) -> str:
        low, high = min(m[key] for m in measured), max(m[key] for m in measured)
        return str(low) if low == high else f"{low}-{high}"

    print(
        f"presentation ({len(measured)} of them): {last['disclosures']} disclosures, issuer "
        f"{last['issuer_alg']}, KB-JWT {last['kb_alg']}; {spread('chars')} characters"
    )
    print(
        f"  QR level M: plain token (byte mode) version {spread('qr_plain')}; "
        f"PS1 payload ({spread('payload_chars')} characters, alphanumeric) version "
        f"{spread('qr_payload')}"
    )


if __name__ == "__main__":
    main()
