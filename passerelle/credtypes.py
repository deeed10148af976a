"""Passerelle's credential types: JSON Schema, SD-JWT VC Type Metadata and example claims.

Each type is one folder under ``schemas/`` (``schemas/qualification/``, ``schemas/skill/``)
holding three files:

``schema.json``
    JSON Schema (draft 2020-12) for the claims the issuer supplies. Registered claims
    (``iss``, ``iat``, ``exp``, ``cnf``, ``status``, ``vct``) are added by the issuing layer
    and are not in it. Unknown members are errors (``additionalProperties: false``).
``type-metadata.json``
    The SD-JWT VC Type Metadata document (draft-ietf-oauth-sd-jwt-vc, section "SD-JWT VC
    Type Metadata"): ``vct``, ``name``, ``description``, ``display`` (per ``locale``) and
    ``claims`` (``path``, ``display`` with ``label``/``description`` per ``locale``, ``sd``,
    ``mandatory``). Since draft -12 Type Metadata no longer carries a JSON Schema, so the
    schema is referenced by the extension member ``claims_schema_uri`` (with
    ``claims_schema_uri#integrity``, the draft's integrity-metadata syntax over the octets of
    ``schema.json``); consumers that do not know the member ignore it, as the draft requires.
``example.json``
    Realistic claims that validate (checked when the folder is loaded).

The loader reads ``schemas/`` at the root of the source tree (the project is installed in
editable mode, ``pip install -e .``, as the Makefile does). An installed wheel has no source
tree: a packaging step may copy the folders to ``passerelle/data/schemas/`` (and list them in
the package data), where :func:`load_types` looks next.

Paths are claim paths as the draft defines them: tuples of strings (object members), ``None``
(every element of an array) and non-negative integers (one element). When a path is looked
up, integers match a ``None`` element of a metadata path, so ``("nationalities", 1)`` has the
label of ``("nationalities", None)``.
"""

from __future__ import annotations

import functools
import json
import numbers
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal, NamedTuple

from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
from jsonschema.exceptions import SchemaError as JsonSchemaDefinitionError  # type: ignore[import-untyped]

from passerelle.errors import InvalidInputError, SchemaError, UnknownTypeError

__all__ = [
    "EXAMPLE_FILE",
    "LANGUAGES",
    "METADATA_FILE",
    "NON_DISCLOSABLE_CLAIMS",
    "SCHEMA_FILE",
    "SD_ALLOWED",
    "SD_ALWAYS",
    "SD_DEFAULT",
    "SD_NEVER",
    "ClaimPath",
    "CredentialType",
    "DisclosurePolicy",
    "TypeRegistry",
    "is_rtl",
    "json_path",
    "load_types",
    "metadata_problems",
    "preferred_language",
]

#: The languages every display name and claim label exists in.
LANGUAGES: tuple[str, ...] = ("en", "fr", "es", "ar")

SCHEMA_FILE = "schema.json"
METADATA_FILE = "type-metadata.json"
EXAMPLE_FILE = "example.json"

DisclosurePolicy = Literal["always", "allowed", "never"]
SD_ALWAYS: DisclosurePolicy = "always"
SD_ALLOWED: DisclosurePolicy = "allowed"
SD_NEVER: DisclosurePolicy = "never"
#: The draft's default when a claim has no ``sd`` (Claim Selective Disclosure Metadata).
SD_DEFAULT: DisclosurePolicy = SD_ALLOWED
_SD_VALUES: frozenset[str] = frozenset({SD_ALWAYS, SD_ALLOWED, SD_NEVER})

#: Registered claims the draft forbids in Disclosures, with any of their sub-claims.
NON_DISCLOSABLE_CLAIMS: frozenset[str] = frozenset(
    {"iss", "nbf", "exp", "cnf", "vct", "vct#integrity", "aka_vcts", "status"}
)

#: A claim path: member names, ``None`` for every array element, integers for one element.
ClaimPath = tuple[str | int | None, ...]

_FALLBACK_LANG = "en"
_RTL_LANGUAGES = frozenset(
    {"ar", "arc", "ckb", "dv", "fa", "he", "iw", "ks", "ps", "sd", "syr", "ug", "ur", "yi"}
)
_RTL_SCRIPTS = frozenset({"arab", "hebr", "syrc", "thaa", "nkoo", "adlm", "rohg"})
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SVG_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MAX_LISTED_IN_DETAIL = 10
#: Claim labels kept per type (metadata paths x languages asked for; beyond, computed anew).
_LABEL_CACHE_SIZE = 2048


_LANGUAGE_RANGE = re.compile(
    r"\s*([A-Za-z]{1,8})(?:-[A-Za-z0-9]{1,8})*\s*(?:;\s*q\s*=\s*([0-9.]{1,5}))?\s*"
)


def preferred_language(accept_language: str | None) -> str | None:
    """The supported language (:data:`LANGUAGES`) an ``Accept-Language`` header ranks
    highest, or ``None`` when it names none; malformed entries are skipped, never an error."""
    best, best_q = None, 0.0
    for item in (accept_language or "")[:512].split(","):
        match = _LANGUAGE_RANGE.fullmatch(item)
        if match is None:
            continue
        try:
            quality = float(match.group(2)) if match.group(2) else 1.0
        except ValueError:
            continue
        primary = match.group(1).lower()
        if primary in LANGUAGES and quality > best_q:
            best, best_q = primary, quality
    return best


def is_rtl(lang: str) -> bool:
    """Whether text in the BCP 47 language ``lang`` is written right to left (``ar`` is)."""
    subtags = lang.replace("_", "-").lower().split("-")
    script = next((s for s in subtags[1:] if len(s) == 4 and s.isalpha()), None)
    if script is not None:
        return script in _RTL_SCRIPTS
    return subtags[0] in _RTL_LANGUAGES


def json_path(path: Sequence[str | int | None]) -> str:
    """The JSONPath of a claim path: ``("qualification", "eqf_level")`` gives
    ``$.qualification.eqf_level``; ``None`` gives ``[*]``, an index ``[0]``."""
    parts = ["$"]
    for element in path:
        if element is None:
            parts.append("[*]")
        elif isinstance(element, int):
            parts.append(f"[{element}]")
        elif _IDENTIFIER.fullmatch(element):
            parts.append(f".{element}")
        else:
            escaped = element.replace("\\", "\\\\").replace("'", "\\'")
            parts.append(f"['{escaped}']")
    return "".join(parts)


def _normalise(path: Sequence[str | int | None]) -> ClaimPath:
    """``path`` with array indices replaced by ``None``, the form metadata paths match."""
    return tuple(
        None if isinstance(element, int) and not isinstance(element, bool) else element
        for element in path
    )


def _pick(entries: Sequence[Mapping[str, Any]], lang: str) -> Mapping[str, Any] | None:
    """The display entry for ``lang``: exact tag, then same primary language, then English."""
    wanted = lang.replace("_", "-").lower()
    primary = wanted.split("-", 1)[0]
    by_tag = {str(entry.get("locale", "")).lower(): entry for entry in entries}
    if wanted in by_tag:
        return by_tag[wanted]
    for tag, entry in by_tag.items():
        if tag.split("-", 1)[0] == primary:
            return entry
    return by_tag.get(_FALLBACK_LANG)


class _Violation(NamedTuple):
    path: tuple[str | int, ...]
    message: str
    keyword: str


def _describe(error: Any) -> Iterator[_Violation]:
    """Turn one jsonschema error into violations that never echo the offending value.

    Values are left out of messages on purpose: they can be personal data (a birthdate) and
    error details must not carry any.
    """
    path: tuple[str | int, ...] = tuple(error.absolute_path)
    keyword: str = error.validator
    expected: Any = error.validator_value
    schema: Mapping[str, Any] = error.schema if isinstance(error.schema, Mapping) else {}
    title = schema.get("title")
    instance = error.instance
    if keyword == "required":
        for name in expected:
            # jsonschema reports each missing member in its own error, named in the message
            missing = isinstance(instance, Mapping) and name not in instance
            if missing and error.message.startswith(repr(name)):
                yield _Violation((*path, name), "missing required claim", keyword)
        return
    if keyword == "additionalProperties":
        known = schema.get("properties", {})
        patterns = list(schema.get("patternProperties", {}))
        for name in instance if isinstance(instance, Mapping) else ():
            if name in known or any(re.search(p, name) for p in patterns):
                continue
            message = (
                "not a language tag (BCP 47, e.g. en, fr, ar, pt-BR)"
                if patterns
                else "unknown claim"
            )
            yield _Violation((*path, name), message, keyword)
        return
    yield _Violation(path, _message(keyword, expected, schema, title), keyword)


def _message(keyword: str, expected: Any, schema: Mapping[str, Any], title: Any) -> str:
    wanted = f"expected {title}" if isinstance(title, str) else None
    if keyword == "type":
        kinds = expected if isinstance(expected, list) else [expected]
        return "must be " + " or ".join(_TYPE_NAMES.get(str(kind), str(kind)) for kind in kinds)
    if keyword == "format":
        # same message as the pattern that usually goes with it, so the two merge
        return wanted or f"not a valid {expected}"
    if keyword == "pattern":
        return wanted or f"does not match the pattern {expected}"
    if keyword == "enum":
        return "must be one of: " + ", ".join(str(value) for value in expected)
    simple = {
        "minimum": f"must be at least {expected}",
        "maximum": f"must be at most {expected}",
        "exclusiveMinimum": f"must be more than {expected}",
        "exclusiveMaximum": f"must be less than {expected}",
        "minLength": f"must have at least {expected} character(s)",
        "maxLength": f"must have at most {expected} character(s)",
        "minItems": f"must have at least {expected} item(s)",
        "maxItems": f"must have at most {expected} item(s)",
        "uniqueItems": "must not repeat an item",
        "minProperties": f"must have at least {expected} member(s)",
        "maxProperties": f"must have at most {expected} member(s)",
        "const": f"must be {expected!r}",
    }
    return simple.get(keyword) or wanted or f"fails the '{keyword}' rule of the schema"


_TYPE_NAMES = {
    "object": "an object",
    "array": "an array",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "null": "null",
}


# -- a fast conformance check ----------------------------------------------------------------
#: A compiled check of one schema: ``(instance, its path, missing)`` -> True when the instance
#: surely conforms apart from the missing required members it appends to ``missing``;
#: False when it may not (jsonschema then decides, and says why).
_Conforms = Callable[[Any, tuple[str | int, ...], list[tuple[str | int, ...]]], bool]

#: Keywords without effect on validity (``$defs`` is reached through ``$ref`` only).
_ANNOTATIONS = frozenset(
    {"title", "description", "$comment", "examples", "default", "deprecated", "readOnly",
     "writeOnly", "$defs"}
)  # fmt: skip
_COMPILED_KEYWORDS = frozenset(
    {"$ref", "type", "enum", "format", "minLength", "maxLength", "pattern", "minimum",
     "maximum", "properties", "patternProperties", "additionalProperties", "required",
     "minProperties", "maxProperties", "items", "minItems", "maxItems", "uniqueItems"}
)  # fmt: skip
_ROOT_ONLY = frozenset({"$schema", "$id"})
_LOCAL_REF = re.compile(r"#/\$defs/[A-Za-z0-9_.-]+")
#: The Python types that surely are of a JSON Schema type (``1.0`` is an integer to
#: jsonschema too, but is left to it).
_EXACT_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}


class _UnsupportedError(Exception):
    """A schema construct the fast check does not implement: jsonschema alone decides."""


def _always(instance: Any, path: tuple[str | int, ...], missing: list[Any]) -> bool:
    return True


def _never(instance: Any, path: tuple[str | int, ...], missing: list[Any]) -> bool:
    return False


def _count(schema: Mapping[str, Any], keyword: str) -> int | None:
    value = schema.get(keyword)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _UnsupportedError(keyword)
    return value


def _bound(schema: Mapping[str, Any], keyword: str) -> int | float | None:
    value = schema.get(keyword)
    if value is None:
        return None
    if type(value) is not int and type(value) is not float:
        raise _UnsupportedError(keyword)
    return value


def _compile_conformance(root: Mapping[str, Any]) -> _Conforms | None:
    """A check equivalent to, but much cheaper than, a jsonschema validation that finds no
    error, for schemas made of the common draft 2020-12 keywords (None for others).

    It is one-sided: True means jsonschema would report nothing but the ``required``
    members the check listed; False means nothing (a value it is unsure of, such as
    ``1.0`` for an integer, is False), and the caller then runs jsonschema, whose errors
    are the ones reported. So the fast check can make a validation quicker, never laxer
    nor different.
    """
    defs = root.get("$defs", {})
    cells: dict[str, list[_Conforms]] = {}

    def reference(target: Any) -> _Conforms:
        if not isinstance(target, str) or not _LOCAL_REF.fullmatch(target):
            raise _UnsupportedError("$ref")
        name = target.removeprefix("#/$defs/")
        if not isinstance(defs, Mapping) or name not in defs:
            raise _UnsupportedError("$ref")
        if name not in cells:
            cells[name] = []
            cells[name].append(node(defs[name], False))
        cell = cells[name]
        if cell:
            return cell[0]
        return lambda instance, path, missing: cell[0](instance, path, missing)  # recursive

    def node(schema: Any, is_root: bool) -> _Conforms:
        if schema is True:
            return _always
        if schema is False:
            return _never
        if not isinstance(schema, Mapping):
            raise _UnsupportedError("schema")
        allowed = _COMPILED_KEYWORDS | _ANNOTATIONS | (_ROOT_ONLY if is_root else frozenset())
        if not set(schema) <= allowed:
            raise _UnsupportedError(", ".join(sorted(set(schema) - allowed)))
        checks: list[_Conforms] = []
        if "type" in schema:
            checks.append(_type_check(schema["type"]))
        if "$ref" in schema:
            checks.append(reference(schema["$ref"]))
        if "enum" in schema:
            checks.append(_enum_check(schema["enum"]))
        if "format" in schema:
            checks.append(_format_check(schema["format"]))
        if {"minLength", "maxLength", "pattern"} & set(schema):
            checks.append(_string_check(schema))
        if {"minimum", "maximum"} & set(schema):
            checks.append(_number_check(schema))
        if {"minItems", "maxItems", "uniqueItems", "items"} & set(schema):
            items = node(schema["items"], False) if "items" in schema else None
            checks.append(_array_check(schema, items))
        object_keywords = {"properties", "patternProperties", "additionalProperties", "required"}
        if (object_keywords | {"minProperties", "maxProperties"}) & set(schema):
            properties = schema.get("properties", {})
            patterns = schema.get("patternProperties", {})
            if not isinstance(properties, Mapping) or not isinstance(patterns, Mapping):
                raise _UnsupportedError("properties")
            checks.append(
                _object_check(
                    schema,
                    {name: node(sub, False) for name, sub in properties.items()},
                    [(re.compile(p), node(sub, False)) for p, sub in patterns.items()],
                    node(schema["additionalProperties"], False)
                    if "additionalProperties" in schema
                    else None,
                )
            )
        if not checks:
            return _always
        if len(checks) == 1:
            return checks[0]

        def every(instance: Any, path: tuple[str | int, ...], missing: list[Any]) -> bool:
            for check in checks:  # noqa: SIM110 - a loop: all(generator) makes a generator per value
                if not check(instance, path, missing):
                    return False
            return True

        return every

    try:
        return node(root, True)
    except (_UnsupportedError, re.error, TypeError):
        return None


def _type_check(expected: Any) -> _Conforms:
    names = expected if isinstance(expected, list) else [expected]
    if not names or any(not isinstance(n, str) or n not in _EXACT_TYPES for n in names):
        raise _UnsupportedError("type")
    kinds = frozenset(kind for name in names for kind in _EXACT_TYPES[name])

    def check(instance: Any, path: tuple[str | int, ...], missing: list[Any]) -> bool:
        return type(instance) in kinds

    return check


def _enum_check(values: Any) -> _Conforms:
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise _UnsupportedError("enum")
    allowed = frozenset(values)

    def check(instance: Any, path: tuple[str | int, ...], missing: list[Any]) -> bool:
        return type(instance) is str and instance in allowed

    return check


def _format_check(name: Any) -> _Conforms:
    # the very checker the jsonschema validator uses, so the same values pass
    checker = Draft202012Validator.FORMAT_CHECKER

    def check(instance: Any, path: tuple[str | int, ...], missing: list[Any]) -> bool:
        return bool(checker.conforms(instance, name))

    return check


def _string_check(schema: Mapping[str, Any]) -> _Conforms:
    shortest, longest = _count(schema, "minLength") or 0, _count(schema, "maxLength")
    pattern = schema.get("pattern")
    if pattern is not None and not isinstance(pattern, str):
        raise _UnsupportedError("pattern")
    search = re.compile(pattern).search if pattern is not None else None

    def check(instance: Any, path: tuple[str | int, ...], missing: list[Any]) -> bool:
        if not isinstance(instance, str):
            return True
        size = len(instance)
        return (
            size >= shortest
            and (longest is None or size <= longest)
            and (search is None or search(instance) is not None)
        )

    return check


def _number_check(schema: Mapping[str, Any]) -> _Conforms:
    low, high = _bound(schema, "minimum"), _bound(schema, "maximum")

    def check(instance: Any, path: tuple[str | int, ...], missing: list[Any]) -> bool:
        if type(instance) is int or type(instance) is float:
            return (low is None or instance >= low) and (high is None or instance <= high)
        # jsonschema ignores what is not a number; a number of another class is left to it
        return isinstance(instance, bool) or not isinstance(instance, numbers.Number)

    return check


def _array_check(schema: Mapping[str, Any], items: _Conforms | None) -> _Conforms:
    fewest, most = _count(schema, "minItems") or 0, _count(schema, "maxItems")
    unique = schema.get("uniqueItems", False)
    if not isinstance(unique, bool):
        raise _UnsupportedError("uniqueItems")

    def check(instance: Any, path: tuple[str | int, ...], missing: list[Any]) -> bool:
        if not isinstance(instance, list):
            return True
        size = len(instance)
        if size < fewest or (most is not None and size > most):
            return False
        # strings are unique as a set says; other items are left to jsonschema's uniq()
        if unique and not (
            all(type(item) is str for item in instance) and len(set(instance)) == size
        ):
            return False
        if items is not None:
            for index, item in enumerate(instance):
                if not items(item, (*path, index), missing):
                    return False
        return True

    return check


def _object_check(
    schema: Mapping[str, Any],
    properties: dict[str, _Conforms],
    patterns: list[tuple[re.Pattern[str], _Conforms]],
    additional: _Conforms | None,
) -> _Conforms:
    required = schema.get("required", [])
    if not isinstance(required, list) or not all(isinstance(n, str) for n in required):
        raise _UnsupportedError("required")
    fewest, most = _count(schema, "minProperties") or 0, _count(schema, "maxProperties")
    # jsonschema's find_additional_properties: one search with the patterns joined
    joined = re.compile("|".join(schema.get("patternProperties", {}))) if patterns else None

    def check(instance: Any, path: tuple[str | int, ...], missing: list[Any]) -> bool:
        if not isinstance(instance, dict):
            return True
        size = len(instance)
        if size < fewest or (most is not None and size > most):
            return False
        for name in required:
            if name not in instance:
                missing.append((*path, name))
        for key, value in instance.items():
            if type(key) is not str:
                return False
            where = (*path, key)
            sub = properties.get(key)
            if sub is not None and not sub(value, where, missing):
                return False
            for regex, matched in patterns:
                if regex.search(key) and not matched(value, where, missing):
                    return False
            if (
                additional is not None
                and sub is None
                and (joined is None or not joined.search(key))
                and not additional(value, where, missing)
            ):
                return False
        return True

    return check


@dataclass(frozen=True)
class CredentialType:
    """One credential type: its name, ``vct``, JSON Schema, Type Metadata and example claims.

    Equality and hashing use ``name`` and ``vct`` only. The compiled schema validator is
    built on first use and kept (one per type), with a fast conformance check compiled from
    the schema: claims it finds conforming skip jsonschema; any others are validated by
    jsonschema, which reports the violations.
    """

    name: str
    vct: str
    schema: dict[str, Any] = field(compare=False, repr=False)
    metadata: dict[str, Any] = field(compare=False, repr=False)
    example: dict[str, Any] = field(compare=False, repr=False)

    # -- validation ------------------------------------------------------------------------
    @cached_property
    def _validator(self) -> Any:
        # FORMAT_CHECKER checks "date" with date.fromisoformat: 2026-02-30 is refused
        return Draft202012Validator(self.schema, format_checker=Draft202012Validator.FORMAT_CHECKER)

    @cached_property
    def _conformance(self) -> _Conforms | None:
        # jsonschema's validator is built with it, once per type, as before: it is the one
        # that reports violations, and the one that decides whenever this check cannot
        _ = self._validator
        return _compile_conformance(self.schema)

    def _missing_only(self, claims: Any) -> list[tuple[str | int, ...]] | None:
        """The required members missing from ``claims`` when it surely conforms otherwise
        (``[]``: it conforms), or None when only jsonschema can tell."""
        conforms = self._conformance
        if conforms is None:
            return None
        instance = dict(claims) if isinstance(claims, Mapping) else claims
        missing: list[tuple[str | int, ...]] = []
        return missing if conforms(instance, (), missing) else None

    def _violations(self, claims: Any) -> list[_Violation]:
        instance = dict(claims) if isinstance(claims, Mapping) else claims
        found: dict[tuple[str, str], _Violation] = {}
        for error in self._validator.iter_errors(instance):
            for v in _describe(error):
                found.setdefault((json_path(v.path), v.message), v)
        # a value of the wrong type also fails its enum, pattern...: say only the type
        mistyped = {v.path for v in found.values() if v.keyword == "type"}
        kept = [v for v in found.values() if v.keyword == "type" or v.path not in mistyped]
        return sorted(kept, key=lambda v: (json_path(v.path), v.message))

    def violations(self, claims: Mapping[str, Any]) -> list[dict[str, str]]:
        """Every schema violation of ``claims``: ``{"path": JSONPath, "message": ...}``, by path."""
        if self._missing_only(claims) == []:
            return []
        return [{"path": json_path(v.path), "message": v.message} for v in self._violations(claims)]

    def validate(self, claims: Mapping[str, Any]) -> None:
        """Check the issuer-supplied ``claims`` against the type's JSON Schema.

        Formats are checked (dates must be real calendar dates).

        Raises:
            SchemaError: with every violation at once in ``extra["violations"]`` (a list of
                ``{"path", "message"}`` sorted by path); the detail summarises them.
        """
        if self._missing_only(claims) == []:
            return
        self._raise(self._violations(claims))

    def validate_disclosed(self, claims: Mapping[str, Any]) -> None:
        """Like :meth:`validate`, for the claims a presentation disclosed.

        A missing claim is tolerated when it may be selectively disclosable (``sd`` is
        ``always`` or ``allowed``): the holder may simply not have disclosed it. Everything
        else (wrong values, unknown claims, missing never-disclosable claims) is a violation.

        Raises:
            SchemaError: as :meth:`validate`.
        """
        missing = self._missing_only(claims)
        if missing is not None and all(self.disclosure_policy(p) != SD_NEVER for p in missing):
            return  # the fast check found nothing else: jsonschema would report only these
        found = [
            v
            for v in self._violations(claims)
            if not (v.keyword == "required" and self.disclosure_policy(v.path) != SD_NEVER)
        ]
        self._raise(found)

    def _raise(self, found: list[_Violation]) -> None:
        if not found:
            return
        listed = "; ".join(
            f"{json_path(v.path)}: {v.message}" for v in found[:_MAX_LISTED_IN_DETAIL]
        )
        more = len(found) - _MAX_LISTED_IN_DETAIL
        suffix = f"; and {more} more" if more > 0 else ""
        raise SchemaError(
            f"{len(found)} schema violation(s) in the {self.name} claims: {listed}{suffix}",
            violations=[{"path": json_path(v.path), "message": v.message} for v in found],
        )

    # -- claim metadata --------------------------------------------------------------------
    @cached_property
    def _claims(self) -> dict[ClaimPath, Mapping[str, Any]]:
        return {tuple(entry["path"]): entry for entry in self.metadata.get("claims", [])}

    def claim_paths(self) -> list[ClaimPath]:
        """Every claim path the Type Metadata describes, in document order."""
        return list(self._claims)

    def mandatory_paths(self) -> list[ClaimPath]:
        """The claim paths with ``mandatory: true`` (the issuer must include them)."""
        return [path for path, entry in self._claims.items() if entry.get("mandatory") is True]

    def disclosure_policy(self, path: Sequence[str | int | None]) -> DisclosurePolicy:
        """The ``sd`` value for ``path``: ``always``, ``allowed`` or ``never``.

        Registered claims such as ``iss`` or ``status`` (and their sub-claims) are ``never``;
        a claim the metadata does not list, or lists without ``sd``, gets the draft's default,
        ``allowed``.
        """
        key = _normalise(path)
        if key and isinstance(key[0], str) and key[0] in NON_DISCLOSABLE_CLAIMS:
            return SD_NEVER
        value = self._claims.get(key, {}).get("sd")
        if value == SD_ALWAYS:
            return SD_ALWAYS
        if value == SD_NEVER:
            return SD_NEVER
        return SD_DEFAULT

    def selectively_disclosable_paths(self) -> list[ClaimPath]:
        """The paths the issuing layer wraps as Disclosures, in document order.

        ``always`` claims must be disclosable; ``allowed`` ones are made disclosable too,
        because that is the choice that protects the holder. A path ending in ``None`` makes
        every element of that array a Disclosure.
        """
        return list(self._disclosable_paths)

    @cached_property
    def _disclosable_paths(self) -> tuple[ClaimPath, ...]:
        # a pure function of the metadata, asked for on every issuance
        return tuple(path for path in self._claims if self.disclosure_policy(path) != SD_NEVER)

    # -- display ---------------------------------------------------------------------------
    def display_name(self, lang: str) -> str:
        """The type's name for end users in ``lang`` (else English, else the type's name)."""
        cached = self._names.get(lang)
        if cached is not None:
            return cached
        entry = _pick(self.metadata.get("display", []), lang)
        name = str(entry["name"]) if entry and "name" in entry else self.name
        if len(self._names) < _LABEL_CACHE_SIZE:  # bounded: languages come from requests
            self._names[lang] = name
        return name

    @cached_property
    def _names(self) -> dict[str, str]:
        return {}

    def description(self, lang: str) -> str:
        """The type's description for end users in ``lang`` (else English, else ``""``)."""
        entry = _pick(self.metadata.get("display", []), lang)
        if entry and isinstance(entry.get("description"), str):
            return str(entry["description"])
        return str(self.metadata.get("description", ""))

    @cached_property
    def _labels(self) -> dict[tuple[tuple[str | int | None, ...], str], str]:
        return {}

    def label(self, path: Sequence[str | int | None], lang: str) -> str:
        """The label of the claim at ``path`` in ``lang``.

        Falls back to English, then to the claim's name (the last member name in ``path``).
        """
        asked = tuple(path)
        # a verifier labels the same claims in the same few languages on every request
        cached = self._labels.get((asked, lang))
        if cached is not None:
            return cached
        claim = self._claims.get(_normalise(asked))
        entry = _pick(claim.get("display", []), lang) if claim is not None else None
        if entry and isinstance(entry.get("label"), str):
            text = str(entry["label"])
            # member names only (True == 1 in a key); bounded: paths and languages vary
            if len(self._labels) < _LABEL_CACHE_SIZE and all(type(p) is str for p in asked):
                self._labels[asked, lang] = text
            return text
        return next((p for p in reversed(asked) if isinstance(p, str)), "")

    def claim_description(self, path: Sequence[str | int | None], lang: str) -> str | None:
        """The description of the claim at ``path`` in ``lang`` (else English), or None."""
        entry = _pick(self._claims.get(_normalise(path), {}).get("display", []), lang)
        if entry and isinstance(entry.get("description"), str):
            return str(entry["description"])
        return None


class TypeRegistry:
    """The credential types known here, found by name or by ``vct``."""

    def __init__(self, types: Iterable[CredentialType]) -> None:
        """Index ``types``.

        Raises:
            InvalidInputError: two types share a name or a ``vct``.
        """
        self._by_key: dict[str, CredentialType] = {}
        self._types: list[CredentialType] = []
        for ctype in types:
            for key in (ctype.name, ctype.vct):
                if key in self._by_key:
                    raise InvalidInputError(f"two credential types are both known as {key!r}")
                self._by_key[key] = ctype
            self._types.append(ctype)
        self._types.sort(key=lambda t: t.name)

    def get(self, name_or_vct: str) -> CredentialType:
        """The type named ``name_or_vct`` (e.g. ``SkillCredential``) or with that ``vct``.

        Raises:
            UnknownTypeError: no such type; the detail lists the known names.
        """
        try:
            return self._by_key[name_or_vct]
        except (KeyError, TypeError):
            raise UnknownTypeError(
                f"unknown credential type {name_or_vct!r}; known types: {', '.join(self.names)}"
            ) from None

    @property
    def names(self) -> list[str]:
        """The type names, sorted."""
        return [t.name for t in self._types]

    def __iter__(self) -> Iterator[CredentialType]:
        return iter(self._types)

    def __len__(self) -> int:
        return len(self._types)

    def __contains__(self, name_or_vct: object) -> bool:
        return isinstance(name_or_vct, str) and name_or_vct in self._by_key


def metadata_problems(document: Any) -> list[str]:
    """What makes ``document`` break the draft's Type Metadata structure (empty: none).

    Checks the members the draft defines: ``vct`` (required), ``name``, ``description``,
    ``extends``, ``display`` (``locale`` and ``name`` required) and ``claims`` (``path``
    required and well formed, ``display`` entries with ``locale`` and ``label``, ``sd``,
    ``mandatory``, unique ``svg_id``). Other members are allowed, as the draft says.
    """
    if not isinstance(document, Mapping):
        return ["the document is not a JSON object"]
    problems: list[str] = []
    if not isinstance(document.get("vct"), str) or not document["vct"]:
        problems.append("vct: required, a non-empty string")
    for member in ("name", "description", "extends", "extends#integrity"):
        if member in document and not isinstance(document[member], str):
            problems.append(f"{member}: must be a string")
    display = document.get("display", [])
    if not isinstance(display, list):
        problems.append("display: must be an array")
        display = []
    for i, entry in enumerate(display):
        problems += _entry_problems(f"display[{i}]", entry, "name")
        rendering = entry.get("rendering", {}) if isinstance(entry, Mapping) else {}
        if not isinstance(rendering, Mapping):
            problems.append(f"display[{i}].rendering: must be an object")
    claims = document.get("claims", [])
    if not isinstance(claims, list):
        return [*problems, "claims: must be an array"]
    seen_paths: set[str] = set()
    svg_ids: set[str] = set()
    for i, claim in enumerate(claims):
        where = f"claims[{i}]"
        if not isinstance(claim, Mapping):
            problems.append(f"{where}: must be an object")
            continue
        path = claim.get("path")
        if not _is_claim_path(path):
            problems.append(
                f"{where}.path: required, a non-empty array of strings, nulls and "
                "non-negative integers"
            )
        else:
            text = json.dumps(path)
            if text in seen_paths:
                problems.append(f"{where}.path: {text} is described twice")
            seen_paths.add(text)
        claim_display = claim.get("display", [])
        if not isinstance(claim_display, list):
            problems.append(f"{where}.display: must be an array")
            claim_display = []
        for j, entry in enumerate(claim_display):
            problems += _entry_problems(f"{where}.display[{j}]", entry, "label")
        if "sd" in claim and claim["sd"] not in _SD_VALUES:
            problems.append(f"{where}.sd: must be always, allowed or never")
        if "mandatory" in claim and not isinstance(claim["mandatory"], bool):
            problems.append(f"{where}.mandatory: must be true or false")
        if "svg_id" in claim:
            svg_id = claim["svg_id"]
            if not isinstance(svg_id, str) or not _SVG_ID.fullmatch(svg_id):
                problems.append(f"{where}.svg_id: letters, digits and _, not starting with a digit")
            elif svg_id in svg_ids:
                problems.append(f"{where}.svg_id: {svg_id} is not unique")
            else:
                svg_ids.add(svg_id)
    return problems


def _entry_problems(where: str, entry: Any, text_member: str) -> list[str]:
    if not isinstance(entry, Mapping):
        return [f"{where}: must be an object"]
    problems = []
    if not isinstance(entry.get("locale"), str) or not entry["locale"]:
        problems.append(f"{where}.locale: required, a language tag")
    if not isinstance(entry.get(text_member), str) or not entry[text_member]:
        problems.append(f"{where}.{text_member}: required, a non-empty string")
    if "description" in entry and not isinstance(entry["description"], str):
        problems.append(f"{where}.description: must be a string")
    return problems


def _is_claim_path(path: Any) -> bool:
    return (
        isinstance(path, list)
        and len(path) > 0
        and all(
            element is None
            or isinstance(element, str)
            or (isinstance(element, int) and not isinstance(element, bool) and element >= 0)
            for element in path
        )
    )


# -- loading ---------------------------------------------------------------------------------
def _default_directory() -> Path:
    package = Path(__file__).resolve().parent
    for candidate in (package.parent / "schemas", package / "data" / "schemas"):
        if candidate.is_dir():
            return candidate
    raise InvalidInputError(
        f"no credential type folders: neither {package.parent / 'schemas'} nor "
        f"{package / 'data' / 'schemas'} exists (install the project in editable mode)"
    )


def _read_json(file: Path) -> Any:
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidInputError(f"{file}: missing (a type folder needs {file.name})") from None
    except UnicodeDecodeError:
        raise InvalidInputError(f"{file}: not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise InvalidInputError(
            f"{file}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None


def _load_folder(folder: Path) -> CredentialType:
    schema_file, metadata_file, example_file = (
        folder / SCHEMA_FILE,
        folder / METADATA_FILE,
        folder / EXAMPLE_FILE,
    )
    schema, metadata, example = (_read_json(f) for f in (schema_file, metadata_file, example_file))
    if not isinstance(schema, dict):
        raise InvalidInputError(f"{schema_file}: must hold a JSON object")
    try:
        Draft202012Validator.check_schema(schema)
    except JsonSchemaDefinitionError as exc:
        raise InvalidInputError(
            f"{schema_file}: not a valid JSON Schema (draft 2020-12): {exc.message}"
        ) from None
    problems = metadata_problems(metadata)
    if not problems and not isinstance(metadata.get("name"), str):
        problems.append("name: required here (the type's name, e.g. SkillCredential)")
    if problems:
        raise InvalidInputError(f"{metadata_file}: not valid Type Metadata: {'; '.join(problems)}")
    if not isinstance(example, dict):
        raise InvalidInputError(f"{example_file}: must hold a JSON object of claims")
    ctype = CredentialType(
        name=metadata["name"],
        vct=metadata["vct"],
        schema=schema,
        metadata=metadata,
        example=example,
    )
    try:
        ctype.validate(example)
    except SchemaError as exc:
        raise InvalidInputError(f"{example_file}: does not validate: {exc.detail}") from None
    return ctype


def load_types(directory: Path | None = None) -> TypeRegistry:
    """Read every type folder in ``directory`` (default: the project's ``schemas/``).

    Each sub-folder holds ``schema.json``, ``type-metadata.json`` and ``example.json``;
    folders whose name starts with ``.`` or ``_`` are skipped. Without ``directory`` the
    source tree's ``schemas/`` is used, else a copy in ``passerelle/data/schemas/``.

    Raises:
        InvalidInputError: a folder is malformed (the message names the file), two types
            clash, or there is no type at all.
    """
    return _load_types((directory if directory is not None else _default_directory()).resolve())


@functools.cache
def _load_types(root: Path) -> TypeRegistry:
    # read once per directory and process: the registry is immutable data, and checking
    # every schema against its metaschema costs milliseconds
    if not root.is_dir():
        raise InvalidInputError(f"{root}: not a directory of credential types")
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
    if not folders:
        raise InvalidInputError(f"{root}: holds no credential type folder")
    return TypeRegistry(_load_folder(folder) for folder in folders)
