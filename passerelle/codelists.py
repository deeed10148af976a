"""Code lists behind the coded claims of Passerelle's credential types, in en, fr, es and ar.

A verifier shows an employer "7212 — Craft and related trades workers" rather than a bare
code. The lists live in ``passerelle/data/codelists.json`` (shipped in the wheel through the
``data/*.json`` package data) and are read once, on first use; nothing is read at import.

Lists (``LIST_NAMES``):

``isco08``
    ISCO-08 major groups 0-9 (ILO). A code of 1 to 4 digits is described by its major
    group, i.e. its first digit: ``describe("isco08", "7212", "en")`` gives "Craft and
    related trades workers".
``eqf``
    EQF levels 1-8, an abridged descriptor of each level (Council Recommendation of
    22 May 2017, Annex II).
``iscedf``
    ISCED-F 2013 broad fields 00-10 and 99 (UNESCO). A code of 2 to 4 digits is described
    by its broad field, i.e. its first two digits: ``"0715"`` gives "Engineering,
    manufacturing and construction".
``assessment_method``, ``proficiency``
    The enumerated values of the credential types' schemas.
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources
from typing import Any

from passerelle.errors import InvalidInputError

__all__ = ["LIST_NAMES", "describe", "list_codes", "list_title"]

#: The code lists this module knows, in the order they are documented.
LIST_NAMES: tuple[str, ...] = ("isco08", "eqf", "iscedf", "assessment_method", "proficiency")

_DATA_FILE = "codelists.json"
_FALLBACK_LANG = "en"
# How a full code is reduced to the code the list describes (None: used as it is).
_ISCO_CODE = re.compile(r"[0-9]{1,4}")
_ISCED_CODE = re.compile(r"[0-9]{2,4}")


@cache
def _lists() -> dict[str, Any]:
    """The parsed data file (read once)."""
    text = resources.files("passerelle").joinpath("data", _DATA_FILE).read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def _check_list(list_name: str) -> dict[str, Any]:
    if list_name not in LIST_NAMES:
        raise InvalidInputError(
            f"unknown code list {list_name!r}; known lists: {', '.join(LIST_NAMES)}"
        )
    entry: dict[str, Any] = _lists()[list_name]
    return entry


def _reduce(list_name: str, code: str | int) -> str | None:
    """The key under which ``code`` is described in ``list_name``, or None if malformed."""
    if isinstance(code, bool):
        return None
    # ISCED-F codes are strings: an int has lost its leading zero and matches no broad field
    text = str(code).strip()
    if list_name == "isco08":
        return text[0] if _ISCO_CODE.fullmatch(text) else None
    if list_name == "iscedf":
        return text[:2] if _ISCED_CODE.fullmatch(text) else None
    return text


def _pick(texts: dict[str, str], lang: str) -> str | None:
    """``texts`` in ``lang``, else in its primary language (``fr`` for ``fr-CA``), else English."""
    primary = lang.split("-", 1)[0].lower()
    for candidate in (lang, primary, _FALLBACK_LANG):
        if candidate in texts:
            return texts[candidate]
    return None


def describe(list_name: str, code: str | int, lang: str) -> str | None:
    """The meaning of ``code`` in ``list_name``, in ``lang`` (falling back to English).

    ISCO-08 codes of 1-4 digits are described by their major group and ISCED-F codes of
    2-4 digits by their broad field. Returns None for a code the list does not hold (or a
    malformed one): a display can then show the bare code.

    Raises:
        InvalidInputError: ``list_name`` is not one of ``LIST_NAMES``.
    """
    codes: dict[str, dict[str, str]] = _check_list(list_name)["codes"]
    key = _reduce(list_name, code)
    if key is None or key not in codes:
        return None
    return _pick(codes[key], lang)


def list_codes(list_name: str) -> tuple[str, ...]:
    """The codes ``list_name`` describes, in the data file's order.

    Raises:
        InvalidInputError: ``list_name`` is not one of ``LIST_NAMES``.
    """
    return tuple(_check_list(list_name)["codes"])


def list_title(list_name: str, lang: str) -> str:
    """The human title of ``list_name`` in ``lang`` (falling back to English).

    Raises:
        InvalidInputError: ``list_name`` is not one of ``LIST_NAMES``.
    """
    titles: dict[str, str] = _check_list(list_name)["title"]
    return _pick(titles, lang) or list_name
