"""The fast conformance check of the disclosed claims (``passerelle.credtypes``) against
jsonschema itself: whenever it says "conforms", jsonschema reports nothing but the missing
required members it listed; it never lets through what jsonschema refuses."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from passerelle import errors
from passerelle.credtypes import CredentialType, load_types

TYPES = list(load_types())

# values near the schemas' rules: real and impossible dates, codes, tags, URIs, bounds
# (copied when drawn: the mutations below change values in place)
_NEAR = st.sampled_from(
    [
        "2024-02-29",
        "2023-02-29",
        "2025-13-01",
        "2025-1-01",
        "7212",
        "72120",
        "0715",
        "07",
        "FR",
        "fr",
        "Fr",
        "pt-BR",
        "sr-Latn",
        "",
        "x" * 101,
        "x" * 300,
        "x" * 301,
        "written_exam",
        "intermediate",
        "expert",
        "http://data.europa.eu/esco/skill/0a1b2c3d-0a1b-0a1b-0a1b-0a1b2c3d4e5f",
        0,
        1,
        8,
        9,
        100000,
        100001,
        1.0,
        1.5,
        -1,
        True,
        False,
        None,
        [],
        {},
        ["FR", "FR"],
        ["FR", "MA"],
        ["FR", 1],
        [1, True],
        {"fr": ""},
        {"fr": "texte"},
        {"xx-yyyy": "t"},
        {"fr": 1},
    ]
).map(copy.deepcopy)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-10, 10**6) | st.floats(allow_nan=False,
    allow_infinity=False) | st.text(max_size=12) | _NEAR,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
    max_size=4),
    max_leaves=8,
)  # fmt: skip


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*path, index))
    return found


@st.composite
def mutated(draw: st.DrawFn) -> tuple[CredentialType, Any]:
    """A type and its example claims with a few members replaced, removed or added."""
    ctype = draw(st.sampled_from(TYPES))
    claims: Any = copy.deepcopy(ctype.example)
    for _ in range(draw(st.integers(0, 3))):
        path = draw(st.sampled_from(_paths(claims)))
        action = draw(st.sampled_from(["replace", "remove", "add"]))
        if not path:
            if action == "replace":
                claims = draw(_JSON)
            continue
        *parents, last = path
        holder = claims
        for step in parents:
            holder = holder[step]
        if action == "replace":
            holder[last] = draw(_JSON)
        elif action == "remove":
            del holder[last]
        elif isinstance(holder, dict):
            holder[draw(st.text(max_size=8) | st.sampled_from(["fr", "en-GB", "nqf"]))] = draw(
                _JSON
            )
    return ctype, claims


def _required_only(ctype: CredentialType, claims: Any) -> set[tuple[Any, ...]] | None:
    """What jsonschema reports, when it is only missing members (else None)."""
    found = ctype._violations(claims)
    if any(v.keyword != "required" for v in found):
        return None
    return {v.path for v in found}


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_the_fast_check_never_accepts_what_jsonschema_refuses(case: tuple[Any, Any]) -> None:
    ctype, claims = case
    missing = ctype._missing_only(claims)
    if missing is not None:
        assert _required_only(ctype, claims) == set(missing)
        assert len(missing) == len(set(missing))


@pytest.mark.parametrize("ctype", TYPES, ids=lambda t: t.name)
def test_the_examples_and_their_parts_take_the_fast_path(ctype: CredentialType) -> None:
    assert ctype._missing_only(ctype.example) == []
    # what a holder shows when disclosing nothing: the claims never selectively disclosed
    subset = {k: v for k, v in ctype.example.items() if ctype.disclosure_policy((k,)) == "never"}
    missing = ctype._missing_only(subset)
    assert missing is not None and missing
    ctype.validate_disclosed(subset)  # the missing claims may all be selectively disclosed
    with pytest.raises(errors.SchemaError):
        ctype.validate_disclosed({})  # never-disclosable ones may not be missing


@pytest.mark.parametrize("ctype", TYPES, ids=lambda t: t.name)
def test_a_value_the_fast_check_is_unsure_of_goes_to_jsonschema(ctype: CredentialType) -> None:
    claims = copy.deepcopy(ctype.example)
    claims["nationalities"] = ["SN", "SN"]  # not unique: the fast check says nothing
    assert ctype._missing_only(claims) is None
    with pytest.raises(errors.SchemaError) as caught:
        ctype.validate_disclosed(claims)
    assert caught.value.extra["violations"] == [
        {"path": "$.nationalities", "message": "must not repeat an item"}
    ]


def test_a_schema_with_other_keywords_is_left_to_jsonschema() -> None:
    ctype = CredentialType(
        name="T",
        vct="urn:t",
        schema={"type": "object", "properties": {"a": {"anyOf": [{"type": "string"}]}}},
        metadata={},
        example={},
    )
    assert ctype._conformance is None
    assert ctype.violations({"a": 1})  # jsonschema still validates
    assert ctype.violations({"a": "x"}) == []


def test_a_recursive_reference_is_compiled() -> None:
    schema = {
        "type": "object",
        "properties": {"node": {"$ref": "#/$defs/node"}},
        "$defs": {
            "node": {
                "type": "object",
                "additionalProperties": False,
                "properties": {"next": {"$ref": "#/$defs/node"}, "v": {"type": "integer"}},
            }
        },
    }
    ctype = CredentialType(name="T", vct="urn:t", schema=schema, metadata={}, example={})
    assert ctype._missing_only({"node": {"next": {"next": {"v": 1}}}}) == []
    assert ctype._missing_only({"node": {"next": {"next": {"v": "1"}}}}) is None
    assert ctype.violations({"node": {"next": {"w": 1}}})
