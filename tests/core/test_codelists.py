"""Code lists: ISCO-08 major groups, EQF levels, ISCED-F broad fields (passerelle.codelists)."""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path

import pytest

from passerelle import codelists
from passerelle.codelists import LIST_NAMES, describe, list_codes, list_title
from passerelle.credtypes import LANGUAGES
from passerelle.errors import InvalidInputError

DATA = Path(codelists.__file__).parent / "data" / "codelists.json"
SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
ARABIC = re.compile(r"[\u0600-\u06FF]")


def test_the_data_file_holds_exactly_the_listed_lists_in_every_language() -> None:
    data = json.loads(DATA.read_text("utf-8"))
    assert tuple(data) == LIST_NAMES
    for name, entry in data.items():
        assert sorted(entry["title"]) == sorted(LANGUAGES), name
        assert entry["source"]
        for code, texts in entry["codes"].items():
            assert sorted(texts) == sorted(LANGUAGES), (name, code)
            assert all(text.strip() for text in texts.values()), (name, code)
            assert ARABIC.search(texts["ar"]), (name, code)


def test_the_lists_cover_their_classifications() -> None:
    assert list_codes("isco08") == tuple(str(d) for d in range(10))
    assert list_codes("eqf") == tuple(str(n) for n in range(1, 9))
    assert list_codes("iscedf") == (*(f"{n:02d}" for n in range(11)), "99")


@pytest.mark.parametrize(
    ("lang", "text"),
    [
        ("en", "Craft and related trades workers"),
        ("fr", "Métiers qualifiés de l'industrie et de l'artisanat"),
        ("es", "Oficiales, operarios y artesanos de artes mecánicas y de otros oficios"),
        ("ar", "العاملون في الحرف وما إليها"),
    ],
)
def test_an_isco_unit_group_is_described_by_its_major_group(lang: str, text: str) -> None:
    for code in ("7", "72", "721", "7212", 7212):
        assert describe("isco08", code, lang) == text


@pytest.mark.parametrize(
    ("lang", "text"),
    [
        ("en", "Engineering, manufacturing and construction"),
        ("fr", "Ingénierie, industries de transformation et construction"),
        ("es", "Ingeniería, industria y construcción"),
        ("ar", "الهندسة والتصنيع والبناء"),
    ],
)
def test_an_isced_field_is_described_by_its_broad_field(lang: str, text: str) -> None:
    for code in ("07", "071", "0715"):
        assert describe("iscedf", code, lang) == text


@pytest.mark.parametrize("lang", LANGUAGES)
def test_eqf_levels_in_every_language(lang: str) -> None:
    texts = [describe("eqf", level, lang) for level in range(1, 9)]
    assert all(texts) and len(set(texts)) == 8
    assert describe("eqf", "3", lang) == texts[2]


def test_official_titles_spot_checks() -> None:
    assert describe("isco08", "0110", "en") == "Armed forces occupations"
    assert describe("isco08", "2", "fr") == "Professions intellectuelles et scientifiques"
    assert describe("isco08", "9", "es") == "Ocupaciones elementales"
    assert describe("iscedf", "06", "en") == "Information and Communication Technologies (ICTs)"
    assert describe("iscedf", "0923", "es") == "Salud y bienestar"
    assert describe("iscedf", "10", "fr") == "Services"
    assert describe(
        "eqf",
        1,
        "en",
    ).startswith("Basic general knowledge")


@pytest.mark.parametrize(
    ("list_name", "code"),
    [
        ("isco08", "72121"),
        ("isco08", ""),
        ("isco08", "7a"),
        ("isco08", True),
        ("iscedf", "7"),
        ("iscedf", "11"),
        ("iscedf", "07155"),
        ("iscedf", 715),  # ISCED-F codes are strings: the int lost its leading zero
        ("eqf", 0),
        ("eqf", 9),
        ("eqf", "three"),
        ("proficiency", "master"),
    ],
)
def test_codes_a_list_does_not_hold_have_no_description(list_name: str, code: str | int) -> None:
    assert describe(list_name, code, "en") is None


def test_languages_fall_back_to_english() -> None:
    english = describe("isco08", "7", "en")
    assert describe("isco08", "7", "de") == english
    assert describe("isco08", "7", "fr-MA") == describe("isco08", "7", "fr")
    assert describe("isco08", "7", "ar-SA") == describe("isco08", "7", "ar")
    assert list_title("eqf", "sw") == "EQF levels"
    assert list_title("eqf", "fr") == "Niveaux du CEC"


def test_an_unknown_list_is_an_input_error() -> None:
    with pytest.raises(InvalidInputError, match="known lists: isco08, eqf, iscedf"):
        describe("isco88", "7", "en")


def test_enumerations_of_the_schemas_have_their_code_lists() -> None:
    qualification = json.loads((SCHEMAS / "qualification" / "schema.json").read_text("utf-8"))
    skill = json.loads((SCHEMAS / "skill" / "schema.json").read_text("utf-8"))
    methods = qualification["$defs"]["assessment_method"]["enum"]
    assert list_codes("assessment_method") == tuple(methods)
    levels = skill["properties"]["skill"]["properties"]["proficiency"]["enum"]
    assert list_codes("proficiency") == tuple(levels)
    for lang in LANGUAGES:
        assert describe("assessment_method", "recognition_of_prior_learning", lang)
        assert describe("proficiency", "expert", lang)


def test_nothing_is_read_at_import() -> None:
    module = importlib.reload(codelists)
    assert module._lists.cache_info().currsize == 0
    module.describe("eqf", 1, "en")
    module.describe("eqf", 2, "fr")
    assert module._lists.cache_info().hits >= 1
    assert module._lists.cache_info().currsize == 1
