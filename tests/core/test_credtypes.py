"""Credential types: schemas, SD-JWT VC Type Metadata, examples, registry (passerelle.credtypes)."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from passerelle import credtypes
from passerelle.credtypes import (
    LANGUAGES,
    CredentialType,
    TypeRegistry,
    is_rtl,
    json_path,
    load_types,
    metadata_problems,
)
from passerelle.errors import InvalidInputError, SchemaError, UnknownTypeError

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
QUALIFICATION_VCT = "https://credentials.passerelle.org/types/qualification/v1"
SKILL_VCT = "https://credentials.passerelle.org/types/skill/v1"
PERSON_PATHS = [("given_name",), ("family_name",), ("birthdate",), ("nationalities",)]
ARABIC = re.compile(r"[\u0600-\u06FF]")


@pytest.fixture(scope="module")
def registry() -> TypeRegistry:
    return load_types()


@pytest.fixture(scope="module")
def qualification(registry: TypeRegistry) -> CredentialType:
    return registry.get("QualificationCredential")


@pytest.fixture(scope="module")
def skill(registry: TypeRegistry) -> CredentialType:
    return registry.get("SkillCredential")


def violations_of(ctype: CredentialType, claims: Any) -> list[dict[str, str]]:
    with pytest.raises(SchemaError) as caught:
        ctype.validate(claims)
    assert caught.value.code == "schema_violation"
    found: list[dict[str, str]] = caught.value.extra["violations"]
    return found


def schema_paths(schema: dict[str, Any]) -> set[tuple[str | None, ...]]:
    """Every claim path the JSON Schema allows (language maps are single claims)."""
    defs = schema.get("$defs", {})

    def resolve(node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            ref = node["$ref"]
            assert ref.startswith("#/$defs/"), ref
            node = {
                **defs[ref.removeprefix("#/$defs/")],
                **{k: v for k, v in node.items() if k != "$ref"},
            }
        return node

    found: set[tuple[str | None, ...]] = set()

    def walk(node: dict[str, Any], path: tuple[str | None, ...]) -> None:
        node = resolve(node)
        if path:
            found.add(path)
        if "properties" in node:
            for name, child in node["properties"].items():
                walk(child, (*path, name))
        if node.get("type") == "array":
            walk(node["items"], (*path, None))

    walk(schema, ())
    return found


def required_paths(schema: dict[str, Any]) -> set[tuple[str, ...]]:
    """Paths whose claim and every ancestor are required."""
    defs = schema.get("$defs", {})
    found: set[tuple[str, ...]] = set()

    def walk(node: dict[str, Any], path: tuple[str, ...]) -> None:
        if "$ref" in node:
            node = defs[node["$ref"].removeprefix("#/$defs/")]
        for name in node.get("required", []):
            found.add((*path, name))
            walk(node["properties"][name], (*path, name))

    walk(schema, ())
    return found


# -- examples and registry -----------------------------------------------------------------
def test_the_registry_holds_the_two_types(registry: TypeRegistry) -> None:
    assert registry.names == ["QualificationCredential", "SkillCredential"]
    assert [t.name for t in registry] == registry.names
    assert len(registry) == 2
    assert "SkillCredential" in registry and SKILL_VCT in registry and "Nope" not in registry


@pytest.mark.parametrize(
    ("name", "vct"),
    [("QualificationCredential", QUALIFICATION_VCT), ("SkillCredential", SKILL_VCT)],
)
def test_lookup_by_name_and_by_vct(registry: TypeRegistry, name: str, vct: str) -> None:
    by_name, by_vct = registry.get(name), registry.get(vct)
    assert by_name is by_vct
    assert by_name.name == name and by_name.vct == vct
    assert by_name.metadata["vct"] == vct


def test_an_unknown_type_names_the_known_ones(registry: TypeRegistry) -> None:
    with pytest.raises(UnknownTypeError) as caught:
        registry.get("https://credentials.passerelle.org/types/driving-licence/v1")
    assert caught.value.code == "unknown_credential_type"
    assert "QualificationCredential" in caught.value.detail
    assert "SkillCredential" in caught.value.detail


@pytest.mark.parametrize("folder", ["qualification", "skill"])
def test_the_examples_validate(registry: TypeRegistry, folder: str) -> None:
    example = json.loads((SCHEMAS / folder / "example.json").read_text("utf-8"))
    ctype = registry.get(f"https://credentials.passerelle.org/types/{folder}/v1")
    assert ctype.example == example
    ctype.validate(example)
    ctype.validate_disclosed(example)


@pytest.mark.parametrize("folder", ["qualification", "skill"])
def test_the_examples_stay_small_enough_for_a_paper_qr_code(folder: str) -> None:
    # all disclosures of the example must fit a QR code of version <= 25 (see passerelle.qr);
    # this bound on the claims keeps that margin when the examples are edited
    example = (SCHEMAS / folder / "example.json").read_text("utf-8")
    assert len(json.dumps(json.loads(example), ensure_ascii=False).encode()) <= 800


def test_two_types_with_the_same_name_are_refused(qualification: CredentialType) -> None:
    with pytest.raises(InvalidInputError, match="QualificationCredential"):
        TypeRegistry([qualification, qualification])


# -- validation ------------------------------------------------------------------------------
def test_every_violation_is_reported_at_once_with_its_path(qualification: CredentialType) -> None:
    claims = copy.deepcopy(qualification.example)
    claims["qualification"]["awarded_on"] = "2026-02-30"
    claims["qualification"]["eqf_level"] = 9
    claims["qualification"]["grade"] = "A"
    del claims["qualification"]["title"]
    claims["qualification"]["isco08"] = "72A1"

    found = violations_of(qualification, claims)

    assert [v["path"] for v in found] == [
        "$.qualification.awarded_on",
        "$.qualification.eqf_level",
        "$.qualification.grade",
        "$.qualification.isco08",
        "$.qualification.title",
    ]
    messages = {v["path"]: v["message"] for v in found}
    assert messages["$.qualification.awarded_on"] == "expected a real calendar date YYYY-MM-DD"
    assert messages["$.qualification.eqf_level"] == "must be at most 8"
    assert messages["$.qualification.grade"] == "unknown claim"
    assert "ISCO-08" in messages["$.qualification.isco08"]
    assert messages["$.qualification.title"] == "missing required claim"


def test_the_detail_summarises_the_violations(qualification: CredentialType) -> None:
    claims = copy.deepcopy(qualification.example)
    claims["qualification"]["eqf_level"] = 0
    claims["colour"] = "blue"
    with pytest.raises(SchemaError) as caught:
        qualification.validate(claims)
    detail = caught.value.detail
    assert detail.startswith("2 schema violation(s) in the QualificationCredential claims")
    assert "$.colour: unknown claim" in detail
    assert "$.qualification.eqf_level: must be at least 1" in detail
    problem = caught.value.to_problem()
    assert problem["code"] == "schema_violation" and len(problem["violations"]) == 2


def test_messages_never_repeat_the_offending_values(qualification: CredentialType) -> None:
    claims = copy.deepcopy(qualification.example)
    claims["birthdate"] = "1998-02-31"
    claims["family_name"] = ""
    claims["nationalities"] = ["Marocaine"]
    found = violations_of(qualification, claims)
    assert [v["path"] for v in found] == ["$.birthdate", "$.family_name", "$.nationalities[0]"]
    text = json.dumps(found)
    assert "1998" not in text and "Marocaine" not in text


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("2024-02-29", True),
        ("2025-12-31", True),
        ("2026-02-30", False),
        ("2025-02-29", False),
        ("2025-13-01", False),
        ("2025-1-01", False),
        ("20250101", False),
        ("2025-01-01T00:00:00Z", False),
    ],
)
def test_dates_must_be_real_calendar_dates(skill: CredentialType, value: str, valid: bool) -> None:
    claims = copy.deepcopy(skill.example)
    claims["skill"]["assessed_on"] = value
    if valid:
        skill.validate(claims)
    else:
        assert [v["path"] for v in violations_of(skill, claims)] == ["$.skill.assessed_on"]


@pytest.mark.parametrize(
    ("claim", "value", "valid"),
    [
        (
            "esco_occupation",
            "http://data.europa.eu/esco/occupation/f2b15a0e-e65a-438a-affb-29b9d50b77d1",
            True,
        ),
        (
            "esco_occupation",
            "https://data.europa.eu/esco/occupation/f2b15a0e-e65a-438a-affb-29b9d50b77d1",
            False,
        ),
        (
            "esco_occupation",
            "http://data.europa.eu/esco/skill/f2b15a0e-e65a-438a-affb-29b9d50b77d1",
            False,
        ),
        ("esco_occupation", "http://data.europa.eu/esco/occupation/welder", False),
        (
            "esco_skills",
            ["http://data.europa.eu/esco/skill/0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"],
            True,
        ),
        (
            "esco_skills",
            ["http://data.europa.eu/esco/occupation/0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"],
            False,
        ),
        ("esco_skills", [], False),
        ("isced_f", "07", True),
        ("isced_f", "071", True),
        ("isced_f", "0715", True),
        ("isced_f", "7", False),
        ("isced_f", "07151", False),
        ("eqf_level", 8, True),
        ("eqf_level", "3", False),
        ("eqf_level", True, False),
        ("learning_hours", 1, True),
        ("learning_hours", 0, False),
        ("learning_hours", 12.5, False),
        ("assessment_method", "recognition_of_prior_learning", True),
        ("assessment_method", "interview", False),
        ("language_of_instruction", "ar", True),
        ("language_of_instruction", "ara", False),
        ("country_of_award", "ma", False),
        ("nqf", {"framework": "CNC Maroc"}, False),
        ("nqf", {"framework": "CNC Maroc", "level": "3", "band": "x"}, False),
        ("title", {"en": "Welder", "pt-BR": "Soldador", "sr-Latn": "Zavarivač"}, True),
        ("title", {}, False),
        ("title", {"english": "Welder"}, False),
        ("title", {"en": ""}, False),
        ("title", "Welder", False),
    ],
)
def test_qualification_claim_rules(
    qualification: CredentialType, claim: str, value: Any, valid: bool
) -> None:
    claims = copy.deepcopy(qualification.example)
    claims["qualification"][claim] = value
    if valid:
        qualification.validate(claims)
    else:
        found = violations_of(qualification, claims)
        assert all(v["path"].startswith(f"$.qualification.{claim}") for v in found), found


def test_a_bad_language_tag_is_reported_at_its_own_path(qualification: CredentialType) -> None:
    claims = copy.deepcopy(qualification.example)
    claims["qualification"]["title"]["English"] = "Welder"
    found = violations_of(qualification, claims)
    assert found == [
        {
            "path": "$.qualification.title.English",
            "message": "not a language tag (BCP 47, e.g. en, fr, ar, pt-BR)",
        }
    ]


def test_skill_proficiency_is_a_named_level(skill: CredentialType) -> None:
    claims = copy.deepcopy(skill.example)
    for level in ("basic", "intermediate", "advanced", "expert"):
        claims["skill"]["proficiency"] = level
        skill.validate(claims)
    claims["skill"]["proficiency"] = 4
    assert [v["path"] for v in violations_of(skill, claims)] == ["$.skill.proficiency"]


def test_claims_that_are_not_an_object(skill: CredentialType) -> None:
    assert violations_of(skill, ["not", "claims"]) == [
        {"path": "$", "message": "must be an object"}
    ]


def test_registered_claims_are_not_issuer_input(skill: CredentialType) -> None:
    claims = {**skill.example, "iss": "https://x.example", "vct": SKILL_VCT}
    assert [v["path"] for v in violations_of(skill, claims)] == ["$.iss", "$.vct"]


def test_a_person_with_one_name_needs_no_given_name(skill: CredentialType) -> None:
    claims = copy.deepcopy(skill.example)
    del claims["given_name"], claims["birthdate"], claims["nationalities"]
    skill.validate(claims)
    del claims["family_name"]
    assert violations_of(skill, claims) == [
        {"path": "$.family_name", "message": "missing required claim"}
    ]


def test_disclosed_claims_may_omit_what_the_holder_withheld(
    qualification: CredentialType,
) -> None:
    disclosed = {k: v for k, v in qualification.example.items() if k not in ("birthdate",)}
    del disclosed["family_name"]  # mandatory, but selectively disclosable: may be withheld
    qualification.validate_disclosed(disclosed)
    with pytest.raises(SchemaError):
        qualification.validate(disclosed)
    without_achievement = {k: v for k, v in disclosed.items() if k != "qualification"}
    with pytest.raises(SchemaError) as caught:
        qualification.validate_disclosed(without_achievement)
    assert caught.value.extra["violations"] == [
        {"path": "$.qualification", "message": "missing required claim"}
    ]


def test_the_validator_is_compiled_once_per_type(monkeypatch: pytest.MonkeyPatch) -> None:
    compiled: list[object] = []

    real = credtypes.Draft202012Validator

    class Spy:
        FORMAT_CHECKER = real.FORMAT_CHECKER
        check_schema = staticmethod(real.check_schema)

        def __new__(cls, *args: Any, **kwargs: Any) -> Any:
            compiled.append(args[0])
            return real(*args, **kwargs)

    monkeypatch.setattr(credtypes, "Draft202012Validator", Spy)
    credtypes._load_types.cache_clear()  # a fresh registry, so its validators compile here
    registry = load_types(SCHEMAS)  # validates each example once while loading
    for ctype in registry:
        for _ in range(3):
            ctype.validate(ctype.example)
    assert len(compiled) == len(registry) == 2


def test_date_format_checking_is_enabled() -> None:
    assert "date" in credtypes.Draft202012Validator.FORMAT_CHECKER.checkers


# -- type metadata ---------------------------------------------------------------------------
@pytest.mark.parametrize("folder", ["qualification", "skill"])
def test_the_metadata_has_the_structure_the_draft_describes(folder: str) -> None:
    document = json.loads((SCHEMAS / folder / "type-metadata.json").read_text("utf-8"))
    assert metadata_problems(document) == []
    assert document["vct"] == f"https://credentials.passerelle.org/types/{folder}/v1"
    # latest draft naming: "locale" (not the older "lang"); no embedded JSON Schema (removed in -12)
    for entry in document["display"]:
        assert set(entry) <= {"locale", "name", "description", "rendering"}
    for claim in document["claims"]:
        assert set(claim) <= {"path", "display", "sd", "mandatory", "svg_id"}
        assert claim["sd"] in ("always", "never")  # the draft recommends no "allowed"
        for entry in claim["display"]:
            assert set(entry) == {"locale", "label", "description"}
    assert "schema" not in document and "schema_uri" not in document


@pytest.mark.parametrize("folder", ["qualification", "skill"])
def test_the_metadata_points_at_the_schema_with_its_integrity(folder: str) -> None:
    document = json.loads((SCHEMAS / folder / "type-metadata.json").read_text("utf-8"))
    schema_bytes = (SCHEMAS / folder / "schema.json").read_bytes()
    schema = json.loads(schema_bytes)
    assert document["claims_schema_uri"] == schema["$id"] == f"{document['vct']}/schema.json"
    digest = base64.b64encode(hashlib.sha256(schema_bytes).digest()).decode()
    assert document["claims_schema_uri#integrity"] == f"sha256-{digest}", (
        f"schema.json changed: set claims_schema_uri#integrity to sha256-{digest}"
    )


@pytest.mark.parametrize("folder", ["qualification", "skill"])
def test_every_schema_claim_has_a_label_in_every_language(
    registry: TypeRegistry, folder: str
) -> None:
    ctype = registry.get(f"https://credentials.passerelle.org/types/{folder}/v1")
    expected = schema_paths(ctype.schema)
    assert set(ctype.claim_paths()) == expected
    for path in expected:
        locales = [entry["locale"] for entry in ctype.metadata["claims"][0]["display"]]
        assert locales == list(LANGUAGES)
        entries = {
            entry["locale"]: entry
            for claim in ctype.metadata["claims"]
            if tuple(claim["path"]) == path
            for entry in claim["display"]
        }
        assert sorted(entries) == sorted(LANGUAGES), path
        for lang in LANGUAGES:
            assert entries[lang]["label"].strip() and entries[lang]["description"].strip()
            assert ctype.label(path, lang) == entries[lang]["label"]
            assert ctype.claim_description(path, lang) == entries[lang]["description"]
        assert ARABIC.search(entries["ar"]["label"]), path
        assert ARABIC.search(entries["ar"]["description"]), path


@pytest.mark.parametrize("name", ["QualificationCredential", "SkillCredential"])
def test_the_type_has_a_name_and_description_in_every_language(
    registry: TypeRegistry, name: str
) -> None:
    ctype = registry.get(name)
    names = {lang: ctype.display_name(lang) for lang in LANGUAGES}
    assert len(set(names.values())) == 4
    assert all(ctype.description(lang) for lang in LANGUAGES)
    assert ARABIC.search(names["ar"]) and ARABIC.search(ctype.description("ar"))
    assert ctype.display_name("de") == names["en"]  # no German: English
    assert ctype.display_name("fr-CA") == names["fr"]


@pytest.mark.parametrize("folder", ["qualification", "skill"])
def test_mandatory_claims_are_the_required_ones(registry: TypeRegistry, folder: str) -> None:
    ctype = registry.get(f"https://credentials.passerelle.org/types/{folder}/v1")
    assert set(ctype.mandatory_paths()) == required_paths(ctype.schema)


def test_metadata_problems_finds_what_breaks_the_draft() -> None:
    assert metadata_problems([]) == ["the document is not a JSON object"]
    problems = metadata_problems(
        {
            "name": 3,
            "display": [{"lang": "en", "name": "Old style"}],
            "claims": [
                {"path": []},
                {"path": ["a", -1]},
                {"path": ["b"], "sd": "sometimes", "mandatory": "yes"},
                {"path": ["b"], "display": [{"locale": "en"}]},
                {"path": ["c"], "svg_id": "1c"},
            ],
        }
    )
    assert problems == [
        "vct: required, a non-empty string",
        "name: must be a string",
        "display[0].locale: required, a language tag",
        "claims[0].path: required, a non-empty array of strings, nulls and non-negative integers",
        "claims[1].path: required, a non-empty array of strings, nulls and non-negative integers",
        "claims[2].sd: must be always, allowed or never",
        "claims[2].mandatory: must be true or false",
        'claims[3].path: ["b"] is described twice',
        "claims[3].display[0].label: required, a non-empty string",
        "claims[4].svg_id: letters, digits and _, not starting with a digit",
    ]
    assert metadata_problems({"vct": "urn:x", "anything": {"else": 1}}) == []


# -- disclosure policy and labels ------------------------------------------------------------
def test_person_claims_are_always_disclosable_the_achievement_never(
    qualification: CredentialType, skill: CredentialType
) -> None:
    for ctype, achievement in ((qualification, "qualification"), (skill, "skill")):
        assert ctype.selectively_disclosable_paths() == PERSON_PATHS
        for path in PERSON_PATHS:
            assert ctype.disclosure_policy(path) == "always"
        assert ctype.disclosure_policy(("credential_number",)) == "never"
        assert ctype.disclosure_policy((achievement,)) == "never"
        assert ctype.disclosure_policy((achievement, "title")) == "never"
    assert qualification.disclosure_policy(("qualification", "esco_skills", 0)) == "never"
    assert qualification.disclosure_policy(("nationalities", 1)) == "never"


def test_registered_and_unknown_claims(qualification: CredentialType) -> None:
    assert qualification.disclosure_policy(("iss",)) == "never"
    assert qualification.disclosure_policy(("status", "status_list", "idx")) == "never"
    assert qualification.disclosure_policy(("cnf", "jwk")) == "never"
    assert qualification.disclosure_policy(("nickname",)) == "allowed"  # the draft's default


def test_labels_fall_back_to_english_then_to_the_claim_name(
    qualification: CredentialType,
) -> None:
    assert qualification.label(("qualification", "eqf_level"), "fr") == "Niveau CEC"
    assert qualification.label(("qualification", "eqf_level"), "es") == "Nivel MEC"
    assert qualification.label(("qualification", "eqf_level"), "de") == "EQF level"
    assert qualification.label(("qualification", "eqf_level"), "fr-MA") == "Niveau CEC"
    assert qualification.label(("nationalities", 0), "en") == "Nationality"
    assert qualification.label(("qualification", "esco_skills", 2), "ar") == "مهارة ESCO"
    assert qualification.label(("qualification", "title", "fr"), "en") == "fr"
    assert qualification.label(("favourite_tool",), "fr") == "favourite_tool"
    assert qualification.claim_description(("favourite_tool",), "fr") is None


# -- helpers ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("lang", "rtl"),
    [
        ("ar", True),
        ("ar-MA", True),
        ("fa", True),
        ("he", True),
        ("ur-PK", True),
        ("en", False),
        ("fr", False),
        ("es-419", False),
        ("ar-Latn", False),
        ("az-Arab", True),
    ],
)
def test_is_rtl(lang: str, rtl: bool) -> None:
    assert is_rtl(lang) is rtl


def test_json_path() -> None:
    assert json_path(()) == "$"
    assert json_path(("qualification", "eqf_level")) == "$.qualification.eqf_level"
    assert json_path(("nationalities", 0)) == "$.nationalities[0]"
    assert json_path(("esco_skills", None)) == "$.esco_skills[*]"
    assert json_path(("title", "pt-BR")) == "$.title['pt-BR']"


def test_languages() -> None:
    assert LANGUAGES == ("en", "fr", "es", "ar")


# -- loading malformed folders ---------------------------------------------------------------
@pytest.fixture
def copied(tmp_path: Path) -> Path:
    shutil.copytree(SCHEMAS / "skill", tmp_path / "skill")
    return tmp_path


def test_a_copied_folder_loads(copied: Path) -> None:
    assert load_types(copied).names == ["SkillCredential"]


def test_a_missing_file_is_named(copied: Path) -> None:
    (copied / "skill" / "example.json").unlink()
    with pytest.raises(InvalidInputError, match=r"skill/example\.json: missing"):
        load_types(copied)


def test_bad_json_is_named_with_its_position(copied: Path) -> None:
    (copied / "skill" / "type-metadata.json").write_text('{"vct": ', "utf-8")
    with pytest.raises(InvalidInputError, match=r"type-metadata\.json: not valid JSON \(line 1"):
        load_types(copied)


def test_an_invalid_json_schema_is_named(copied: Path) -> None:
    (copied / "skill" / "schema.json").write_text('{"type": "thing"}', "utf-8")
    with pytest.raises(InvalidInputError, match=r"schema\.json: not a valid JSON Schema"):
        load_types(copied)


def test_invalid_metadata_is_named(copied: Path) -> None:
    file = copied / "skill" / "type-metadata.json"
    document = json.loads(file.read_text("utf-8"))
    del document["vct"]
    file.write_text(json.dumps(document), "utf-8")
    with pytest.raises(
        InvalidInputError, match=r"type-metadata\.json: not valid Type Metadata: vct"
    ):
        load_types(copied)


def test_an_example_that_does_not_validate_is_named(copied: Path) -> None:
    file = copied / "skill" / "example.json"
    file.write_text(json.dumps({"family_name": "X"}), "utf-8")
    with pytest.raises(InvalidInputError, match=r"example\.json: does not validate"):
        load_types(copied)


def test_an_empty_or_missing_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="no credential type folder"):
        load_types(tmp_path)
    with pytest.raises(InvalidInputError, match="not a directory"):
        load_types(tmp_path / "absent")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("fr-MA,fr;q=0.9,en;q=0.8", "fr"),
        ("de-DE,ar;q=0.5,es;q=0.7", "es"),
        ("ar", "ar"),
        ("de,ja", None),
        ("", None),
        (None, None),
        (";;;,q=zz,en;q=abc,fr;q=0.1", "fr"),
    ],
)
def test_preferred_language_from_accept_language(header: str | None, expected: str | None) -> None:
    assert credtypes.preferred_language(header) == expected
