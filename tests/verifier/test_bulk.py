"""POST /api/v1/verify/bulk: CSV or JSON in, one report row per token out (JSON or CSV)."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.requests import Request

from passerelle import qr, sdjwt
from tests.factories import NOW, credential, example_claims, key, trust_list, trust_source
from tests.verifier.conftest import TRUST_URL, Server, admin_headers
from verifier.routes import bulk

URL = "/api/v1/verify/bulk"
STAMP = NOW.strftime("%Y-%m-%dT%H:%M:%SZ")


def report(client: TestClient, **kwargs: Any) -> dict[str, Any]:
    response = client.post(URL, **kwargs)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    body: dict[str, Any] = response.json()
    return body


def csv_report(client: TestClient, **kwargs: Any) -> list[dict[str, str]]:
    response = client.post(URL, **kwargs)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    disposition = response.headers["content-disposition"]
    assert disposition == 'attachment; filename="verification-report-20261125T120000Z.csv"'
    assert response.content.startswith(b"\xef\xbb\xbf")  # BOM, for spreadsheets
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"), newline="")))
    assert rows and list(rows[0]) == list(bulk.REPORT_COLUMNS)
    return rows


def problem(client: TestClient, status: int, code: str, **kwargs: Any) -> dict[str, Any]:
    response = client.post(URL, **kwargs)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["code"] == code
    return body


def upload(text: str, *, bom: bool = False) -> bytes:
    return (b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8")


def test_json_report_of_a_valid_a_revoked_and_a_garbage_token(client: TestClient) -> None:
    body = report(
        client,
        json={
            "tokens": [
                credential(status_idx=3),
                {"token": credential(status_idx=7), "reference": "W-0002"},
                "not a credential",
            ],
            "lang": "fr",
        },
    )
    assert body["summary"] == {"total": 3, "valid": 1, "invalid": 2, "revoked": 1, "suspended": 0}
    assert body["verified_at"] == STAMP and body["lang"] == "fr"
    good, revoked, garbage = body["results"]
    claims = example_claims()
    assert good == {
        "index": 1,
        "reference": None,
        "valid": True,
        "status": "valid",
        "issuer_id": "https://cfp-casablanca.example.ma",
        "issuer_name": "Centre Hay Hassani",
        "type": "QualificationCredential",
        "given_name": claims["given_name"],
        "family_name": claims["family_name"],
        "failed_checks": [],
        "verified_at": STAMP,
    }
    assert revoked["index"] == 2 and revoked["reference"] == "W-0002"
    assert (revoked["valid"], revoked["status"]) == (False, "revoked")
    assert revoked["failed_checks"] == ["credential_revoked"]
    assert revoked["given_name"] == claims["given_name"]  # genuine, so the recruiter can match
    assert garbage["index"] == 3 and garbage["valid"] is False
    assert garbage["status"] == "unknown" and garbage["failed_checks"] == ["qr_invalid"]
    assert garbage["issuer_id"] is None and garbage["given_name"] is None


def test_no_personal_data_beyond_names(client: TestClient) -> None:
    claims = example_claims()
    row = report(client, json=[credential(status_idx=3)])["results"][0]
    assert set(row) == set(bulk.REPORT_COLUMNS)
    assert claims["birthdate"] not in str(row) and claims["credential_number"] not in str(row)
    # a presentation that withholds the names gives none
    shown = sdjwt.present(credential(holder=key("holder")), [("birthdate",)])
    row = report(client, json=[shown])["results"][0]
    assert row["valid"] is True
    assert row["given_name"] is None and row["family_name"] is None


def test_forged_credential_names_are_not_shown(client: TestClient) -> None:
    forged = credential(issuer_key=key("forger"))
    header, payload, _ = credential().split("~")[0].split(".")
    forged = ".".join((header, payload, forged.split("~")[0].split(".")[2])) + "~"
    row = report(client, json={"tokens": [forged]})["results"][0]
    assert row["failed_checks"] == ["invalid_signature"]
    assert row["given_name"] is None and row["family_name"] is None
    assert row["issuer_name"] == "Hay Hassani Centre"  # the claimed issuer is listed


def test_csv_in_csv_out(client: TestClient) -> None:
    text = (
        "Reference;Worker;Token\r\n"
        f"A-1;Youssef;{credential(status_idx=3)}\r\n"
        ";;\r\n"  # blank rows are skipped
        f"A-2;Youssef;{qr.encode_payload(credential(status_idx=8))}\r\n"
        "A-3;Nobody;garbage\r\n"
    )
    rows = csv_report(
        client,
        content=upload(text, bom=True),
        headers={"content-type": "text/csv", "accept": "text/csv"},
    )
    assert [row["index"] for row in rows] == ["1", "2", "3"]
    assert [row["reference"] for row in rows] == ["A-1", "A-2", "A-3"]
    assert [row["valid"] for row in rows] == ["true", "false", "false"]
    assert [row["status"] for row in rows] == ["valid", "suspended", "unknown"]
    assert [row["failed_checks"] for row in rows] == ["", "credential_suspended", "qr_invalid"]
    assert rows[0]["issuer_name"] == "Hay Hassani Centre"
    assert rows[0]["verified_at"] == STAMP
    assert "Youssef" not in {row["reference"] for row in rows}  # other columns are not echoed


def test_multipart_upload_format_and_query_options(client: TestClient) -> None:
    text = f"token\n{credential(status_idx=3)}\n"
    rows = csv_report(
        client,
        files={"file": ("workers.csv", upload(text), "text/csv")},
        params={"format": "csv", "lang": "ar"},
    )
    assert rows[0]["issuer_name"] == "مركز الحي الحسني" and rows[0]["reference"] == ""
    # the same upload as JSON, verified as of another moment
    body = report(
        client,
        files={"file": ("workers.csv", upload(text), "text/csv")},
        params={"at": "2026-11-26T08:30:00+01:00"},
        headers={"accept": "text/csv;q=0.5, application/json"},
    )
    assert body["verified_at"] == "2026-11-26T07:30:00Z"
    assert body["results"][0]["valid"] is True


def test_output_cells_cannot_start_a_formula(client: TestClient, server: Server) -> None:
    source = trust_source()
    source["issuers"][0]["names"]["en"] = '=HYPERLINK("http://evil.example")'
    server.documents[TRUST_URL] = trust_list(source)
    assert client.post("/api/v1/admin/trust/refresh", headers=admin_headers()).status_code == 200
    claims = example_claims()
    claims["given_name"], claims["family_name"] = "@SUM(A1)", "-2+3"
    token = credential(claims=claims, status_idx=3)
    references = ["=cmd|' /C calc'!A0", "+1", " \t-5", "ordinary"]
    items = [{"token": token, "reference": ref} for ref in references]
    rows = csv_report(client, json={"tokens": items}, params={"format": "csv"})
    assert [row["reference"] for row in rows] == ["'=cmd|' /C calc'!A0", "'+1", "'-5", "ordinary"]
    assert rows[0]["issuer_name"] == '\'=HYPERLINK("http://evil.example")'
    assert (rows[0]["given_name"], rows[0]["family_name"]) == ("'@SUM(A1)", "'-2+3")
    # JSON carries the values as they are: it is data, not a spreadsheet
    row = report(client, json={"tokens": items})["results"][0]
    assert row["reference"] == references[0] and row["given_name"] == "@SUM(A1)"


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({"json": {"tokens": []}}, 422, "request_invalid"),
        ({"json": {"tokens": ["x"], "extra": 1}}, 422, "request_invalid"),
        ({"json": {"tokens": [{"token": "x", "reference": "r" * 201}]}}, 422, "request_invalid"),
        ({"json": {"tokens": ["x"], "at": "2026-01-01T00:00:00"}}, 422, "request_invalid"),
        ({"json": {"tokens": ["x"], "at": "0001-01-01T00:00:00+01:00"}}, 422, "request_invalid"),
        ({"json": ["x"], "params": {"format": "xlsx"}}, 422, "request_invalid"),
        ({"json": ["x"], "params": {"lang": "<script>"}}, 422, "request_invalid"),
        ({"json": ["x"] * 1001}, 413, "payload_too_large"),
        ({"content": b"{", "headers": {"content-type": "application/json"}}, 422,
         "request_invalid"),
        ({"content": b"token", "headers": {"content-type": "text/plain"}}, 422, "request_invalid"),
        ({"content": b"", "headers": {"content-type": "text/csv"}}, 422, "request_invalid"),
        ({"content": b"token\n", "headers": {"content-type": "text/csv"}}, 422, "request_invalid"),
        ({"content": b"tok,ref\nx,y\n", "headers": {"content-type": "text/csv"}}, 422,
         "request_invalid"),
        ({"content": b"token,token\nx,y\n", "headers": {"content-type": "text/csv"}}, 422,
         "request_invalid"),
        ({"content": b'token\n"x"y\n', "headers": {"content-type": "text/csv"}}, 422,
         "request_invalid"),
        ({"content": "token\ncaf\xe9\n".encode("latin-1"), "headers": {"content-type": "text/csv"}},
         422, "csv_encoding"),
        ({"content": b"token\nx\x00\n", "headers": {"content-type": "text/csv"}}, 422,
         "csv_encoding"),
        ({"content": b"token\n" + b"x\n" * 1001, "headers": {"content-type": "text/csv"}}, 413,
         "payload_too_large"),
        ({"files": {"other": ("a.csv", b"token\nx\n", "text/csv")}}, 422, "request_invalid"),
    ],
)  # fmt: skip
def test_malformed_requests(
    client: TestClient, kwargs: dict[str, Any], status: int, code: str
) -> None:
    body = problem(client, status, code, **kwargs)
    assert "xlsx" not in str(body.get("errors", ""))  # values are never echoed


def test_body_size_limit(client: TestClient) -> None:
    big = b"token\n" + b"x" * bulk.MAX_BYTES
    problem(client, 413, "payload_too_large", content=big, headers={"content-type": "text/csv"})
    problem(client, 413, "payload_too_large", files={"file": ("big.csv", big, "text/csv")})


def test_row_limit_is_inclusive(client: TestClient) -> None:
    body = report(client, json=["garbage"] * bulk.MAX_ROWS)
    assert body["summary"]["total"] == bulk.MAX_ROWS
    assert body["results"][-1]["index"] == bulk.MAX_ROWS


@pytest.mark.parametrize(
    ("accept", "wants_csv"),
    [
        ("", False),
        ("*/*", False),
        ("text/csv", True),
        ("text/csv, */*;q=0.1", True),
        ("application/json, text/csv", False),
        ("text/csv;q=0.4, application/json;q=0.8", False),
        ("text/*;q=0.9, application/json;q=0.5", True),
        ("text/csv;q=oops", False),
    ],
)
def test_accept_negotiation(accept: str, wants_csv: bool) -> None:
    request = Request({"type": "http", "headers": [(b"accept", accept.encode())]})
    assert bulk._wants_csv(request, None) is wants_csv
    assert bulk._wants_csv(request, "json") is False


def test_safe_cell() -> None:
    assert [bulk.safe_cell(v) for v in (None, True, False, 3, ["a", "b"], "-x", "a=b")] == [
        "",
        "true",
        "false",
        "3",
        "a b",
        "'-x",
        "a=b",
    ]
