"""IETF Token Status List: the draft's vectors, encoding rules, tokens, limits, allocation.

Vectors: tests/vectors/03_token_status_list (oauth-wg/draft-ietf-oauth-status-list, commit
2fb61cd5; see its README.md).
"""

from __future__ import annotations

import json
import random
import time
import tracemalloc
import zlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from passerelle import errors, jose, statuslist
from passerelle.keys import generate_key, private_key_from_jwk, public_key_from_jwk
from passerelle.statuslist import (
    IndexAllocator,
    Status,
    StatusList,
    check_status,
    create_status_list_token,
    parse_status_list_token,
    verify_status_list_token,
)

VECTORS = Path(__file__).parent.parent / "vectors" / "03_token_status_list"
EXAMPLE_URI = "https://example.com/statuslists/1"
EXAMPLE_IAT = 1686920170
URI = "https://issuer.example/statuslists/7"
NOW = 1_800_000_000


def _json(name: str) -> Any:
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))


def _expected_list(vector: dict[str, Any]) -> StatusList:
    """The list the vector describes, built with set() from its expected statuses."""
    expected = StatusList(vector["status_list"]["bits"], vector["size"])
    for index, value in vector["expected_statuses"].items():
        expected.set(int(index), value)
    return expected


# --- the draft's vectors ------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["small_1bit", "small_2bit", "long_1bit", "long_2bit", "long_4bit", "long_8bit"]
)
def test_vector_decodes_to_exactly_the_expected_statuses(name: str) -> None:
    vector = _json(f"{name}.json")
    decoded = StatusList.decode(vector["status_list"])
    assert decoded.size == vector["size"]
    # whole-array comparison: every index not listed must read 0
    assert decoded.to_bytes() == _expected_list(vector).to_bytes()
    for index, value in vector["expected_statuses"].items():
        assert decoded.get(int(index)) == value
    assert dict(decoded.nonzero()) == {
        int(i): v for i, v in vector["expected_statuses"].items() if v
    }


@pytest.mark.parametrize("name", ["small_1bit", "small_2bit"])
def test_small_vectors_byte_layout_and_spec_hex(name: str) -> None:
    vector = _json(f"{name}.json")
    built = _expected_list(vector)
    assert list(built.to_bytes()) == vector["uncompressed_bytes"]
    spec_lst = jose.b64url_encode(bytes.fromhex(vector["compressed_zlib_hex"]))
    assert spec_lst == vector["status_list"]["lst"]
    assert StatusList.decode(bits=built.bits, lst=spec_lst) == built


def test_spec_summary_file_agrees_with_the_vector_files() -> None:
    for entry in _json("spec_status_list_vectors.json")["vectors"]:
        decoded = StatusList.decode(bits=entry["bits"], lst=entry["lst"])
        assert decoded.size == entry["size"]
        for index, value in entry["expected"].items():
            assert decoded.get(int(index)) == value


@pytest.mark.parametrize("level", [1, 6, 9])
@pytest.mark.parametrize("name", ["small_2bit", "long_8bit"])
def test_our_encoding_round_trips_the_vectors(name: str, level: int) -> None:
    original = StatusList.decode(_json(f"{name}.json")["status_list"])
    encoded = original.encode(level)
    assert set(encoded) == {"bits", "lst"}
    assert zlib.decompress(jose.b64url_decode(encoded["lst"])) == original.to_bytes()
    assert StatusList.decode(encoded) == original


def test_example_status_list_token_verifies_with_its_key() -> None:
    token = (VECTORS / "status_list_token.jwt").read_text().strip()
    key = public_key_from_jwk(_json("status_list_token_public_key.jwk.json"))
    verified = verify_status_list_token(token, key, expected_uri=EXAMPLE_URI, now=EXAMPLE_IAT)
    assert (verified.uri, verified.iss) == (EXAMPLE_URI, "https://example.com")
    assert (verified.iat, verified.exp, verified.ttl) == (EXAMPLE_IAT, 2291720170, 43200)
    assert verified.header == {"alg": "ES256", "kid": "12", "typ": "statuslist+jwt"}
    assert verified.status_list == StatusList.decode(_json("small_1bit.json")["status_list"])


def test_referenced_token_of_the_draft_is_revoked() -> None:
    token = (VECTORS / "status_list_token.jwt").read_text().strip()
    key = public_key_from_jwk(_json("status_list_token_public_key.jwk.json"))
    verified = verify_status_list_token(token, key, expected_uri=EXAMPLE_URI, now=EXAMPLE_IAT)
    claim = _json("referenced_token_sd_jwt_payload.json")["status"]
    assert check_status(claim, verified) is Status.REVOKED
    assert statuslist.INVALID == statuslist.REVOKED == Status.REVOKED == 1


def test_the_draft_signing_key_matches_its_public_key() -> None:
    signing = private_key_from_jwk(_json("status_list_token_signing_key.private.jwk.json"))
    public = public_key_from_jwk(_json("status_list_token_public_key.jwk.json"))
    assert signing.kid == public.kid


# --- encoding rules ------------------------------------------------------------------------


def test_status_constants_and_names() -> None:
    assert (statuslist.VALID, statuslist.INVALID, statuslist.SUSPENDED) == (0, 1, 2)
    assert statuslist.APPLICATION_SPECIFIC == 3
    assert [s.name.lower() for s in Status] == ["valid", "revoked", "suspended"]
    assert statuslist.DEFAULT_LIST_SIZE >= 131_072


@pytest.mark.parametrize(
    ("bits", "index", "value", "byte", "expected"),
    [
        (1, 9, 1, 1, 0b0000_0010),
        (2, 1, 2, 0, 0b0000_1000),
        (2, 7, 3, 1, 0b1100_0000),
        (4, 3, 0xA, 1, 0b1010_0000),
        (8, 2, 0xFF, 2, 0xFF),
    ],
)
def test_status_packed_from_the_least_significant_bit(
    bits: int, index: int, value: int, byte: int, expected: int
) -> None:
    lst = StatusList(bits, 32)
    lst.set(index, value)
    data = lst.to_bytes()
    assert data[byte] == expected
    assert sum(data) == expected
    assert lst.get(index) == value
    lst.set(index, 0)
    assert not any(lst.to_bytes())


def test_set_leaves_neighbours_alone() -> None:
    lst = StatusList(2, 8)
    for index in range(8):
        lst.set(index, 3)
    lst.set(5, 1)
    assert [lst.get(i) for i in range(8)] == [3, 3, 3, 3, 3, 1, 3, 3]


@pytest.mark.parametrize("bits", [0, 3, 5, 16, True, "2", None, 2.0])
def test_bits_other_than_1_2_4_8_are_refused(bits: Any) -> None:
    with pytest.raises(errors.StatusListError, match="'bits' must be 1, 2, 4 or 8"):
        StatusList(bits, 8)
    with pytest.raises(errors.StatusListError, match="'bits' must be 1, 2, 4 or 8"):
        StatusList.decode({"bits": bits, "lst": "eNrbuRgAAhcBXQ"})


@pytest.mark.parametrize("index", [-1, 16, 10**9, True, 1.0, "0", None])
def test_index_outside_the_list(index: Any) -> None:
    lst = StatusList(1, 16)
    with pytest.raises(errors.StatusIndexError) as info:
        lst.get(index)
    assert info.value.code == "status_index_out_of_range"
    with pytest.raises(errors.StatusIndexError):
        lst.set(index, 1)


@pytest.mark.parametrize("value", [4, -1, True, 1.0])
def test_value_must_fit_in_bits(value: Any) -> None:
    with pytest.raises(errors.StatusListError, match="does not fit in 2 bit"):
        StatusList(2, 8).set(0, value)


def test_size_that_does_not_fill_the_last_byte() -> None:
    lst = StatusList(2, 10)  # 3 bytes, 2 padding entries
    assert len(lst.to_bytes()) == 3
    lst.set(9, 2)
    with pytest.raises(errors.StatusIndexError):
        lst.get(10)
    assert lst.counts() == {0: 9, 2: 1}
    assert list(lst.nonzero()) == [(9, 2)]
    again = StatusList(2, 10, data=lst.to_bytes())
    assert again == lst
    assert StatusList.decode(lst.encode()).size == 12  # the wire format has no size


@pytest.mark.parametrize(
    ("size", "data"), [(None, b""), (0, None), (-3, None), (5, b"\x00\x00"), (9, b"\x00")]
)
def test_bad_sizes(size: Any, data: Any) -> None:
    with pytest.raises(errors.StatusListError):
        StatusList(1, size, data=data)


def test_a_list_larger_than_the_cap_cannot_be_built() -> None:
    with pytest.raises(errors.StatusListTooLargeError):
        StatusList(8, statuslist.DEFAULT_MAX_BYTES + 1)


def test_counts_and_nonzero() -> None:
    lst = StatusList(2, 1000)
    for index, value in [(0, 1), (999, 2), (500, 3), (501, 1)]:
        lst.set(index, value)
    assert lst.counts() == {0: 996, 1: 2, 2: 1, 3: 1}
    assert list(lst.nonzero()) == [(0, 1), (500, 3), (501, 1), (999, 2)]


def _zlib_b64(data: bytes, wbits: int = 15) -> str:
    compressor = zlib.compressobj(9, zlib.DEFLATED, wbits)
    return jose.b64url_encode(compressor.compress(data) + compressor.flush())


@pytest.mark.parametrize(
    ("value", "detail"),
    [
        ("not an object", "must be a JSON object"),
        ({"bits": 1}, "'lst' must be a string"),
        ({"bits": 1, "lst": 7}, "'lst' must be a string"),
        ({"bits": 1, "lst": ""}, "'lst' is empty"),
        ({"bits": 1, "lst": "eNrbuRgAAhcBXQ=="}, "not base64url"),
        ({"bits": 1, "lst": "eNrbuRgAAhcB+Q"}, "not base64url"),
        ({"bits": 1, "lst": "eNrbuRgAAhcBXR"}, "not base64url"),
        ({"bits": 1, "lst": _zlib_b64(b"\xb9\xa3", -15)}, "not a valid zlib"),
        ({"bits": 1, "lst": _zlib_b64(b"\xb9\xa3", 31)}, "not a valid zlib"),
        ({"bits": 1, "lst": jose.b64url_encode(b"hello world")}, "not a valid zlib"),
        ({"bits": 1, "lst": jose.b64url_encode(zlib.compress(b"\xb9\xa3")[:-3])}, "truncated"),
        ({"bits": 1, "lst": jose.b64url_encode(zlib.compress(b"\x01") + b"x")}, "after the end"),
        ({"bits": 1, "lst": _zlib_b64(b"")}, "empty byte array"),
    ],
)
def test_undecodable_lists(value: Any, detail: str) -> None:
    with pytest.raises(errors.StatusListError, match=detail) as info:
        StatusList.decode(value)
    assert type(info.value) is errors.StatusListError
    assert info.value.code == "status_list_invalid"


def test_bad_checksum_is_refused() -> None:
    raw = bytearray(zlib.compress(b"\xb9\xa3"))
    raw[-1] ^= 1
    with pytest.raises(errors.StatusListError, match="not a valid zlib"):
        StatusList.decode(bits=1, lst=jose.b64url_encode(bytes(raw)))


def test_zlib_bomb_stopped_at_a_small_cap_before_inflating() -> None:
    bomb = _zlib_b64(bytes(8 * 1024 * 1024))  # 8 MiB of zeros, ~8 KB compressed
    cap = 64 * 1024
    tracemalloc.start()
    try:
        with pytest.raises(errors.StatusListTooLargeError) as info:
            StatusList.decode(bits=1, lst=bomb, max_bytes=cap)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert info.value.code == "status_list_too_large"
    assert peak < 4 * cap + len(bomb) * 2  # never near the 8 MiB it would inflate to


def test_list_exactly_at_the_cap_is_accepted() -> None:
    lst = StatusList.decode(bits=8, lst=_zlib_b64(bytes(4096)), max_bytes=4096)
    assert lst.size == 4096
    with pytest.raises(errors.StatusListTooLargeError):
        StatusList.decode(bits=8, lst=_zlib_b64(bytes(4097)), max_bytes=4096)


def test_zlib_bomb_refused_by_the_default_cap() -> None:
    bomb = _zlib_b64(bytes(20 * 1000 * 1000))  # 20 MB of zeros, ~20 KB compressed
    assert len(bomb) < 40_000
    with pytest.raises(errors.StatusListTooLargeError):
        StatusList.decode(bits=2, lst=bomb)
    key = generate_key()
    token = jose.sign_compact(
        {"sub": URI, "iat": NOW, "status_list": {"bits": 2, "lst": bomb}},
        key,
        typ="statuslist+jwt",
    )
    with pytest.raises(errors.StatusListTooLargeError):
        verify_status_list_token(token, key.public, expected_uri=URI, now=NOW)


def test_one_lookup_takes_less_than_5_microseconds() -> None:
    lst = StatusList.decode(_json("long_2bit.json")["status_list"])
    indices = [random.Random(7).randrange(lst.size) for _ in range(10_000)]
    get = lst.get
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for index in indices:
            get(index)
        best = min(best, (time.perf_counter() - start) / len(indices))
    assert best < 5e-6


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(statuslist.ALLOWED_BITS).flatmap(
        lambda bits: st.tuples(
            st.just(bits), st.lists(st.integers(0, (1 << bits) - 1), min_size=1, max_size=3000)
        )
    ),
    st.sampled_from([1, 6, 9]),
)
def test_encode_then_decode_is_the_identity(case: tuple[int, list[int]], level: int) -> None:
    bits, values = case
    lst = StatusList(bits, len(values))
    for index, value in enumerate(values):
        lst.set(index, value)
    decoded = StatusList.decode(lst.encode(level))
    assert decoded.size >= len(values)
    assert [decoded.get(i) for i in range(len(values))] == values
    assert all(decoded.get(i) == 0 for i in range(len(values), decoded.size))
    assert dict(lst.nonzero()) == {i: v for i, v in enumerate(values) if v}


def test_encode_level_is_checked() -> None:
    with pytest.raises(errors.InvalidInputError):
        StatusList(1, 8).encode(level=10)


# --- Status List Token ---------------------------------------------------------------------


@pytest.fixture(params=["EdDSA", "ES256"])
def key(request: pytest.FixtureRequest) -> Any:
    return generate_key(request.param)


def _list(*entries: tuple[int, int], size: int = 1024) -> StatusList:
    lst = StatusList(2, size)
    for index, value in entries:
        lst.set(index, value)
    return lst


def _token(key: Any, lst: StatusList | None = None, **overrides: Any) -> str:
    kwargs: dict[str, Any] = {"uri": URI, "issuer": "https://issuer.example", "now": NOW}
    kwargs.update(overrides)
    return create_status_list_token(lst or _list((3, 1), (4, 2)), key, **kwargs)


def _resign(key: Any, token: str, *, header: dict[str, Any] | None = None, **claims: Any) -> str:
    """The token's payload with ``claims`` changed (None removes), signed again."""
    payload = jose.parse_compact(token).payload
    for name, value in claims.items():
        if value is None:
            payload.pop(name, None)
        else:
            payload[name] = value
    typ = (header or {}).pop("typ", "statuslist+jwt")
    return jose.sign_compact(payload, key, typ=typ, extra_header=header)


def test_token_round_trip(key: Any) -> None:
    token = _token(key, ttl=600, lifetime=7200)
    parsed = jose.parse_compact(token)
    assert parsed.header == {"alg": key.alg, "typ": "statuslist+jwt", "kid": key.kid}
    assert list(parsed.payload) == ["sub", "iss", "iat", "exp", "ttl", "status_list"]
    verified = verify_status_list_token(token, key.public, expected_uri=URI, now=NOW + 10)
    assert (verified.uri, verified.iss, verified.iat, verified.exp, verified.ttl) == (
        URI,
        "https://issuer.example",
        NOW,
        NOW + 7200,
        600,
    )
    assert verified.status_list == _list((3, 1), (4, 2))
    assert check_status({"status_list": {"idx": 4, "uri": URI}}, verified) is Status.SUSPENDED
    assert check_status({"status_list": {"idx": 5, "uri": URI}}, verified) is Status.VALID


def test_token_defaults_and_datetime_clock(key: Any) -> None:
    moment = datetime.fromtimestamp(NOW, UTC)
    token = create_status_list_token(_list(), key, uri=URI, now=moment)
    payload = jose.parse_compact(token).payload
    assert "iss" not in payload
    assert payload["iat"] == NOW
    assert payload["exp"] == NOW + statuslist.DEFAULT_LIFETIME
    assert payload["ttl"] == statuslist.DEFAULT_TTL
    assert verify_status_list_token(token, key.public, expected_uri=URI, now=moment).iss is None


def test_resolver_sees_header_and_payload(key: Any) -> None:
    seen: list[tuple[str, str]] = []

    def resolve(header: Any, payload: Any) -> Any:
        seen.append((header["kid"], payload["sub"]))
        return key.public

    verify_status_list_token(_token(key), resolve, expected_uri=URI, now=NOW)
    assert seen == [(key.kid, URI)]


def test_tampered_token_is_refused(key: Any) -> None:
    header, _, signature = _token(key).split(".")
    other = _token(key, _list((3, 0), (4, 0))).split(".")[1]
    with pytest.raises(errors.SignatureError):
        verify_status_list_token(
            f"{header}.{other}.{signature}", key.public, expected_uri=URI, now=NOW
        )


def test_wrong_key_is_refused(key: Any) -> None:
    with pytest.raises(errors.SignatureError):
        verify_status_list_token(
            _token(key), generate_key(key.alg).public, expected_uri=URI, now=NOW
        )
    other_alg = "ES256" if key.alg == "EdDSA" else "EdDSA"
    with pytest.raises(errors.AlgorithmError):
        verify_status_list_token(
            _token(key), generate_key(other_alg).public, expected_uri=URI, now=NOW
        )


@pytest.mark.parametrize(
    "typ", ["JWT", "dc+sd-jwt", "Statuslist+JWT", "application/statuslist+jwt"]
)
def test_wrong_typ_is_refused(key: Any, typ: str) -> None:
    token = _resign(key, _token(key), header={"typ": typ})
    with pytest.raises(errors.TypError) as info:
        verify_status_list_token(token, key.public, expected_uri=URI, now=NOW)
    assert info.value.code == "wrong_typ"


def test_missing_typ_is_refused(key: Any) -> None:
    payload = jose.parse_compact(_token(key)).payload
    token = jose.sign_compact(payload, key, typ=None)
    with pytest.raises(errors.TypError):
        verify_status_list_token(token, key.public, expected_uri=URI, now=NOW)


def test_sub_must_be_the_referenced_uri(key: Any) -> None:
    with pytest.raises(errors.StatusListMismatchError) as info:
        verify_status_list_token(_token(key), key.public, expected_uri=URI + "x", now=NOW)
    assert info.value.code == "status_list_uri_mismatch"


def test_expired_token(key: Any) -> None:
    token = _token(key, lifetime=3600)
    leeway = statuslist.DEFAULT_LEEWAY
    verify_status_list_token(token, key.public, expected_uri=URI, now=NOW + 3600 + leeway - 1)
    with pytest.raises(errors.StatusListExpiredError) as info:
        verify_status_list_token(token, key.public, expected_uri=URI, now=NOW + 3600 + leeway)
    assert info.value.code == "status_list_expired"


def test_token_without_exp_does_not_expire(key: Any) -> None:
    token = _resign(key, _token(key), exp=None)
    verified = verify_status_list_token(token, key.public, expected_uri=URI, now=NOW + 10**9)
    assert verified.exp is None


def test_iat_in_the_future(key: Any) -> None:
    token = _token(key)
    verify_status_list_token(token, key.public, expected_uri=URI, now=NOW - 60, leeway=60)
    with pytest.raises(errors.StatusListError, match="in the future") as info:
        verify_status_list_token(token, key.public, expected_uri=URI, now=NOW - 61, leeway=60)
    assert type(info.value) is errors.StatusListError


@pytest.mark.parametrize(
    ("claims", "detail"),
    [
        ({"sub": None}, "lacks 'sub'"),
        ({"sub": 5}, "lacks 'sub'"),
        ({"iat": None}, "lacks 'iat'"),
        ({"iat": "yesterday"}, "'iat' must be a number"),
        ({"exp": True}, "'exp' must be a number"),
        ({"ttl": 0}, "'ttl' must be positive"),
        ({"iss": 3}, "'iss' must be a string"),
        ({"status_list": None}, "lacks 'status_list'"),
        ({"status_list": "eNrbuRgAAhcBXQ"}, "must be a JSON object"),
        ({"status_list": {"bits": 3, "lst": "eNrbuRgAAhcBXQ"}}, "'bits' must be"),
    ],
)
def test_missing_or_mistyped_claims(key: Any, claims: dict[str, Any], detail: str) -> None:
    token = _resign(key, _token(key), **claims)
    with pytest.raises(errors.StatusListError, match=detail) as info:
        verify_status_list_token(token, key.public, expected_uri=URI, now=NOW)
    assert type(info.value) is errors.StatusListError


def test_parse_without_verifying(key: Any) -> None:
    token = _token(key, lifetime=10)
    parsed = parse_status_list_token(token)  # no key, and long expired: still readable
    assert parsed.uri == URI
    assert parsed.status_list.get(3) == statuslist.REVOKED
    with pytest.raises(errors.TypError):
        parse_status_list_token(_resign(key, token, header={"typ": "JWT"}))


@pytest.mark.parametrize(
    ("kwargs", "detail"),
    [
        ({"uri": "statuslists/1"}, "not an absolute URI"),
        ({"ttl": 0}, "'ttl' must be a positive"),
        ({"lifetime": -5}, "'lifetime' must be a positive"),
        ({"now": datetime(2027, 1, 1)}, "timezone-aware"),
        ({"level": 12}, "zlib level"),
    ],
)
def test_create_refuses_bad_arguments(key: Any, kwargs: dict[str, Any], detail: str) -> None:
    with pytest.raises(errors.InvalidInputError, match=detail):
        _token(key, **kwargs)


@pytest.mark.parametrize(
    ("claim", "error"),
    [
        ({}, errors.StatusListError),
        ({"status_list": "x"}, errors.StatusListError),
        ({"status_list": {"idx": 1}}, errors.StatusListError),
        ({"status_list": {"idx": -1, "uri": URI}}, errors.StatusListError),
        ({"status_list": {"idx": "1", "uri": URI}}, errors.StatusListError),
        ({"status_list": {"idx": True, "uri": URI}}, errors.StatusListError),
        ({"status_list": {"idx": 1, "uri": URI + "/other"}}, errors.StatusListMismatchError),
        ({"status_list": {"idx": 1024, "uri": URI}}, errors.StatusIndexError),
    ],
)
def test_check_status_refuses(key: Any, claim: dict[str, Any], error: type[Exception]) -> None:
    verified = verify_status_list_token(_token(key), key.public, expected_uri=URI, now=NOW)
    with pytest.raises(error) as info:
        check_status(claim, verified)
    assert type(info.value) is error


def test_check_status_application_specific_value(key: Any) -> None:
    verified = verify_status_list_token(
        _token(key, _list((9, 3))), key.public, expected_uri=URI, now=NOW
    )
    with pytest.raises(errors.StatusListError, match="application-specific"):
        check_status({"status_list": {"idx": 9, "uri": URI}}, verified)


@pytest.mark.slow
def test_big_list_built_compressed_and_signed_within_100_ms() -> None:
    key = generate_key()
    rng = random.Random(2026)
    revoked = rng.sample(range(1 << 20), (1 << 20) // 100)
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        lst = StatusList(2, 1 << 20)
        for index in revoked:
            lst.set(index, statuslist.REVOKED)
        token = create_status_list_token(lst, key, uri=URI, now=NOW)
        best = min(best, time.perf_counter() - start)
    assert best < 0.100
    verified = verify_status_list_token(token, key.public, expected_uri=URI, now=NOW)
    assert verified.status_list.counts() == {0: (1 << 20) - len(revoked), 1: len(revoked)}


# --- index allocation ----------------------------------------------------------------------


def test_allocator_fills_a_small_list_without_repeating_then_refuses() -> None:
    allocator = IndexAllocator(1000, rng=random.Random(1))
    handed = [allocator.allocate() for _ in range(1000)]
    assert sorted(handed) == list(range(1000))
    assert allocator.remaining == 0
    with pytest.raises(errors.StatusListFullError) as info:
        allocator.allocate()
    assert info.value.code == "status_list_full"
    assert isinstance(info.value, errors.StatusListError)


def test_allocator_recreated_from_taken_indices() -> None:
    first = IndexAllocator(64, rng=random.Random(2))
    taken = {first.allocate() for _ in range(40)}
    second = IndexAllocator(64, taken=taken, rng=random.Random(3))
    assert second.remaining == 24
    rest = {second.allocate() for _ in range(24)}
    assert not rest & taken
    assert rest | taken == set(range(64))
    with pytest.raises(errors.StatusListFullError):
        second.allocate()


def test_allocator_is_random() -> None:
    handed = [IndexAllocator(statuslist.DEFAULT_LIST_SIZE).allocate() for _ in range(20)]
    assert len(set(handed)) > 15  # not sequential, not constant
    assert handed != sorted(handed)
    seeded = [IndexAllocator(1 << 20, rng=random.Random(5)).allocate() for _ in range(2)]
    assert seeded[0] == seeded[1]


def test_allocator_nearly_full_big_list_is_fast() -> None:
    size = 1 << 20
    free = {17, 4242, 99_999, size - 1}
    allocator = IndexAllocator(size, taken=(i for i in range(size) if i not in free))
    start = time.perf_counter()
    assert {allocator.allocate() for _ in range(4)} == free
    assert time.perf_counter() - start < 1.0
    with pytest.raises(errors.StatusListFullError):
        allocator.allocate()


@pytest.mark.parametrize("taken", [[-1], [64], ["3"], [True]])
def test_allocator_refuses_foreign_taken_indices(taken: list[Any]) -> None:
    with pytest.raises(errors.StatusIndexError):
        IndexAllocator(64, taken=taken)


@pytest.mark.parametrize("size", [0, -1, 2.5])
def test_allocator_size_must_be_positive(size: Any) -> None:
    with pytest.raises(errors.StatusListError):
        IndexAllocator(size)
