"""passerelle.sdjwt against published vectors (sources in tests/vectors/*/README.md).

* 01_sd_jwt: RFC 9901 examples (sections 4.2, 5, A.3) and the 16 end-to-end cases of
  openwallet-foundation-labs/sd-jwt-python v0.10.4 (``sd_jwt_python_testcases``), run with
  our code and cross-checked against the ``sd-jwt`` library in both directions.
* 02_sd_jwt_vc: the SD-JWT VC draft's figures.

KB-JWT ``iat`` values lie in 2025 and 2026, so ``now`` is pinned to each KB-JWT's ``iat``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from itertools import zip_longest
from pathlib import Path
from typing import Any

import pytest
import yaml

from passerelle import errors, jose, sdjwt
from passerelle.encoding import sha256_b64url
from passerelle.keys import PublicKey, SigningKey
from tests.core.conftest import VECTORS, load_json, load_text

SD_JWT = VECTORS / "01_sd_jwt"
SD_JWT_VC = VECTORS / "02_sd_jwt_vc"
CASES = SD_JWT / "sd_jwt_python_testcases"
SPEC_NONCE = "1234567890"


def kb_payload(token: str) -> dict[str, Any]:
    kb_jwt = sdjwt.parse(token).kb_jwt
    assert kb_jwt is not None
    return jose.parse_compact(kb_jwt).payload


# ---------------------------------------------------------------------------------------
# Disclosures and digests (sections 4.2.1 - 4.2.3)


def test_disclosure_digest_example() -> None:
    example = load_json(SD_JWT / "disclosure_digest_example.json")
    prop = example["object_property"]
    disclosure = sdjwt.Disclosure.parse(prop["disclosure"])
    assert disclosure.digest == prop["expected_sha256_digest_b64url"]
    assert [disclosure.salt, disclosure.name, disclosure.value] == json.loads(
        prop["array_as_printed"]
    )
    created = sdjwt.Disclosure.create("_26bc4LT-ac6q2KI6cBW5es", "family_name", "Möbius")
    assert created.encoded == prop["disclosure"]
    assert created.digest == prop["expected_sha256_digest_b64url"]


def test_equivalent_encodings_decode_alike_but_digest_differently() -> None:
    prop = load_json(SD_JWT / "disclosure_digest_example.json")["object_property"]
    reference = sdjwt.Disclosure.parse(prop["disclosure"])
    digests = {reference.digest}
    for encoded in prop["equivalent_encodings_same_claim"].values():
        variant = sdjwt.Disclosure.parse(encoded)
        assert (variant.salt, variant.name, variant.value) == (
            reference.salt,
            reference.name,
            reference.value,
        )
        digests.add(variant.digest)
    assert len(digests) == 4


def test_array_element_disclosure_example() -> None:
    element = load_json(SD_JWT / "disclosure_digest_example.json")["array_element"]
    disclosure = sdjwt.Disclosure.parse(element["disclosure"])
    assert disclosure.name is None
    assert [disclosure.salt, disclosure.value] == json.loads(element["array_as_printed"])
    assert sdjwt.Disclosure.create(disclosure.salt, None, "FR").encoded == element["disclosure"]


@pytest.mark.parametrize("name", ["simple_disclosures.json", "pid_disclosures.json"])
def test_disclosures_reproduced_from_salt_name_value(name: str) -> None:
    for entry in load_json(SD_JWT / name):
        contents = json.loads(entry["contents_as_printed"])
        salt, claim, value = contents if len(contents) == 3 else (contents[0], None, contents[1])
        parsed = sdjwt.Disclosure.parse(entry["disclosure"])
        assert (parsed.salt, parsed.name, parsed.value) == (salt, claim, value)
        assert parsed.digest == entry["sha256_digest"]
        if "\\u" in jose.b64url_decode(entry["disclosure"]).decode():
            # A.3 was generated with ASCII escapes ("\u00df"); we keep UTF-8 (section 4.2.1)
            assert "\\u" not in json.dumps(value, ensure_ascii=False)
            continue
        created = sdjwt.Disclosure.create(salt, claim, value)
        assert created.encoded == entry["disclosure"]
        assert created == parsed


# ---------------------------------------------------------------------------------------
# Section 5: issuance reproduced, issuance and presentation verified


def simple_claims_marked() -> dict[Any, Any]:
    """simple_user_claims.json marked as in section 5.1, with the registered claims."""
    user = load_json(SD_JWT / "simple_user_claims.json")
    payload = load_json(SD_JWT / "simple_sd_jwt_payload.json")
    claims: dict[Any, Any] = {k: payload[k] for k in ("iss", "iat", "exp")}
    for name, value in user.items():
        if name == "sub":
            claims[name] = value
        elif name == "nationalities":
            claims[name] = [sdjwt.SD(v) for v in value]
        else:
            claims[sdjwt.SD(name)] = value
    claims["cnf"] = payload["cnf"]
    return claims


def spec_salts(name: str) -> Iterator[str]:
    for entry in load_json(SD_JWT / name):
        yield json.loads(entry["contents_as_printed"])[0]


def test_simple_issuer_payload_reproduced(spec_issuer_key: SigningKey) -> None:
    salts = spec_salts("simple_disclosures.json")
    issued = sdjwt.issue(
        simple_claims_marked(),
        spec_issuer_key,
        typ="example+sd-jwt",
        salt_factory=lambda: next(salts),
    )
    assert issued.payload == load_json(SD_JWT / "simple_sd_jwt_payload.json")
    expected = [d["disclosure"] for d in load_json(SD_JWT / "simple_disclosures.json")]
    assert [d.encoded for d in issued.disclosures] == expected
    assert jose.parse_compact(issued.jwt).payload == issued.payload


def test_decoy_digests_injected_and_sorted(spec_issuer_key: SigningKey) -> None:
    salts = spec_salts("simple_disclosures.json")
    decoys = iter(["zz-decoy-1", "AA-decoy-2", "mm-decoy-3", "00-decoy-4"])
    issued = sdjwt.issue(
        simple_claims_marked(),
        spec_issuer_key,
        typ="example+sd-jwt",
        salt_factory=lambda: next(salts),
        decoys=2,
        decoy_factory=lambda: next(decoys),
    )
    expected = load_json(SD_JWT / "simple_sd_jwt_payload.json")["_sd"] + [
        "zz-decoy-1",
        "AA-decoy-2",
    ]
    assert issued.payload["_sd"] == sorted(expected)
    assert (
        issued.payload["nationalities"]
        == load_json(SD_JWT / "simple_sd_jwt_payload.json")["nationalities"]
    )  # arrays get no decoys
    verified = sdjwt.verify(issued.compact, spec_issuer_key.public)
    assert verified.claims["family_name"] == "Doe"


def test_simple_issuance_verifies_with_all_disclosures(spec_issuer_public: PublicKey) -> None:
    token = load_text(SD_JWT / "simple_sd_jwt_issuance.txt")
    verified = sdjwt.verify(token, spec_issuer_public, typ="example+sd-jwt")
    payload = load_json(SD_JWT / "simple_sd_jwt_payload.json")
    expected = load_json(SD_JWT / "simple_user_claims.json")
    expected.update({k: payload[k] for k in ("iss", "iat", "exp", "cnf")})
    assert verified.claims == expected
    assert verified.payload == payload
    assert verified.kb_payload is None
    assert sdjwt.parse(token).issuer_jwt == load_text(SD_JWT / "simple_issuer_signed_jwt.txt")


@pytest.mark.parametrize("prefix", ["simple", "pid"])
def test_presentation_with_key_binding(spec_issuer_public: PublicKey, prefix: str) -> None:
    token = load_text(SD_JWT / f"{prefix}_presentation_sd_jwt_kb.txt")
    expected_kb = load_json(SD_JWT / f"{prefix}_kb_jwt_payload.json")
    verified = sdjwt.verify(
        token,
        spec_issuer_public,
        nonce=expected_kb["nonce"],
        audience=expected_kb["aud"],
        now=expected_kb["iat"],
    )
    assert verified.claims == load_json(SD_JWT / f"{prefix}_verified_payload.json")
    assert verified.kb_payload == expected_kb
    assert sha256_b64url(sdjwt.parse(token).sd_hash_input.encode()) == expected_kb["sd_hash"]


def test_pid_issuance_verifies_with_all_disclosures(spec_issuer_public: PublicKey) -> None:
    token = load_text(SD_JWT / "pid_sd_jwt_issuance.txt")
    verified = sdjwt.verify(token, spec_issuer_public, typ="dc+sd-jwt")
    payload = load_json(SD_JWT / "pid_sd_jwt_payload.json")
    assert verified.payload == payload
    expected = load_json(SD_JWT / "pid_user_claims.json")
    expected.update({k: payload[k] for k in ("iat", "exp", "cnf")})
    assert verified.claims == expected


# ---------------------------------------------------------------------------------------
# 02: SD-JWT VC figures


def test_vc_issuance_fig07(spec_issuer_public: PublicKey) -> None:
    token = load_text(SD_JWT_VC / "fig07_sd_jwt_vc_issuance.txt")
    verified = sdjwt.verify(token, spec_issuer_public, typ="dc+sd-jwt")
    payload = load_json(SD_JWT_VC / "fig06_sd_jwt_payload.json")
    assert verified.payload == payload
    assert verified.header["typ"] == "dc+sd-jwt"
    expected = load_json(SD_JWT_VC / "fig05_user_claims.json")
    expected.update({k: payload[k] for k in ("iss", "iat", "exp", "cnf")})
    assert verified.claims == expected
    assert len(sdjwt.parse(token).disclosures) == 9


@pytest.mark.parametrize(
    ("presentation", "kb", "output"),
    [
        ("fig08_presentation_sd_jwt_kb.txt", None, "fig09_verified_payload_kb.json"),
        (
            "figA1_26_pid_presentation_sd_jwt_kb.txt",
            "figA1_27_pid_kb_jwt_payload.json",
            "figA1_28_pid_verified_payload.json",
        ),
    ],
)
def test_vc_presentations_with_key_binding(
    spec_issuer_public: PublicKey, presentation: str, kb: str | None, output: str
) -> None:
    token = load_text(SD_JWT_VC / presentation)
    kb_claims = kb_payload(token)
    if kb is not None:
        assert kb_claims == load_json(SD_JWT_VC / kb)
    assert kb_claims["aud"] == "https://example.com/verifier"
    verified = sdjwt.verify(
        token,
        spec_issuer_public,
        typ="dc+sd-jwt",
        nonce=SPEC_NONCE,
        audience="https://example.com/verifier",
        now=kb_claims["iat"],
    )
    assert verified.claims == load_json(SD_JWT_VC / output)


def test_vc_presentation_fig08_iat_pinned(spec_issuer_public: PublicKey) -> None:
    token = load_text(SD_JWT_VC / "fig08_presentation_sd_jwt_kb.txt")
    assert kb_payload(token)["iat"] == 1787325881
    with pytest.raises(errors.KeyBindingTimeError):
        sdjwt.verify(
            token, spec_issuer_public, nonce=SPEC_NONCE,
            audience="https://example.com/verifier", now=1787325881 - 3600,
        )  # fmt: skip


def test_vc_presentation_without_key_binding_fig10(spec_issuer_public: PublicKey) -> None:
    token = load_text(SD_JWT_VC / "fig10_presentation_no_kb.txt")
    verified = sdjwt.verify(token, spec_issuer_public, typ=("dc+sd-jwt", "vc+sd-jwt"))
    assert verified.claims == load_json(SD_JWT_VC / "fig11_verified_payload_no_kb.json")
    assert "kid" not in verified.header
    with pytest.raises(errors.KeyBindingError):
        sdjwt.verify(token, spec_issuer_public, require_key_binding=True, nonce="n", audience="a")


def test_vc_pid_issuance_figA1_24(spec_issuer_public: PublicKey) -> None:
    token = load_text(SD_JWT_VC / "figA1_24_pid_issued_sd_jwt.txt")
    verified = sdjwt.verify(token, spec_issuer_public, typ="dc+sd-jwt")
    assert verified.payload == load_json(SD_JWT_VC / "figA1_25_pid_sd_jwt_payload.json")
    assert "Ændgard" in json.dumps(verified.claims, ensure_ascii=False)


# ---------------------------------------------------------------------------------------
# sd-jwt-python end-to-end cases, with `!sd` YAML tags


class _SpecLoader(yaml.SafeLoader):
    """SafeLoader where ``!sd`` wraps the tagged key or element in :class:`sdjwt.SD`."""


def _construct_sd(loader: yaml.SafeLoader, node: yaml.Node) -> sdjwt.SD:
    if isinstance(node, yaml.MappingNode):
        return sdjwt.SD(loader.construct_mapping(node, deep=True))
    if isinstance(node, yaml.SequenceNode):
        return sdjwt.SD(loader.construct_sequence(node, deep=True))
    assert isinstance(node, yaml.ScalarNode)
    # the explicit tag hides the implicit type: resolve it as if untagged (quoted: a string)
    tag = loader.resolve(yaml.ScalarNode, node.value, (node.style is None, False))
    plain = yaml.ScalarNode(tag, node.value, node.start_mark, node.end_mark, node.style)
    return sdjwt.SD(loader.construct_object(plain, deep=True))


_SpecLoader.add_constructor("!sd", _construct_sd)


def load_case(name: str) -> dict[str, Any]:
    return yaml.load((CASES / name / "specification.yml").read_text(), Loader=_SpecLoader)


SETTINGS = yaml.safe_load((CASES / "settings.yml").read_text())
CASE_NAMES = sorted(p.name for p in CASES.iterdir() if (p / "specification.yml").exists())
ISSUER = SETTINGS["identifiers"]["issuer"]
VERIFIER = SETTINGS["identifiers"]["verifier"]
KB_IAT = 1_700_000_000


def test_yaml_loader_marks() -> None:
    data = yaml.load("a: [!sd 42, !sd '42', !sd null, !sd {x: 1}]\n!sd 'b': 1", Loader=_SpecLoader)
    assert data == {
        "a": [sdjwt.SD(42), sdjwt.SD("42"), sdjwt.SD(None), sdjwt.SD({"x": 1})],
        sdjwt.SD("b"): 1,
    }


def paths_to_disclose(claims: Any, spec: Any, path: sdjwt.ClaimPath = ()) -> list[sdjwt.ClaimPath]:
    """Translate ``holder_disclosed_claims`` (sd-jwt-python's shape) into claim paths."""
    found: list[sdjwt.ClaimPath] = []
    if isinstance(claims, dict):
        spec = {} if spec is True or not isinstance(spec, dict) else spec
        for key, value in claims.items():
            name = key.value if isinstance(key, sdjwt.SD) else key
            wanted = spec.get(name)
            if isinstance(key, sdjwt.SD) and wanted:
                found.append((*path, name))
            found += paths_to_disclose(value, wanted, (*path, name))
    elif isinstance(claims, list):
        spec = [] if spec is True or not isinstance(spec, list) else spec
        for index, (element, wanted) in enumerate(zip_longest(claims, spec)):
            if index >= len(claims):
                break
            if isinstance(element, sdjwt.SD):
                if wanted in (False, None):
                    continue
                found.append((*path, index))
                element = element.value
            found += paths_to_disclose(element, wanted, (*path, index))
    return found


def expected_claims(case: dict[str, Any], holder: SigningKey) -> dict[str, Any]:
    expected = {"iss": ISSUER, **case["expect_verified_user_claims"]}
    if case.get("key_binding"):
        expected["cnf"] = {"jwk": holder.public.to_jwk()}
    return expected


def our_issuance(case: dict[str, Any], issuer: SigningKey, holder: SigningKey) -> sdjwt.IssuedSdJwt:
    claims: dict[Any, Any] = {"iss": ISSUER, **case["user_claims"]}
    if case.get("key_binding"):
        claims["cnf"] = {"jwk": holder.public.to_jwk()}
    extra = case.get("extra_header_parameters")
    return sdjwt.issue(
        claims, issuer, typ="example+sd-jwt", extra_header=extra, include_kid=extra is None
    )


def our_presentation(case: dict[str, Any], issued: str, holder: SigningKey) -> str:
    paths = paths_to_disclose(case["user_claims"], case["holder_disclosed_claims"])
    if case.get("key_binding"):
        return sdjwt.present(
            issued, paths, holder_key=holder, nonce=SPEC_NONCE, audience=VERIFIER, iat=KB_IAT
        )
    return sdjwt.present(issued, paths)


def our_verification(case: dict[str, Any], presentation: str, issuer: PublicKey) -> dict[str, Any]:
    if case.get("key_binding"):
        verified = sdjwt.verify(
            presentation, issuer, nonce=SPEC_NONCE, audience=VERIFIER, now=KB_IAT + 5
        )
        assert verified.kb_payload is not None
    else:
        verified = sdjwt.verify(presentation, issuer)
    return verified.claims


@pytest.mark.parametrize("fmt", ["compact", "json"])
@pytest.mark.parametrize("name", CASE_NAMES)
def test_reference_case_round_trip(
    name: str, fmt: str, spec_issuer_key: SigningKey, spec_holder_key: SigningKey
) -> None:
    case = load_case(name)
    issued = our_issuance(case, spec_issuer_key, spec_holder_key)
    serialized = issued.compact if fmt == "compact" else issued.to_json()
    presentation = our_presentation(case, serialized, spec_holder_key)
    assert presentation.startswith("{") == (fmt == "json")
    claims = our_verification(case, presentation, spec_issuer_key.public)
    assert claims == expected_claims(case, spec_holder_key)


def test_reference_case_general_json(
    spec_issuer_key: SigningKey, spec_holder_key: SigningKey
) -> None:
    case = load_case("json_serialization")
    issued = our_issuance(case, spec_issuer_key, spec_holder_key).to_json(general=True)
    presentation = our_presentation(case, issued, spec_holder_key)
    assert "signatures" in json.loads(presentation)
    claims = our_verification(case, presentation, spec_issuer_key.public)
    assert claims == expected_claims(case, spec_holder_key)


# -- cross-checks with the sd-jwt reference library (compact serialization) ---------------
# sd-jwt 0.10.4 predates RFC 9901 section 8: its JSON serialization puts `disclosures` at
# the top level and hashes the JSON text for sd_hash, so only the compact form is compared.

sd_jwt_lib = pytest.importorskip("sd_jwt")


def to_sdobj(value: Any) -> Any:
    from sd_jwt.common import SDObj

    if isinstance(value, sdjwt.SD):
        return SDObj(to_sdobj(value.value))
    if isinstance(value, dict):
        return {to_sdobj(k): to_sdobj(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_sdobj(v) for v in value]
    return value


def jwcrypto_key(jwk: dict[str, str]) -> Any:
    from jwcrypto.jwk import JWK

    return JWK.from_json(json.dumps(jwk))


@pytest.mark.parametrize("name", CASE_NAMES)
def test_ours_verified_by_reference(
    name: str, spec_issuer_key: SigningKey, spec_holder_key: SigningKey
) -> None:
    from sd_jwt.verifier import SDJWTVerifier

    case = load_case(name)
    issued = our_issuance(case, spec_issuer_key, spec_holder_key)
    presentation = our_presentation(case, issued.compact, spec_holder_key)
    issuer_public = jwcrypto_key(spec_issuer_key.public.to_jwk())
    bound = bool(case.get("key_binding"))
    verifier = SDJWTVerifier(
        presentation,
        lambda iss, header: issuer_public,
        VERIFIER if bound else None,
        SPEC_NONCE if bound else None,
    )
    assert verifier.get_verified_payload() == expected_claims(case, spec_holder_key)


@pytest.mark.parametrize("name", CASE_NAMES)
def test_reference_verified_by_ours(
    name: str,
    spec_issuer_key: SigningKey,
    spec_holder_key: SigningKey,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import sd_jwt.holder
    from sd_jwt.holder import SDJWTHolder
    from sd_jwt.issuer import SDJWTIssuer

    monkeypatch.setattr(sd_jwt.holder, "time", lambda: KB_IAT)  # pins the KB-JWT iat
    case = load_case(name)
    settings = SETTINGS["key_settings"]
    issuer_jwk, holder_jwk = (jwcrypto_key(settings[k]) for k in ("issuer_key", "holder_key"))
    bound = bool(case.get("key_binding"))
    issuer = SDJWTIssuer(
        to_sdobj({"iss": ISSUER, **case["user_claims"]}),
        issuer_jwk,
        holder_key=holder_jwk if bound else None,
        extra_header_parameters=case.get("extra_header_parameters", {}),
    )
    holder = SDJWTHolder(issuer.sd_jwt_issuance)
    holder.create_presentation(
        case["holder_disclosed_claims"],
        nonce=SPEC_NONCE if bound else None,
        aud=VERIFIER if bound else None,
        holder_key=holder_jwk if bound else None,
    )
    claims = our_verification(case, holder.sd_jwt_presentation, spec_issuer_key.public)
    assert claims == expected_claims(case, spec_holder_key)


def test_reference_json_layout_is_refused(spec_issuer_key: SigningKey) -> None:
    from sd_jwt.issuer import SDJWTIssuer

    issuer = SDJWTIssuer(
        to_sdobj({"iss": ISSUER, sdjwt.SD("a"): 1}),
        jwcrypto_key(SETTINGS["key_settings"]["issuer_key"]),
        serialization_format="json",
    )
    with pytest.raises(errors.TokenFormatError, match="unprotected header"):
        sdjwt.parse(issuer.sd_jwt_issuance)


def test_case_list_complete() -> None:
    assert len(CASE_NAMES) == 16
    assert Path(CASES / "settings.yml").exists()
