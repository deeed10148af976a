"""SD-JWT verification and issuance throughput: Passerelle against its ceiling and sd-jwt.

One run prints, for ES256 and for EdDSA, the presentation of a credential with 8
selectively disclosable claims, 4 of them disclosed, with a KB-JWT:

(a) ceiling: 1 / (time of the two raw signature verifications it needs, with the library
    Passerelle verifies them with: ``cryptography`` for ES256, libsodium (PyNaCl) for
    Ed25519);
(b) the ``sd-jwt`` reference library (PyPI ``sd-jwt``, jwcrypto) verifying it (for EdDSA,
    through a subclass that hands the KB-JWT step the algorithm: the library checks KB-JWTs
    as ES256 otherwise);
(c) ``passerelle.sdjwt.verify``;

in presentations per second on one core, and issuance per second for both libraries.
Single process, fixed-count ``time.perf_counter`` loops, best of a few repeats.

    .venv/bin/python bench/bench_sdjwt.py [--quick]
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from nacl.bindings import crypto_sign_open

from passerelle import jose, sdjwt
from passerelle.keys import SigningKey, generate_key

NONCE, AUDIENCE, NOW = "n-0S6_WzA2Mj", "https://verifier.example.org", 1_700_000_000
SUBJECT = {
    "given_name": "Amina",
    "family_name": "Diallo",
    "birthdate": "1994-03-12",
    "nationality": "SN",
    "title": "Electrical installation, level 3",
    "isco_code": "7411",
    "eqf_level": 4,
    "awarded_on": "2025-06-30",
}
DISCLOSED = [("given_name",), ("family_name",), ("title",), ("eqf_level",)]


Timed = tuple[Callable[[], Any], int]


def best_rate(fn: Callable[[], Any], count: int, repeats: int = 5) -> float:
    """Operations per second: the best of ``repeats`` loops of ``count`` calls."""
    return best_rates({"x": (fn, count)}, repeats)["x"]


def best_rates(work: dict[str, Timed], rounds: int = 7) -> dict[str, float]:
    """Operations per second of each entry, the best of ``rounds`` loops, the entries
    interleaved round by round so that a slow patch of a shared machine hits them alike
    (the ratios between them are what this benchmark reports)."""
    best = dict.fromkeys(work, float("inf"))
    for fn, _ in work.values():
        fn()
    for _ in range(rounds):
        for name, (fn, count) in work.items():
            start = time.perf_counter()
            for _ in range(count):
                fn()
            best[name] = min(best[name], time.perf_counter() - start)
    return {name: work[name][1] / best[name] for name in work}


def claims(holder: SigningKey, marker: Callable[[str], Any]) -> dict[Any, Any]:
    base: dict[Any, Any] = {
        "iss": "https://tvet.example.sn",
        "iat": NOW - 3600,
        "vct": "https://passerelle.example/types/SkillCredential",
        "cnf": {"jwk": holder.public.to_jwk()},
    }
    base.update({marker(name): value for name, value in SUBJECT.items()})
    return base


def ours(alg: str, count: int) -> dict[str, Timed]:
    issuer, holder = generate_key(alg), generate_key(alg)
    sd_claims = claims(holder, sdjwt.SD)
    issued = sdjwt.issue(sd_claims, issuer, typ="dc+sd-jwt")
    presentation = sdjwt.present(
        issued.compact, DISCLOSED, holder_key=holder, nonce=NONCE, audience=AUDIENCE, iat=NOW
    )

    def verify() -> None:
        sdjwt.verify(
            presentation, issuer.public, typ="dc+sd-jwt", nonce=NONCE, audience=AUDIENCE, now=NOW
        )

    verify()
    parsed = sdjwt.parse(presentation)
    assert parsed.kb_jwt is not None and len(parsed.disclosures) == 4
    issuer_jws = jose.parse_compact(parsed.issuer_jwt)
    kb_jws = jose.parse_compact(parsed.kb_jwt)
    if alg == "ES256":
        checks = []
        for jws, key in ((issuer_jws, issuer), (kb_jws, holder)):
            sig = jws.signature
            der = encode_dss_signature(int.from_bytes(sig[:32]), int.from_bytes(sig[32:]))
            checks.append((key.public.key, der, jws.signing_input))

        def raw() -> None:
            for public, der, data in checks:
                public.verify(der, data, ec.ECDSA(hashes.SHA256()))  # type: ignore[union-attr, call-arg]

    else:
        signed = [
            (jws.signature + jws.signing_input, raw_public(key))
            for jws, key in ((issuer_jws, issuer), (kb_jws, holder))
        ]

        def raw() -> None:
            for message, public in signed:
                crypto_sign_open(message, public)

    return {
        "ceiling": (raw, count),
        "verify": (verify, count),
        "issue": (lambda: sdjwt.issue(sd_claims, issuer, typ="dc+sd-jwt"), count // 2),
    }


def raw_public(key: SigningKey) -> bytes:
    """An Ed25519 key's 32 public bytes, as libsodium takes them."""
    from cryptography.hazmat.primitives import serialization

    return key.public.key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def pipeline(alg: str, count: int) -> float:
    """The whole passerelle.verification.Verifier on a real QualificationCredential (4
    disclosable claims plus 4 decoys, 2 disclosed, KB-JWT, status list, trust list): what
    the CLI and the verifier service run, schema validation and labels included."""
    from datetime import UTC, datetime, timedelta

    from passerelle import statuslist, trustlist
    from passerelle.credential import issue_credential
    from passerelle.credtypes import load_types
    from passerelle.verification import StatusLists, Verifier

    issuer, holder, anchor = generate_key(alg), generate_key(alg), generate_key("EdDSA")
    moment = datetime.fromtimestamp(NOW, UTC)
    ctype = load_types().get("QualificationCredential")
    uri = "https://tvet.example.sn/status/1"
    token = issue_credential(
        ctype.example, credential_type=ctype, key=issuer, issuer="https://tvet.example.sn",
        now=moment - timedelta(hours=1), holder_jwk=holder.public.to_jwk(),
        status={"idx": 42, "uri": uri}, decoys=4,
    ).compact  # fmt: skip
    presentation = sdjwt.present(
        token, [("given_name",), ("family_name",)], holder_key=holder, nonce=NONCE,
        audience=AUDIENCE, iat=NOW,
    )  # fmt: skip
    jwk = {**issuer.public.to_jwk(), "valid_from": "2020-01-01T00:00:00Z"}
    source = {
        "iss": "https://anchor.example.sn", "jurisdiction": "SN",
        "issuers": [{
            "id": "https://tvet.example.sn", "names": {"fr": "Centre"}, "country": "SN",
            "accreditation": {"body": {"fr": "Autorité"}, "id": "SN-1", "scope": [ctype.vct]},
            "status": "active", "valid_from": "2020-01-01T00:00:00Z", "jwks": {"keys": [jwk]},
        }],
    }  # fmt: skip
    lst = trustlist.sign_trust_list(
        trustlist.build_trust_list(source, now=moment, lifetime=86400), anchor
    )
    store = trustlist.TrustStore.from_lists(
        [trustlist.verify_trust_list(lst, [anchor.public], now=moment)]
    )
    status = statuslist.create_status_list_token(
        statuslist.StatusList(2, 131072), issuer, uri=uri, now=moment
    )
    verifier = Verifier(trust=store, status_lists=StatusLists([status]))

    def verify() -> None:
        verifier.verify(presentation, now=moment, nonce=NONCE, audience=AUDIENCE)

    assert verifier.verify(presentation, now=moment, nonce=NONCE, audience=AUDIENCE).valid
    return best_rate(verify, count // 4)


def reference(alg: str, count: int) -> tuple[dict[str, Timed], str]:
    try:
        from jwcrypto.jwk import JWK
        from sd_jwt.common import SDObj
        from sd_jwt.holder import SDJWTHolder
        from sd_jwt.issuer import SDJWTIssuer
        from sd_jwt.verifier import SDJWTVerifier
    except ImportError:  # pragma: no cover - the dev extra installs it
        return {}, "not installed"
    issuer, holder = generate_key(alg), generate_key(alg)
    issuer_jwk = JWK.from_json(json.dumps(_private_jwk(issuer)))
    holder_jwk = JWK.from_json(json.dumps(_private_jwk(holder)))
    issuer_public = JWK.from_json(json.dumps(issuer.public.to_jwk()))
    user_claims = claims(holder, SDObj)
    del user_claims["cnf"]  # the library writes cnf from holder_key itself

    def make() -> Any:
        return SDJWTIssuer(user_claims, issuer_jwk, holder_key=holder_jwk, sign_alg=alg)

    issued = make().sd_jwt_issuance
    wallet = SDJWTHolder(issued)
    wallet.create_presentation(
        {name[0]: True for name in DISCLOSED},
        nonce=NONCE,
        aud=AUDIENCE,
        holder_key=holder_jwk,
        sign_alg=alg,
    )
    presentation = wallet.sd_jwt_presentation

    class Verifier(SDJWTVerifier):  # type: ignore[misc]
        """The library's verifier, except that it checks the KB-JWT with ``alg``: its
        constructor leaves ``sign_alg`` of its own KB-JWT step at the default, ES256, so
        that an EdDSA KB-JWT fails ("alg" mismatch). Nothing else changes."""

        def _verify_key_binding_jwt(self, *args: Any, **kwargs: Any) -> None:
            super()._verify_key_binding_jwt(*args, **kwargs, sign_alg=alg)

    def verify() -> None:
        Verifier(
            presentation, lambda iss, header: issuer_public, AUDIENCE, NONCE
        ).get_verified_payload()

    try:
        verify()
    except Exception as exc:  # an sd-jwt release that changed its internals
        return {"issue": (make, count // 2)}, f"cannot ({type(exc).__name__}: {exc})"
    return {"verify": (verify, count), "issue": (make, count // 2)}, ""


def _private_jwk(key: SigningKey) -> dict[str, str]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    jwk = dict(key.public.to_jwk())
    private = key.private
    if isinstance(private, Ed25519PrivateKey):
        raw = private.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
    else:
        raw = private.private_numbers().private_value.to_bytes(32, "big")
    jwk["d"] = jose.b64url_encode(raw)
    return jwk


def fmt(rate: float | str) -> str:
    return f"{rate:>10,.0f}/s" if isinstance(rate, float) else str(rate)


def main() -> None:
    count = 300 if "--quick" in sys.argv else 2000
    print(
        f"SD-JWT+KB, 8 disclosable claims, 4 disclosed; loops of {count} calls, best of 7"
        " rounds interleaved, one core"
    )
    for alg in ("ES256", "EdDSA"):
        reference_work, why_not = reference(alg, count)
        work = {**ours(alg, count), **{f"ref_{k}": v for k, v in reference_work.items()}}
        rates = best_rates(work)
        mine = {k: rates[k] for k in ("ceiling", "verify", "issue")}
        theirs: dict[str, float | str] = {
            "verify": rates.get("ref_verify", why_not),
            "issue": rates.get("ref_issue", why_not),
        }
        ceiling, verify = mine["ceiling"], mine["verify"]
        print(f"\n{alg}")
        print(f"  (a) ceiling, 2 raw signature checks   {fmt(ceiling)}  ({1e6 / ceiling:.1f} µs)")
        ref_verify = theirs["verify"]
        ref_text = fmt(ref_verify)
        if isinstance(ref_verify, float):
            ref_text += f"  ({1e6 / ref_verify:.1f} µs)"
        print(f"  (b) sd-jwt reference verify           {ref_text}")
        print(
            f"  (c) passerelle.sdjwt.verify           {fmt(verify)}  ({1e6 / verify:.1f} µs)"
            f"  = {verify / ceiling:.0%} of the ceiling (target >= 70%), overhead"
            f" {1e6 / verify - 1e6 / ceiling:.1f} µs"
        )
        if isinstance(ref_verify, float):
            print(f"      passerelle / sd-jwt verify  {verify / ref_verify:.1f}x (target >= 2x)")
        whole = pipeline(alg, count)
        print(
            f"  (d) whole Verifier pipeline          {fmt(whole)}  ({1e6 / whole:.1f} µs)"
            "  trust list, status list, schema, labels"
        )
        ref_issue = theirs["issue"]
        line = f"  issue: passerelle {fmt(mine['issue'])}, sd-jwt {fmt(ref_issue)}"
        if isinstance(ref_issue, float):
            line += f"  ({mine['issue'] / ref_issue:.1f}x, target >= 2x)"
        print(line)


if __name__ == "__main__":
    main()
