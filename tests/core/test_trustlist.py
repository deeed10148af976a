"""Trust lists: source validation, signing, verification and the trust store's decisions."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from passerelle import errors, jose
from passerelle.keys import SigningKey, generate_key
from passerelle.trustlist import (
    TRUST_LIST_TYP,
    TrustList,
    TrustStore,
    build_trust_list,
    load_source,
    sign_trust_list,
    verify_trust_list,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "trust-list-source.yaml"
NOW = datetime(2026, 1, 1, tzinfo=UTC)
ANCHOR_ISS = "https://accreditation.example.ma"
OTHER_ANCHOR = "https://accreditation.example.sn"
ISSUER = "https://cfp.example.ma"
QUALIFICATION = "https://credentials.passerelle.org/types/qualification/v1"
SKILL = "https://credentials.passerelle.org/types/skill/v1"


def t(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# ---------------------------------------------------------------------------------------
# Factories


def private_jwk(key: SigningKey) -> dict[str, str]:
    raw = key.private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    return {**key.public.to_jwk(), "d": jose.b64url_encode(raw)}


def key_entry(key: SigningKey, **fields: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        **key.public.to_jwk(with_kid=True),
        "valid_from": "2024-01-01T00:00:00Z",
    }
    entry.update(fields)
    return entry


def issuer_entry(*keys: dict[str, Any], issuer_id: str = ISSUER, **fields: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": issuer_id,
        "names": {"fr": "Centre de formation", "ar": "مركز التكوين", "en": "Training centre"},
        "country": "MA",
        "accreditation": {
            "body": {"en": "Accreditation body"},
            "id": "MA-0001",
            "scope": [QUALIFICATION],
        },
        "status": "active",
        "valid_from": "2024-01-01T00:00:00Z",
        "jwks": {"keys": list(keys) or [key_entry(generate_key())]},
    }
    entry.update(fields)
    return entry


def make_source(
    *entries: dict[str, Any], iss: str = ANCHOR_ISS, jurisdiction: str = "MA"
) -> dict[str, Any]:
    return {"iss": iss, "jurisdiction": jurisdiction, "issuers": list(entries) or [issuer_entry()]}


def make_token(
    source: dict[str, Any],
    anchor: SigningKey,
    *,
    now: datetime = NOW,
    lifetime: timedelta = timedelta(days=30),
) -> str:
    return sign_trust_list(build_trust_list(source, now=now, lifetime=lifetime), anchor)


def make_list(
    *entries: dict[str, Any],
    anchor: SigningKey | None = None,
    iss: str = ANCHOR_ISS,
    jurisdiction: str = "MA",
    **kwargs: Any,
) -> TrustList:
    anchor = anchor or generate_key()
    token = make_token(make_source(*entries, iss=iss, jurisdiction=jurisdiction), anchor, **kwargs)
    return verify_trust_list(token, [anchor.public], now=kwargs.get("now", NOW))


def make_store(*entries: dict[str, Any]) -> TrustStore:
    return TrustStore.from_lists([make_list(*entries)])


def sign_raw(payload: dict[str, Any], anchor: SigningKey, typ: str | None = TRUST_LIST_TYP) -> str:
    """Sign without validation: what a buggy or hostile anchor could publish."""
    return jose.sign_compact(payload, anchor, typ=typ)


def valid_payload(**overrides: Any) -> dict[str, Any]:
    payload = build_trust_list(make_source(), now=NOW, lifetime=timedelta(days=30))
    payload.update(overrides)
    return payload


@pytest.fixture
def anchor() -> SigningKey:
    return generate_key()


# ---------------------------------------------------------------------------------------
# The example source, end to end


def test_example_source_builds_signs_verifies_and_resolves(anchor: SigningKey) -> None:
    source = load_source(EXAMPLE)
    token = make_token(source, anchor)
    trusted = verify_trust_list(token, [anchor.public], now=NOW)
    assert trusted.iss == "https://accreditation-fp.example.ma"
    assert trusted.jurisdiction == "MA"
    assert trusted.kid == anchor.kid
    assert trusted.exp - trusted.iat == timedelta(days=30)
    assert set(trusted.issuers) == {
        "https://cfp-casablanca.example.ma",
        "https://ista-tanger.example.ma",
    }

    store = TrustStore.from_lists([trusted])
    key, record = store.resolve(
        "https://cfp-casablanca.example.ma", None, vct=QUALIFICATION, issued_at=NOW, now=NOW
    )
    assert key.kid == "RaD3sbakAMwYJ4fSCLmqtbwswcKGmVXCEPNqwQnvXEg"
    assert record.names["ar"] == "مركز التكوين المهني الحي الحسني، الدار البيضاء"
    old, _ = store.resolve(
        "https://cfp-casablanca.example.ma",
        "c4kCZhAP3e7B8QE2BN1x5RakOVzhBCfQyPhLGni_XBc",
        vct=SKILL,
        issued_at=t("2025-03-01T00:00:00Z"),
        now=NOW,
    )
    assert old.alg == "EdDSA"
    with pytest.raises(errors.ScopeError):
        store.resolve(
            "https://ista-tanger.example.ma", None, vct=QUALIFICATION, issued_at=NOW, now=NOW
        )


def test_example_source_is_normalised() -> None:
    source = load_source(EXAMPLE)
    tanger = source["issuers"][1]
    # offsets become UTC, kid and alg are computed for the key that left them out
    assert tanger["valid_from"] == "2025-01-14T23:00:00Z"
    (key,) = tanger["jwks"]["keys"]
    assert key["alg"] == "ES256"
    assert key["kid"] == "GnB4ZBRDzGml5Ss0wDZHgiTZkCfsTUVqT6cC1xQ_Pzs"
    assert tanger["accreditation"]["id"] == "MA-FP-2025-0412"


def test_load_source_accepts_text_path_and_mapping() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    assert load_source(text) == load_source(EXAMPLE)
    assert load_source(load_source(EXAMPLE)) == load_source(EXAMPLE)


def test_build_payload_shape() -> None:
    payload = build_trust_list(make_source(), now=NOW, lifetime=3600)
    assert set(payload) == {"iss", "iat", "exp", "jurisdiction", "issuers"}
    assert payload["iat"] == int(NOW.timestamp())
    assert payload["exp"] == payload["iat"] + 3600
    key = payload["issuers"][0]["jwks"]["keys"][0]
    assert "d" not in key and key["valid_from"] == "2024-01-01T00:00:00Z"


@pytest.mark.parametrize("lifetime", [0, -5, timedelta(days=367)])
def test_build_rejects_bad_lifetime(lifetime: Any) -> None:
    with pytest.raises(errors.InvalidInputError):
        build_trust_list(make_source(), now=NOW, lifetime=lifetime)


def test_naive_now_is_refused() -> None:
    with pytest.raises(errors.InvalidInputError, match="timezone-aware"):
        build_trust_list(make_source(), now=datetime(2026, 1, 1), lifetime=60)


def test_issuer_record_json_is_public_information() -> None:
    record = make_store().resolve(ISSUER, None, vct=QUALIFICATION, issued_at=NOW, now=NOW)[1]
    out = record.to_json()
    assert out["trusted_by"] == {"anchor": ANCHOR_ISS, "jurisdiction": "MA"}
    assert out["accreditation"]["scope"] == [QUALIFICATION]
    assert "keys" not in out
    keys = record.to_json(include_keys=True)["keys"]
    assert all("d" not in k for k in keys)


# ---------------------------------------------------------------------------------------
# Source validation: clear errors naming the entry and the field


def _with_d(src: dict[str, Any]) -> None:
    src["issuers"][0]["jwks"]["keys"][0] = private_jwk(generate_key()) | {
        "valid_from": "2024-01-01T00:00:00Z"
    }


def _kid_mismatch(src: dict[str, Any]) -> None:
    src["issuers"][0]["jwks"]["keys"][0]["kid"] = generate_key().kid


def _duplicate_issuer(src: dict[str, Any]) -> None:
    src["issuers"].append(copy.deepcopy(src["issuers"][0]))


def _shared_key(src: dict[str, Any]) -> None:
    other = copy.deepcopy(src["issuers"][0])
    other["id"] = "https://other.example.ma"
    src["issuers"].append(other)


def _set(*path: Any, value: Any) -> Any:
    def mutate(src: dict[str, Any]) -> None:
        target = src
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = value

    return mutate


def _delete(*path: Any) -> Any:
    def mutate(src: dict[str, Any]) -> None:
        target = src
        for step in path[:-1]:
            target = target[step]
        del target[path[-1]]

    return mutate


KEY0 = ("issuers", 0, "jwks", "keys", 0)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (_delete("issuers", 0, "id"), r"issuers\[0\]: missing field\(s\) id"),
        (
            _set("issuers", 0, "country", value="Morocco"),
            r"issuers\[0\] \(https://cfp.example.ma\).country",
        ),
        (_set("issuers", 0, "country", value="ma"), "ISO 3166-1 alpha-2"),
        (_set("jurisdiction", value="MAR"), "jurisdiction"),
        (_set("issuers", 0, "status", value="revoked"), r"status: 'revoked' is not one of active"),
        (
            _with_d,
            r"\(https://cfp.example.ma\).jwks.keys\[0\]: contains the private part 'd'",
        ),
        (_kid_mismatch, "is not the key's RFC 7638 thumbprint"),
        (_duplicate_issuer, "issuer https://cfp.example.ma is listed twice"),
        (_shared_key, "is already listed for https://cfp.example.ma"),
        (_set("issuers", 0, "website", value="x"), r"unknown field\(s\) website"),
        (_set("issuers", 0, "valid_untill", value="2030-01-01T00:00:00Z"), "valid_untill"),
        (_set("comment", value="x"), r"trust list source: unknown field\(s\) comment"),
        (_set(*KEY0, "x5c", value=["abc"]), "x5c"),
        (_set("issuers", 0, "id", value="http://cfp.example.ma"), "is not an https URL"),
        (_set("issuers", 0, "id", value="https://cfp.example.ma#x"), "is not an https URL"),
        (_set("issuers", 0, "accreditation", "scope", value=[]), "non-empty list of vct URLs"),
        (_set("issuers", 0, "accreditation", "scope", value=[SKILL, SKILL]), "lists a vct twice"),
        (_set("issuers", 0, "accreditation", "id", value=173), "quote it"),
        (_set("issuers", 0, "names", value={}), "non-empty map"),
        (_set("issuers", 0, "names", value={"French": "x"}), "language tag"),
        (_set("issuers", 0, "valid_from", value="2024-01-01"), "RFC 3339"),
        (_set("issuers", 0, "valid_from", value="2024-01-01T00:00:00"), "RFC 3339"),
        (_set("issuers", 0, "valid_from", value="2024-02-30T00:00:00Z"), "not a real date-time"),
        (
            _set("issuers", 0, "valid_until", value="2023-01-01T00:00:00Z"),
            "valid_until must be after",
        ),
        (_set(*KEY0, "valid_until", value="2023-01-01T00:00:00Z"), "valid_until must be after"),
        (_delete(*KEY0, "valid_from"), r"missing field\(s\) valid_from"),
        (_set(*KEY0, "alg", value="ES256"), "does not match the key"),
        (_set(*KEY0, "use", value="enc"), "only signature keys"),
        (_set(*KEY0, "kty", value="RSA"), "not supported"),
        (_set(*KEY0, "x", value="AAAA"), r"jwks.keys\[0\]"),
        (_set("issuers", 0, "jwks", "keys", value=[]), "non-empty list of public JWKs"),
        (_set("issuers", value=[]), "issuers: must be a non-empty list"),
    ],
)
def test_source_rejections(mutate: Any, message: str) -> None:
    src = make_source()
    mutate(src)
    with pytest.raises(errors.TrustError, match=message):
        load_source(src)


def test_yaml_scalars_stay_text_and_duplicate_keys_are_refused() -> None:
    key = generate_key().public.to_jwk()
    text = f"""
iss: https://nokut.example.no
jurisdiction: NO
issuers:
  - id: https://fagskole.example.no
    names: {{nb: Fagskole, en: Vocational college}}
    country: NO
    accreditation: {{body: {{nb: NOKUT}}, id: 0173, scope: [{SKILL}]}}
    status: active
    valid_from: 2024-01-01T00:00:00Z
    jwks: {{keys: [{{kty: OKP, crv: Ed25519, x: {key["x"]}, valid_from: 2024-01-01T00:00:00Z}}]}}
"""
    source = load_source(text)
    assert source["jurisdiction"] == "NO"  # not False (YAML 1.1's "Norway problem")
    assert source["issuers"][0]["accreditation"]["id"] == "0173"  # not the octal 123
    with pytest.raises(errors.TrustError, match="duplicate key 'country'"):
        load_source(text.replace("    country: NO\n", "    country: NO\n    country: SE\n"))


def test_load_source_text_that_looks_like_a_path_gets_a_hint() -> None:
    with pytest.raises(errors.TrustError, match=r"pathlib\.Path"):
        load_source("examples/trust-list-source.yaml")


def test_load_source_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(errors.TrustError, match="cannot read"):
        load_source(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.json"
    bad.write_text('{"iss": 1, "iss": 2}', encoding="utf-8")
    with pytest.raises(errors.TrustError, match="duplicate key"):
        load_source(bad)


# ---------------------------------------------------------------------------------------
# Verification of a signed list


def test_verify_accepts_int_now_and_leeway(anchor: SigningKey) -> None:
    token = make_token(make_source(), anchor, lifetime=timedelta(hours=1))
    at_expiry = int(NOW.timestamp()) + 3600
    assert verify_trust_list(token, [anchor.public], now=at_expiry + 59).token == token
    with pytest.raises(errors.TrustListExpiredError, match="expired at 2026-01-01T01:00:00Z"):
        verify_trust_list(token, [anchor.public], now=at_expiry + 60)


def test_tampered_list_is_refused(anchor: SigningKey) -> None:
    header, payload, signature = make_token(make_source(), anchor).split(".")
    forged = jose.json_loads_object(jose.b64url_decode(payload))
    forged["issuers"][0]["accreditation"]["scope"].append(SKILL)
    token = ".".join([header, jose.b64url_encode(jose.json_dumps(forged)), signature])
    with pytest.raises(errors.SignatureError):
        verify_trust_list(token, [anchor.public], now=NOW)


def test_expired_list_is_refused(anchor: SigningKey) -> None:
    token = make_token(make_source(), anchor)
    with pytest.raises(errors.TrustListExpiredError):
        verify_trust_list(token, [anchor.public], now=NOW + timedelta(days=31))


def test_wrong_typ_is_refused(anchor: SigningKey) -> None:
    with pytest.raises(errors.TypError):
        verify_trust_list(sign_raw(valid_payload(), anchor, typ="JWT"), [anchor.public], now=NOW)
    with pytest.raises(errors.TypError):
        verify_trust_list(sign_raw(valid_payload(), anchor, typ=None), [anchor.public], now=NOW)


def test_unknown_anchor_is_refused(anchor: SigningKey) -> None:
    token = make_token(make_source(), anchor)
    with pytest.raises(errors.TrustAnchorError, match=anchor.kid):
        verify_trust_list(token, [generate_key().public, generate_key("ES256").public], now=NOW)
    with pytest.raises(errors.TrustAnchorError):
        verify_trust_list(token, [], now=NOW)


def test_kid_is_required(anchor: SigningKey) -> None:
    token = jose.sign_compact(valid_payload(), anchor, typ=TRUST_LIST_TYP, include_kid=False)
    with pytest.raises(errors.HeaderError):
        verify_trust_list(token, [anchor.public], now=NOW)


def test_listed_key_with_private_part_is_refused(anchor: SigningKey) -> None:
    payload = valid_payload()
    listed = payload["issuers"][0]["jwks"]["keys"][0]
    listed["d"] = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
    with pytest.raises(errors.TrustError, match="private part 'd'"):
        sign_trust_list(payload, anchor)  # never signed by us...
    with pytest.raises(errors.TrustError, match=r"issuers\[0\] \(https://cfp.example.ma\)"):
        verify_trust_list(sign_raw(payload, anchor), [anchor.public], now=NOW)  # ...nor accepted


def test_list_issued_in_the_future_is_refused(anchor: SigningKey) -> None:
    token = make_token(make_source(), anchor, now=NOW + timedelta(minutes=5))
    with pytest.raises(errors.TrustError, match="issued in the future") as info:
        verify_trust_list(token, [anchor.public], now=NOW)
    assert info.value.code == "trust_list_invalid"
    assert verify_trust_list(token, [anchor.public], now=NOW, leeway=600).iss == ANCHOR_ISS


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"iat": "2026-01-01T00:00:00Z"}, "iat: must be a NumericDate"),
        ({"exp": True}, "exp: must be a NumericDate"),
        ({"exp": int(NOW.timestamp())}, "exp: must be after iat"),
        ({"exp": int(NOW.timestamp()) + 400 * 86400}, "at most 366 days"),
        ({"version": 2}, r"unknown field\(s\) version"),
    ],
)
def test_payload_rejections(anchor: SigningKey, change: dict[str, Any], message: str) -> None:
    token = sign_raw(valid_payload(**change), anchor)
    with pytest.raises(errors.TrustError, match=message):
        verify_trust_list(token, [anchor.public], now=NOW)


def test_signed_payload_times_must_be_canonical(anchor: SigningKey) -> None:
    payload = valid_payload()
    payload["issuers"][0]["valid_from"] = "2024-01-01T01:00:00+01:00"  # fine in a source only
    with pytest.raises(errors.TrustError, match="exactly YYYY-MM-DDTHH:MM:SSZ"):
        verify_trust_list(sign_raw(payload, anchor), [anchor.public], now=NOW)


def test_signed_payload_requires_kid(anchor: SigningKey) -> None:
    payload = valid_payload()
    del payload["issuers"][0]["jwks"]["keys"][0]["kid"]
    with pytest.raises(errors.TrustError, match=r"missing field\(s\) kid"):
        verify_trust_list(sign_raw(payload, anchor), [anchor.public], now=NOW)


# ---------------------------------------------------------------------------------------
# Several lists


def test_conflicting_duplicate_across_two_lists_is_refused() -> None:
    key = key_entry(generate_key())
    first = make_list(issuer_entry(key))
    second = make_list(issuer_entry(key, status="suspended"), iss=OTHER_ANCHOR, jurisdiction="SN")
    with pytest.raises(errors.TrustConflictError, match=ISSUER):
        TrustStore.from_lists([first, second])


def test_identical_duplicate_across_two_lists_is_accepted() -> None:
    entry = issuer_entry()
    short = make_list(entry, lifetime=timedelta(days=1))
    long = make_list(entry, iss=OTHER_ANCHOR, jurisdiction="SN", lifetime=timedelta(days=60))
    store = TrustStore.from_lists([short, long])
    assert len(store.lists) == 2 and len(store.issuers()) == 1
    # the first list has expired, the second still vouches for the issuer
    later = NOW + timedelta(days=10)
    store.resolve(ISSUER, None, vct=QUALIFICATION, issued_at=NOW, now=later)
    with pytest.raises(errors.TrustListExpiredError):
        store.resolve(ISSUER, None, vct=QUALIFICATION, issued_at=NOW, now=NOW + timedelta(days=61))


def test_latest_list_of_an_anchor_wins(anchor: SigningKey) -> None:
    key = key_entry(generate_key())
    old = make_list(issuer_entry(key), anchor=anchor)
    new = make_list(
        issuer_entry(key, status="withdrawn"), anchor=anchor, now=NOW + timedelta(days=1)
    )
    for lists in ([old, new], [new, old]):
        store = TrustStore.from_lists(lists)
        assert store.lists == (new,)
        with pytest.raises(errors.IssuerUntrustedError, match="withdrawn"):
            store.resolve(
                ISSUER, None, vct=QUALIFICATION, issued_at=NOW, now=NOW + timedelta(days=1)
            )


def test_two_different_lists_of_one_anchor_at_the_same_time_conflict(anchor: SigningKey) -> None:
    key = key_entry(generate_key())
    one = make_list(issuer_entry(key), anchor=anchor)
    two = make_list(issuer_entry(key, status="suspended"), anchor=anchor)
    with pytest.raises(errors.TrustConflictError):
        TrustStore.from_lists([one, two])


# ---------------------------------------------------------------------------------------
# TrustStore.resolve: every decision


def test_resolve_unlisted_issuer() -> None:
    with pytest.raises(errors.IssuerUntrustedError, match="in no trusted list"):
        make_store().resolve(
            "https://fake.example.ma", None, vct=QUALIFICATION, issued_at=NOW, now=NOW
        )
    with pytest.raises(errors.IssuerUntrustedError):
        TrustStore().resolve(ISSUER, None, vct=QUALIFICATION, issued_at=NOW, now=NOW)


@pytest.mark.parametrize("status", ["withdrawn", "suspended"])
def test_resolve_inactive_issuer(status: str) -> None:
    store = make_store(issuer_entry(status=status))
    with pytest.raises(errors.IssuerUntrustedError, match=status) as info:
        store.resolve(ISSUER, None, vct=QUALIFICATION, issued_at=NOW, now=NOW)
    assert info.value.code == "issuer_untrusted"


def test_resolve_vct_out_of_scope() -> None:
    with pytest.raises(errors.ScopeError, match=SKILL):
        make_store().resolve(ISSUER, None, vct=SKILL, issued_at=NOW, now=NOW)


def test_resolve_outside_the_accreditation_period() -> None:
    store = make_store(
        issuer_entry(valid_from="2025-01-01T00:00:00Z", valid_until="2025-07-01T00:00:00Z")
    )
    store.resolve(ISSUER, None, vct=QUALIFICATION, issued_at=t("2025-03-01T00:00:00Z"), now=NOW)
    for issued in ("2024-12-31T23:59:59Z", "2025-07-01T00:00:00Z"):
        with pytest.raises(errors.IssuerUntrustedError, match="not at issuance"):
            store.resolve(ISSUER, None, vct=QUALIFICATION, issued_at=t(issued), now=NOW)


def test_resolve_key_not_yet_valid_at_issuance() -> None:
    signer = generate_key()
    store = make_store(issuer_entry(key_entry(signer, valid_from="2025-06-01T00:00:00Z")))
    with pytest.raises(errors.KeyValidityError) as info:
        store.resolve(
            ISSUER, signer.kid, vct=QUALIFICATION, issued_at=t("2025-05-31T23:59:59Z"), now=NOW
        )
    assert info.value.code == "key_not_valid_at_issuance"
    key, _ = store.resolve(
        ISSUER, signer.kid, vct=QUALIFICATION, issued_at=t("2025-06-01T00:00:00Z"), now=NOW
    )
    assert key.kid == signer.kid


def test_resolve_key_expired_before_issuance() -> None:
    signer = generate_key()
    store = make_store(issuer_entry(key_entry(signer, valid_until="2025-06-01T00:00:00Z")))
    store.resolve(
        ISSUER, signer.kid, vct=QUALIFICATION, issued_at=t("2025-05-31T23:59:59Z"), now=NOW
    )
    with pytest.raises(errors.KeyValidityError, match="not at issuance"):
        store.resolve(
            ISSUER, signer.kid, vct=QUALIFICATION, issued_at=t("2025-06-01T00:00:00Z"), now=NOW
        )


def test_resolve_key_compromised() -> None:
    signer = generate_key()
    store = make_store(issuer_entry(key_entry(signer, compromised_at="2025-06-01T00:00:00Z")))
    for issued in ("2025-06-01T00:00:00Z", "2025-09-01T00:00:00Z"):
        with pytest.raises(
            errors.KeyCompromisedError, match="compromised since 2025-06-01T00:00:00Z"
        ):
            store.resolve(ISSUER, signer.kid, vct=QUALIFICATION, issued_at=t(issued), now=NOW)
    # issued before the compromise: still fine
    key, _ = store.resolve(
        ISSUER, signer.kid, vct=QUALIFICATION, issued_at=t("2025-05-31T23:59:59Z"), now=NOW
    )
    assert key.kid == signer.kid


def test_resolve_unknown_kid() -> None:
    with pytest.raises(errors.KeyNotFoundError, match="not listed"):
        make_store().resolve(ISSUER, generate_key().kid, vct=QUALIFICATION, issued_at=NOW, now=NOW)


def test_resolve_without_kid() -> None:
    old, new = generate_key(), generate_key()
    store = make_store(
        issuer_entry(
            key_entry(old, valid_from="2024-06-01T00:00:00Z", valid_until="2025-07-01T00:00:00Z"),
            key_entry(
                new, valid_from="2025-06-01T00:00:00Z", compromised_at="2025-12-01T00:00:00Z"
            ),
        )
    )

    def kid_at(issued: str) -> str:
        return store.resolve(ISSUER, None, vct=QUALIFICATION, issued_at=t(issued), now=NOW)[0].kid

    assert kid_at("2025-01-01T00:00:00Z") == old.kid
    assert kid_at("2025-08-01T00:00:00Z") == new.kid
    with pytest.raises(errors.KeyNotFoundError, match="must name its kid"):
        kid_at("2025-06-15T00:00:00Z")  # both keys valid: ambiguous
    with pytest.raises(errors.KeyCompromisedError):
        kid_at("2025-12-15T00:00:00Z")  # the only key valid then is compromised
    with pytest.raises(errors.KeyValidityError):
        kid_at("2024-03-01T00:00:00Z")  # accredited, but no key yet


def test_resolve_when_the_list_has_expired() -> None:
    store = make_store()
    with pytest.raises(errors.TrustListExpiredError):
        store.resolve(ISSUER, None, vct=QUALIFICATION, issued_at=NOW, now=NOW + timedelta(days=31))


def test_resolve_accepts_int_and_datetime_alike() -> None:
    store = make_store()
    epoch = int(NOW.timestamp())
    by_int = store.resolve(ISSUER, None, vct=QUALIFICATION, issued_at=epoch, now=epoch)
    by_datetime = store.resolve(ISSUER, None, vct=QUALIFICATION, issued_at=NOW, now=NOW)
    assert by_int[0].kid == by_datetime[0].kid and by_int[1] == by_datetime[1]


# ---------------------------------------------------------------------------------------
# The resolver seam of passerelle.jose


def _credential_like(signer: SigningKey, **claims: Any) -> str:
    payload = {"iss": ISSUER, "vct": QUALIFICATION, "iat": int(NOW.timestamp())} | claims
    return jose.sign_compact(payload, signer, typ="dc+sd-jwt")


def test_key_resolver_for_decode_compact() -> None:
    signer = generate_key()
    store = make_store(issuer_entry(key_entry(signer)))
    resolver = store.key_resolver(now=NOW)
    jws = jose.decode_compact(_credential_like(signer), resolver)
    assert jws.payload["iss"] == ISSUER
    forger = generate_key()
    with pytest.raises(errors.KeyNotFoundError):
        jose.decode_compact(_credential_like(forger), resolver)
    with pytest.raises(errors.ScopeError):
        jose.decode_compact(_credential_like(signer, vct=SKILL), resolver)
    with pytest.raises(errors.ClaimsError):
        jose.decode_compact(_credential_like(signer, iat="yesterday"), resolver)


def test_key_resolver_with_the_credential_vct() -> None:
    """A Status List Token carries no vct: the verifier passes the credential's."""
    signer = generate_key()
    store = make_store(issuer_entry(key_entry(signer)))
    status_token = jose.sign_compact(
        {"iss": ISSUER, "iat": int(NOW.timestamp())}, signer, typ="statuslist+jwt"
    )
    jose.decode_compact(status_token, store.key_resolver(now=NOW, vct=QUALIFICATION))
    with pytest.raises(errors.ClaimsError):
        jose.decode_compact(status_token, store.key_resolver(now=NOW))
