"""QR transport benchmark: QR versions of a QualificationCredential, render and decode times.

Run: ``.venv/bin/python bench/bench_qr.py [--runs 30]``

Uses the credential layer (``passerelle.credential.issue_credential``, ``passerelle.sdjwt
.present``) with ``schemas/qualification/example.json`` when importable; otherwise a
synthetic token of the same shape (~650-byte payload, 10 digests and disclosures, EdDSA).
Targets: paper certificate at version 25 or lower, presentation at 22 or lower (level M),
PNG render under 50 ms, decode of a 1280x960 camera-like photo under 50 ms.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import random
import secrets
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from PIL import Image, ImageFilter

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from passerelle import qr  # noqa: E402
from passerelle.jose import b64url_encode, sign_compact  # noqa: E402
from passerelle.keys import generate_key  # noqa: E402

#: The holder key type: an Ed25519 key is 32 bytes shorter in cnf than a P-256 one.
HOLDER_ALG = os.environ.get("HOLDER_ALG", "EdDSA")
NONCE, AUDIENCE, KB_IAT = "demo-nonce-4711", "https://employer.example", 1767225700


def real_tokens() -> tuple[str, str, str, str]:
    """(source, paper, presentation, presentation without KB-JWT) from the credential layer."""
    from passerelle import sdjwt
    from passerelle.credential import issue_credential
    from passerelle.credtypes import load_types

    claims = json.loads((ROOT / "schemas/qualification/example.json").read_text("utf-8"))
    holder = generate_key(HOLDER_ALG)
    issued = issue_credential(
        claims,
        credential_type=load_types().get("QualificationCredential"),
        key=generate_key("EdDSA"),
        issuer="https://cfp-casablanca.example.ma",
        now=datetime(2026, 1, 1, tzinfo=UTC),
        valid_for=timedelta(days=3650),
        holder_jwk=holder.public.to_jwk(),
        status={"idx": 48213, "uri": "https://cfp-casablanca.example.ma/status/1"},
    )
    paper = issued.compact
    name = [("given_name",), ("family_name",)]
    presentation = sdjwt.present(
        paper, name, holder_key=holder, nonce=NONCE, audience=AUDIENCE, iat=KB_IAT
    )
    return "passerelle.credential", paper, presentation, sdjwt.present(paper, name)


def synthetic_tokens() -> tuple[str, str, str, str]:
    """The same shape built by hand: 10 disclosures of person and qualification data."""
    claims = [
        ("given_name", "Youssef"),
        ("family_name", "El Amrani"),
        ("birthdate", "1998-04-17"),
        ("nationalities", ["MA"]),
        ("title", {"fr": "Soudeur qualifié en construction métallique"}),
        ("awarded_on", "2025-07-04"),
        ("isco08", "7212"),
        ("eqf_level", 3),
        ("learning_hours", 1600),
        ("country_of_award", "MA"),
    ]
    disclosures = [
        b64url_encode(json.dumps([b64url_encode(secrets.token_bytes(16)), n, v]).encode())
        for n, v in claims
    ]
    digests = [b64url_encode(hashlib.sha256(d.encode()).digest()) for d in disclosures]
    payload = {
        "_sd": sorted(digests),
        "iss": "https://cfp-casablanca.example.ma",
        "iat": 1767225600,
        "vct": "https://credentials.passerelle.org/types/qualification/v1",
        "exp": 2082585600,
        "status": {"status_list": {"idx": 48213, "uri": "https://cfp-casablanca.example.ma/s/1"}},
        "_sd_alg": "sha-256",
    }
    jwt = sign_compact(payload, generate_key("EdDSA"), typ="dc+sd-jwt")
    paper = "~".join([jwt, *disclosures]) + "~"
    chosen = "~".join([jwt, disclosures[0], disclosures[1], disclosures[4]]) + "~"
    kb = {"nonce": NONCE, "aud": AUDIENCE, "iat": KB_IAT, "sd_hash": digests[0]}
    kb["sd_hash"] = b64url_encode(hashlib.sha256(chosen.encode()).digest())
    presentation = chosen + sign_compact(kb, generate_key("ES256"), typ="kb+jwt")
    return "synthetic", paper, presentation, chosen


def version_or_none(data: str) -> str:
    try:
        return str(qr.qr_version(data, "M"))
    except qr.errors.QrTooLargeError:
        return ">40"


def timed(func: Callable[[], object], runs: int) -> tuple[float, float]:
    """(median, best) in milliseconds."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        func()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), min(times)


def camera_photo(png: bytes) -> bytes:
    """A 1280x960 'photo': the code at 60 % of the height, rotated 8°, blurred, on noise."""
    code = Image.open(io.BytesIO(png)).convert("L")
    side = int(960 * 0.6)
    code = code.resize((side, side), Image.Resampling.BILINEAR)
    code = code.rotate(8, expand=True, fillcolor=255, resample=Image.Resampling.BILINEAR)
    rng = random.Random(7)
    scene = Image.new("L", (1280, 960))
    scene.putdata([120 + rng.randrange(60) for _ in range(1280 * 960)])
    scene.paste(code, (380, (960 - code.height) // 2))
    scene = scene.filter(ImageFilter.GaussianBlur(1.0)).convert("RGB")
    out = io.BytesIO()
    scene.save(out, format="PNG")
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    try:
        source, paper, presentation, bare = real_tokens()
    except ImportError:
        source, paper, presentation, bare = synthetic_tokens()

    print(f"QR versions at error correction M ({source} QualificationCredential)")
    print(f"{'':44} {'plain (byte)':>16} {'PS1: (alnum)':>16}")
    rows = [
        ("all disclosures (paper certificate)", paper),
        ("name + qualification, KB-JWT (presentation)", presentation),
        ("name + qualification, no KB-JWT", bare),
    ]
    for label, token in rows:
        payload = qr.encode_payload(token)
        assert qr.decode_payload(payload) == token
        plain = f"v{version_or_none(token)} / {len(token)} ch"
        compact = f"v{version_or_none(payload)} / {len(payload)} ch"
        print(f"{label:44} {plain:>16} {compact:>16}")

    payload = qr.encode_payload(paper)
    version = qr.qr_version(payload)
    png = qr.render_png(payload)
    photo = camera_photo(png)
    assert qr.decode_image(photo) == payload
    print(f"\nTimes for the paper certificate's code (version {version}), {args.runs} runs")
    measures = [
        ("encode_payload", lambda: qr.encode_payload(paper)),
        ("decode_payload", lambda: qr.decode_payload(payload)),
        ("render_png (box 8, default mask)", lambda: qr.render_png(payload)),
        ("render_png (mask=None: ISO choice)", lambda: qr.render_png(payload, mask=None)),
        ("render_svg", lambda: qr.render_svg(payload)),
        ("decode_image (render_png output)", lambda: qr.decode_image(png)),
        ("decode_image (1280x960 photo PNG)", lambda: qr.decode_image(photo)),
    ]
    for label, func in measures:
        median, best = timed(func, args.runs)
        print(f"{label:40} median {median:6.1f} ms   best {best:6.1f} ms")


if __name__ == "__main__":
    main()
