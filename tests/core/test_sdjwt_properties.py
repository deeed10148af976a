"""Property tests of passerelle.sdjwt (hypothesis): any subset of disclosures round-trips,
and any single-character change to a presentation is rejected.

Why every change is rejected: the issuer JWT is covered by its signature, each disclosure by
its digest in the signed payload (and the strict base64url decoder admits one encoding per
byte string), a changed or split ``~`` breaks the structure or leaves a disclosure
unreferenced, and with key binding the KB-JWT signature covers ``sd_hash``, which covers the
rest. So no single-character change is equivalent.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from passerelle import errors, sdjwt
from passerelle.encoding import b64url_decode, sha256_b64url
from passerelle.keys import generate_key

ISSUER = generate_key("ES256")
HOLDER = generate_key("EdDSA")
NONCE, AUDIENCE, NOW = "n", "https://verifier.example", 1_700_000_000
FAST = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])

names = st.sampled_from(["a", "b", "c", "name", "é", "x y"])
scalars = st.one_of(st.none(), st.booleans(), st.integers(-1000, 1000), st.text(max_size=5))


def marked(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Objects with some keys marked SD and arrays with some elements marked SD."""
    objects = st.dictionaries(st.tuples(names, st.booleans()), children, max_size=3).map(
        lambda items: {
            (sdjwt.SD(name) if sd else name): value
            for (name, sd), value in items.items()
            if not any((n == name) for (n, s) in items if s != sd)
        }
    )
    arrays = st.lists(st.tuples(children, st.booleans()), max_size=3).map(
        lambda items: [sdjwt.SD(v) if sd else v for v, sd in items]
    )
    return st.one_of(objects, arrays)


claim_sets = st.recursive(scalars, marked, max_leaves=8).filter(lambda v: isinstance(v, dict))


def expected(node: Any, kept: set[sdjwt.ClaimPath], path: sdjwt.ClaimPath = ()) -> Any:
    """What a verifier must output for the marked claims when ``kept`` paths are disclosed."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            name = key.value if isinstance(key, sdjwt.SD) else key
            if isinstance(key, sdjwt.SD) and (*path, name) not in kept:
                continue
            out[name] = expected(value, kept, (*path, name))
        return out
    if isinstance(node, list):
        items = []
        for index, element in enumerate(node):
            if isinstance(element, sdjwt.SD):
                if (*path, index) not in kept:
                    continue
                element = element.value
            items.append(expected(element, kept, (*path, index)))
        return items
    return node


def closed(chosen: set[sdjwt.ClaimPath], paths: list[sdjwt.ClaimPath]) -> set[sdjwt.ClaimPath]:
    """``chosen`` plus every disclosure path above one of them (parents are kept)."""
    return {p for p in paths if any(c[: len(p)] == p for c in chosen)}


@FAST
@given(claims=claim_sets, data=st.data(), bound=st.booleans())
def test_any_subset_round_trips(claims: dict[Any, Any], data: st.DataObject, bound: bool) -> None:
    if bound:
        claims = {**claims, "cnf": {"jwk": HOLDER.public.to_jwk()}}
    issued = sdjwt.issue(claims, ISSUER, typ="dc+sd-jwt", decoys=data.draw(st.integers(0, 2)))
    paths = sdjwt.disclosure_paths(issued.compact)
    assert len(paths) == len(issued.disclosures)
    chosen = data.draw(st.sets(st.sampled_from(paths))) if paths else set()
    options: dict[str, Any] = {}
    if bound:
        options = {"holder_key": HOLDER, "nonce": NONCE, "audience": AUDIENCE, "iat": NOW}
    token = sdjwt.present(issued.compact, chosen, **options)
    verified = sdjwt.verify(
        token,
        ISSUER.public,
        typ="dc+sd-jwt",
        nonce=NONCE if bound else None,
        audience=AUDIENCE if bound else None,
        now=NOW,
    )
    assert verified.claims == expected(claims, closed(chosen, paths))
    assert len(sdjwt.parse(token).disclosures) == len(closed(chosen, paths))


def sample_presentation(bound: bool) -> str:
    claims = {
        "iss": "https://issuer.example",
        "cnf": {"jwk": HOLDER.public.to_jwk()},
        sdjwt.SD("given_name"): "Amina",
        sdjwt.SD("address"): {sdjwt.SD("street"): "1 Rue X", "country": "SN"},
        "nationalities": [sdjwt.SD("SN"), "FR"],
    }
    issued = sdjwt.issue(claims, ISSUER, typ="dc+sd-jwt")
    if not bound:
        return sdjwt.present(issued.compact, lambda path: True)
    return sdjwt.present(
        issued.compact,
        lambda path: path != ("nationalities", 0),
        holder_key=HOLDER,
        nonce=NONCE,
        audience=AUDIENCE,
        iat=NOW,
    )


PRESENTATIONS = {bound: sample_presentation(bound) for bound in (False, True)}
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_~.=+/ é{"


def check_rejected(token: str, bound: bool) -> None:
    with pytest.raises(errors.PasserelleError):
        sdjwt.verify(
            token,
            ISSUER.public,
            typ="dc+sd-jwt",
            nonce=NONCE if bound else None,
            audience=AUDIENCE if bound else None,
            now=NOW,
        )


@settings(max_examples=150, deadline=None)
@given(bound=st.booleans(), position=st.integers(0, 10_000), char=st.sampled_from(ALPHABET))
def test_single_character_substitution_rejected(bound: bool, position: int, char: str) -> None:
    token = PRESENTATIONS[bound]
    index = position % len(token)
    if token[index] == char:
        char = "A" if char != "A" else "B"
    check_rejected(token[:index] + char + token[index + 1 :], bound)


@FAST
@given(bound=st.booleans(), position=st.integers(0, 10_000))
def test_single_character_deletion_rejected(bound: bool, position: int) -> None:
    token = PRESENTATIONS[bound]
    index = position % len(token)
    check_rejected(token[:index] + token[index + 1 :], bound)


def test_every_tilde_and_kb_character_matters() -> None:
    token = PRESENTATIONS[True]
    kb_start = token.rindex("~") + 1
    targets = [i for i, c in enumerate(token) if c == "~"] + list(range(kb_start, len(token)))
    for index in targets:
        replacement = "A" if token[index] != "A" else "B"
        check_rejected(token[:index] + replacement + token[index + 1 :], True)


json_values = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
        st.text(),
    ),
    lambda children: st.one_of(st.lists(children, max_size=3),
                               st.dictionaries(st.text(max_size=5), children, max_size=3)),
    max_leaves=6,
)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(salt=st.text(), name=st.one_of(st.none(), st.text()), value=json_values)
def test_disclosure_text_is_what_json_dumps_writes(salt: str, name: str | None, value: Any) -> None:
    """Strings and integers take a shorter path than other values: every value, including
    any Unicode, control characters and huge integers, gets json.dumps's text."""
    if name in ("_sd", "..."):
        return
    content = [salt, value] if name is None else [salt, name, value]
    try:
        data = json.dumps(content, ensure_ascii=False, allow_nan=False).encode("utf-8")
    except (UnicodeEncodeError, ValueError):
        with pytest.raises(errors.InvalidInputError):
            sdjwt.Disclosure.create(salt, name, value)
        return
    disclosure = sdjwt.Disclosure.create(salt, name, value)
    assert b64url_decode(disclosure.encoded) == data
    assert disclosure.digest == sha256_b64url(disclosure.encoded.encode("ascii"))


@pytest.mark.parametrize("value", ["\ud800", ["a", "\udfff"], {"k": "x\ud83d"}])
def test_a_lone_surrogate_is_refused_as_invalid_input(value: Any) -> None:
    with pytest.raises(errors.InvalidInputError, match="Unicode"):
        sdjwt.Disclosure.create("salt", "name", value)
