"""CSV uploads: from bytes to per-row subject claims, with row-level errors.

Column mapping (documented in the README): a column is named by the dotted path of the claim
it fills, as in the type's JSON Schema: ``given_name``, ``family_name``, ``birthdate``,
``nationalities``, ``credential_number``, ``qualification.title.fr``,
``qualification.eqf_level``, ``qualification.nqf.framework``... Values are converted by the
schema's type at that path: integers and numbers are parsed, arrays are ``;``-separated
(``MA;FR``), members of language maps are named by their language tag. An empty cell leaves
the claim out. One extra column, ``holder_jwk``, may carry the holder's public JWK as JSON.
``credential_number`` may be left empty: the service then numbers the credential.

Rows are numbered as a spreadsheet shows them: the header is row 1, the first record row 2.
Cells that a spreadsheet would run as a formula (starting with ``=``, ``@``, a tab or a
carriage return, or with ``+``/``-`` when not a number) are refused with
``formula_injection``: the file may be opened in a spreadsheet again later.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from passerelle.credtypes import CredentialType
from passerelle.errors import BatchInvalidError, CsvEncodingError

__all__ = ["HOLDER_JWK_COLUMN", "ParsedRow", "RowError", "parse_csv"]

HOLDER_JWK_COLUMN = "holder_jwk"
ARRAY_SEPARATOR = ";"
_FORMULA_START = ("=", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


@dataclass(frozen=True, slots=True)
class RowError:
    row: int
    field: str
    code: str
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"row": self.row, "field": self.field, "code": self.code, "message": self.message}


@dataclass(slots=True)
class ParsedRow:
    row: int
    claims: dict[str, Any] = field(default_factory=dict)
    holder_jwk: dict[str, Any] | None = None


def _resolve(schema: Mapping[str, Any], node: Mapping[str, Any]) -> Mapping[str, Any]:
    while "$ref" in node:
        ref = str(node["$ref"])
        if not ref.startswith("#/"):
            return node
        target: Any = schema
        for part in ref[2:].split("/"):
            target = target[part]
        node = target
    return node


def _column_schema(schema: Mapping[str, Any], column: str) -> Mapping[str, Any] | None:
    """The sub-schema a dotted column name points at, or ``None`` for an unknown column."""
    node = _resolve(schema, schema)
    for part in column.split("."):
        properties = node.get("properties", {})
        if part in properties:
            node = _resolve(schema, properties[part])
            continue
        patterns = node.get("patternProperties", {})
        match = next((p for p in patterns if re.search(p, part)), None)
        if match is None:
            return None
        node = _resolve(schema, patterns[match])
    return node


def _convert(value: str, node: Mapping[str, Any], schema: Mapping[str, Any]) -> Any:
    kind = node.get("type")
    if kind == "integer":
        try:
            return int(value)
        except ValueError:
            raise ValueError("must be a whole number") from None
    if kind == "number":
        try:
            return float(value)
        except ValueError:
            raise ValueError("must be a number") from None
    if kind == "boolean":
        lowered = value.lower()
        if lowered in ("true", "yes", "1"):
            return True
        if lowered in ("false", "no", "0"):
            return False
        raise ValueError("must be true or false")
    if kind == "array":
        items = _resolve(schema, node.get("items", {}))
        parts = [p.strip() for p in value.split(ARRAY_SEPARATOR)]
        return [_convert(p, items, schema) for p in parts if p]
    if kind == "object":
        raise ValueError("names an object: use one column per member (e.g. title.fr)")
    return value


def _is_formula(cell: str) -> bool:
    if cell.startswith(_FORMULA_START):
        return True
    return cell.startswith(("+", "-")) and not _NUMBER.fullmatch(cell)


def _set(claims: dict[str, Any], column: str, value: Any) -> None:
    parts = column.split(".")
    node = claims
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


def decode_text(data: bytes) -> str:
    """UTF-8 text (a BOM is allowed).

    Raises:
        CsvEncodingError: other bytes, with the offset of the first bad one.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CsvEncodingError(
            f"the file is not UTF-8 (first invalid byte at offset {exc.start}); save it as "
            "'CSV UTF-8' and upload it again"
        ) from None
    if "\x00" in text:
        raise CsvEncodingError("the file holds NUL characters: it is not a CSV text file")
    return text


def parse_csv(data: bytes, ctype: CredentialType, *, max_rows: int) -> list[ParsedRow]:
    """Every record of a CSV file as claims for ``ctype``.

    Raises:
        CsvEncodingError: not UTF-8 text.
        BatchInvalidError: any row error (all of them at once, in ``extra["errors"]``).
    """
    text = decode_text(data)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    errors: list[RowError] = []
    try:
        header = next(reader)
    except StopIteration:
        raise BatchInvalidError("the file is empty", errors=[]) from None
    except csv.Error as exc:
        raise BatchInvalidError(f"row 1: malformed CSV: {exc}", errors=[]) from None
    columns = [name.strip() for name in header]
    nodes: dict[str, Mapping[str, Any]] = {}
    for name in columns:
        if not name:
            errors.append(RowError(1, name, "empty_column_name", "a column has no name"))
        elif columns.count(name) > 1:
            errors.append(RowError(1, name, "duplicate_column", "the column appears twice"))
        elif name != HOLDER_JWK_COLUMN:
            node = _column_schema(ctype.schema, name)
            if node is None:
                errors.append(
                    RowError(1, name, "unknown_column", f"no claim {name} in {ctype.name}")
                )
            else:
                nodes[name] = node
    if errors:
        raise BatchInvalidError(_summary(errors), errors=[e.to_json() for e in errors])
    rows: list[ParsedRow] = []
    number = 1
    try:
        for record in reader:
            number += 1
            if not any(cell.strip() for cell in record):
                continue
            if len(rows) >= max_rows:
                errors.append(
                    RowError(number, "", "too_many_rows", f"a batch holds at most {max_rows} rows")
                )
                break
            rows.append(_parse_record(number, record, columns, nodes, ctype, errors))
    except csv.Error as exc:
        errors.append(RowError(number, "", "malformed_csv", str(exc)))
    if errors:
        raise BatchInvalidError(_summary(errors), errors=[e.to_json() for e in errors])
    if not rows:
        raise BatchInvalidError("the file has a header but no rows", errors=[])
    return rows


def _parse_record(
    number: int,
    record: list[str],
    columns: list[str],
    nodes: Mapping[str, Mapping[str, Any]],
    ctype: CredentialType,
    errors: list[RowError],
) -> ParsedRow:
    parsed = ParsedRow(number)
    if len(record) != len(columns):
        errors.append(
            RowError(
                number,
                "",
                "wrong_column_count",
                f"{len(record)} cells where the header has {len(columns)} columns",
            )
        )
        return parsed
    for name, raw in zip(columns, record, strict=True):
        cell = raw.strip()
        if not cell:
            continue
        if _is_formula(cell):
            errors.append(
                RowError(number, name, "formula_injection", "a cell may not start a formula")
            )
            continue
        if name == HOLDER_JWK_COLUMN:
            try:
                jwk = json.loads(cell)
            except ValueError:
                jwk = None
            if not isinstance(jwk, dict):
                errors.append(RowError(number, name, "invalid_jwk", "not a JSON object (JWK)"))
            else:
                parsed.holder_jwk = jwk
            continue
        try:
            _set(parsed.claims, name, _convert(cell, nodes[name], ctype.schema))
        except ValueError as exc:
            errors.append(RowError(number, "$." + name, "invalid_value", str(exc)))
    return parsed


def _summary(errors: list[RowError]) -> str:
    rows = sorted({e.row for e in errors})
    shown = ", ".join(str(r) for r in rows[:10])
    more = f" and {len(rows) - 10} more" if len(rows) > 10 else ""
    return f"{len(errors)} error(s) in row(s) {shown}{more}; nothing was issued"
