"""Request bodies and CSV files for the issuer tests."""

from __future__ import annotations

import json
from typing import Any

from passerelle.credtypes import load_types

QUALIFICATION = "QualificationCredential"

CSV_HEADER = [
    "given_name",
    "family_name",
    "birthdate",
    "nationalities",
    "qualification.title.fr",
    "qualification.awarded_on",
    "qualification.isco08",
    "qualification.eqf_level",
    "qualification.isced_f",
    "qualification.learning_hours",
    "qualification.assessment_method",
    "qualification.language_of_instruction",
    "qualification.country_of_award",
]


def claims(**changes: Any) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(json.dumps(load_types().get(QUALIFICATION).example))
    value.update(changes)
    return value


def issue_body(**changes: Any) -> dict[str, Any]:
    return {"type": QUALIFICATION, "claims": claims(**changes), "valid_days": 3650}


def csv_row(n: int, **cells: str) -> list[str]:
    row = {
        "given_name": "Youssef",
        "family_name": f"El Amrani {n}",
        "birthdate": "1998-04-17",
        "nationalities": "MA;FR",
        "qualification.title.fr": "Soudeur qualifié",
        "qualification.awarded_on": "2025-07-04",
        "qualification.isco08": "7212",
        "qualification.eqf_level": "3",
        "qualification.isced_f": "0715",
        "qualification.learning_hours": "1600",
        "qualification.assessment_method": "mixed",
        "qualification.language_of_instruction": "fr",
        "qualification.country_of_award": "MA",
    }
    row.update(cells)
    return [row[c] for c in CSV_HEADER]


def csv_bytes(rows: list[list[str]], header: list[str] | None = None) -> bytes:
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header or CSV_HEADER)
    writer.writerows(rows)
    return out.getvalue().encode()
