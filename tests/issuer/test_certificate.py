"""The printable certificate: its HTML, what headless Chromium shows of it, and its PDF.

The browser tests render the page in Debian's Chromium, screenshot the sheet (into the
test's tmp_path), decode the QR code from the screenshot and find the holder's name on the
page. On the development machine (2 cores) a PDF takes about 0.9 s with a cold start of
Chromium (:func:`render_certificate_pdf`) and about 70 ms from a started
:class:`PdfRenderer` (8 concurrent prints: about 0.5 s in all).
"""

from __future__ import annotations

import asyncio
import copy
import functools
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from markupsafe import escape

from issuer.certificate import (
    CertificateRenderError,
    IssuerProfile,
    PdfRenderer,
    format_date,
    render_certificate_html,
    render_certificate_pdf,
)
from passerelle import codelists, qr
from passerelle.credential import issue_credential
from passerelle.credtypes import CredentialType, load_types
from passerelle.errors import InvalidInputError, QrTooLargeError
from passerelle.keys import generate_key
from tests.factories import example_claims
from tests.issuer import conftest_browser
from tests.issuer.conftest_browser import run_in_thread

# the shared browser fixtures, made visible to this module
browser = conftest_browser.browser
browser_page = conftest_browser.browser_page
chromium_path = conftest_browser.chromium_path

ISSUER = "https://cfp-casablanca.example.ma"
NOW = datetime(2025, 7, 10, 9, 30, tzinfo=UTC)
EXPIRES = NOW + timedelta(days=3650)
LANGS = ("en", "fr", "es", "ar")
PAGE_OBJECT = re.compile(rb"/Type\s*/Page(?![A-Za-z])")

PROFILE = IssuerProfile(
    names={
        "fr": "Institut spécialisé de technologie appliquée — Casablanca",
        "en": "Specialised Institute of Applied Technology — Casablanca",
        "ar": "المعهد المتخصص للتكنولوجيا التطبيقية — الدار البيضاء",
    },
    country="MA",
    accreditation_body={
        "fr": "Département de la Formation professionnelle",
        "en": "Department of Vocational Training",
        "ar": "قطاع التكوين المهني",
    },
    accreditation_number="DFP-ACC-2019-0457",
    website="https://cfp-casablanca.example.ma",
)


# --- factories --------------------------------------------------------------------------


@functools.cache
def ctype(name: str = "QualificationCredential") -> CredentialType:
    return load_types().get(name)


def claims_of(name: str = "QualificationCredential", **changes: Any) -> dict[str, Any]:
    """The type's example claims (a deep copy), top-level members replaced by ``changes``."""
    claims = copy.deepcopy(ctype(name).example)
    claims.update(changes)
    return claims


def with_english_title(claims: dict[str, Any]) -> dict[str, Any]:
    claims["qualification"]["title"]["en"] = "Qualified welder in steel construction"
    return claims


def payload_for(claims: Mapping[str, Any], name: str = "QualificationCredential") -> str:
    """The compact paper payload of a real credential issued with ``claims``."""
    issued = issue_credential(
        claims,
        credential_type=ctype(name),
        key=generate_key(),
        issuer=ISSUER,
        now=NOW,
        valid_for=timedelta(days=3650),
    )
    return qr.encode_payload(issued.compact)


def render(
    claims: Mapping[str, Any] | None = None,
    *,
    lang: str = "fr",
    name: str = "QualificationCredential",
    payload: str = "PS1:TEST",
    issuer: IssuerProfile | Mapping[str, Any] = PROFILE,
    **options: Any,
) -> str:
    return render_certificate_html(
        claims=claims if claims is not None else claims_of(name),
        credential_type=ctype(name),
        issuer=issuer,
        lang=lang,
        qr_payload=payload,
        issued_at=NOW,
        expires_at=EXPIRES,
        **options,
    )


@pytest.fixture(scope="module")
def qualification_payload() -> str:
    return payload_for(with_english_title(claims_of()))


def text_of(length: int, words: str) -> str:
    """``words`` repeated up to exactly ``length`` characters (no trailing space)."""
    text = (words * (length // len(words) + 1))[:length]
    return text[:-1] + "x" if text.endswith(" ") else text


def longest_claims() -> dict[str, Any]:
    """Every text at the schema's maximum length: the page must still be one sheet."""
    claims = claims_of()
    claims["given_name"] = text_of(100, "Mohammed-Amine ")
    claims["family_name"] = text_of(100, "Ben Abdelkader El Idrissi ")
    qualification = claims["qualification"]
    qualification["title"] = {
        "fr": text_of(300, "Technicien spécialisé en maintenance industrielle "),
        "ar": text_of(300, "فني متخصص في الصيانة الصناعية "),
    }
    qualification["description"] = {
        "fr": text_of(300, "Diagnostic et réparation d'équipements industriels. ")
    }
    qualification["nqf"] = {
        "framework": text_of(100, "Cadre national des certifications "),
        "level": text_of(20, "Technicien spécialisé"),
    }
    ctype().validate(claims)
    return claims


# --- the HTML ---------------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGS)
def test_page_has_the_holder_the_title_and_the_type_in_its_language(lang: str) -> None:
    claims = with_english_title(claims_of())
    page = render(claims, lang=lang)
    assert "Youssef El Amrani" in page
    expected_title = {
        "en": "Qualified welder in steel construction",
        "fr": "Soudeur qualifié en construction métallique",
        "es": "Qualified welder in steel construction",  # no Spanish title: English
        "ar": "لحّام مؤهل في البناء المعدني",
    }[lang]
    assert str(escape(expected_title)) in page
    assert str(escape(ctype().display_name(lang))) in page
    assert f'<html lang="{lang}" dir="{"rtl" if lang == "ar" else "ltr"}">' in page


def test_a_title_missing_in_the_language_falls_back_and_is_tagged_with_its_own() -> None:
    page = render(claims_of(), lang="en")  # the example has only fr and ar titles
    assert 'lang="fr" dir="ltr">Soudeur qualifié en construction métallique</h2>' in page
    assert '<html lang="en" dir="ltr">' in page


def test_arabic_page_is_right_to_left_with_an_arabic_font() -> None:
    page = render(lang="ar")
    assert '<html lang="ar" dir="rtl">' in page
    assert '"Noto Naskh Arabic"' in page
    assert "4 يوليو 2025" in page  # awarded_on, in Arabic month names
    # the French description shown on an Arabic page says it is French and left to right
    assert 'lang="fr" dir="ltr">Soudage' in page


@pytest.mark.parametrize("lang", LANGS)
def test_labels_come_from_the_type_metadata_and_codes_are_described(lang: str) -> None:
    page = render(lang=lang)
    qualification = ctype()
    for path in (
        ("qualification", "awarded_on"),
        ("qualification", "isco08"),
        ("qualification", "eqf_level"),
        ("qualification", "isced_f"),
        ("qualification", "assessment_method"),
        ("credential_number",),
        ("birthdate",),
    ):
        assert str(escape(qualification.label(path, lang))) in page, path
    for list_name, code in (
        ("isco08", "7212"),
        ("eqf", 3),
        ("iscedf", "0715"),
        ("assessment_method", "mixed"),
    ):
        described = codelists.describe(list_name, code, lang)
        assert described and str(escape(described)) in page, list_name
    assert "ISTA-CAS-2025-004817" in page
    assert "DFP-ACC-2019-0457" in page


def test_skill_certificate_describes_the_proficiency() -> None:
    page = render(lang="es", name="SkillCredential")
    assert "Amina Diallo" in page
    assert "Low-voltage electrical installation in housing" in page  # English fallback
    assert str(escape(codelists.describe("proficiency", "intermediate", "es") or "")) in page
    assert "18 de septiembre de 2025" in page


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("en", ["4 July 2025", "1 July 2025", "10 July 2025"]),
        ("fr", ["4 juillet 2025", "1er juillet 2025", "10 juillet 2025"]),
        ("es", ["4 de julio de 2025", "1 de julio de 2025", "10 de julio de 2025"]),
        ("ar", ["4 يوليو 2025", "1 يوليو 2025", "10 يوليو 2025"]),
    ],
)
def test_dates_are_written_for_the_language(lang: str, expected: list[str]) -> None:
    days = [date(2025, 7, 4), date(2025, 7, 1), date(2025, 7, 10)]
    assert [format_date(day, lang) for day in days] == expected
    assert format_date(date(2026, 2, 28), f"{lang}-MA").endswith("2026")


def test_dates_of_issue_and_expiry_are_printed() -> None:
    page = render(lang="fr")
    assert "10 juillet 2025" in page  # issued_at
    assert "8 juillet 2035" in page  # expires_at, ten years of 365 days later


def test_learning_hours_are_grouped_for_the_language() -> None:
    assert "1,600" in render(lang="en")
    assert "1\u202f600" in render(lang="fr")
    assert ">1600<" in render(lang="es")


@pytest.mark.parametrize(
    "field", ["given_name", "family_name", "title", "issuer", "number", "description"]
)
def test_every_value_is_escaped(field: str) -> None:
    attack = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    claims = with_english_title(claims_of())
    issuer: IssuerProfile | dict[str, Any] = PROFILE
    options: dict[str, Any] = {}
    if field in ("given_name", "family_name"):
        claims[field] = attack
    elif field in ("title", "description"):
        claims["qualification"][field] = {"en": attack}
    elif field == "issuer":
        issuer = {
            "names": {"en": attack},
            "country": "MA",
            "accreditation_body": attack,
            "accreditation_number": attack,
        }
    else:
        options["credential_number"] = attack
    page = render(claims, lang="en", issuer=issuer, **options)
    assert "<script" not in page
    assert "<img" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page


def test_qr_code_is_inline_svg_without_an_xml_prologue(qualification_payload: str) -> None:
    page = render(payload=qualification_payload)
    assert page.count("<svg") == 1
    assert "<?xml" not in page
    assert 'shape-rendering="crispEdges"' in page
    assert "<link" not in page and "<script" not in page  # self-contained, no script


def test_credential_number_argument_overrides_the_claim() -> None:
    page = render(credential_number="CAS/2025/000123")
    assert "CAS/2025/000123" in page
    assert "ISTA-CAS-2025-004817" not in page


def test_profile_as_a_mapping_and_a_logo() -> None:
    logo = "data:image/png;base64,iVBORw0KGgo="
    page = render(
        issuer={
            "names": {"es": "Centro de Formación de Dakar"},
            "country": "SN",
            "accreditation_body": "ANAQ-Sup",
            "accreditation_number": "A-12",
            "logo_url": logo,
        },
        lang="fr",
    )
    assert "Centro de Formación de Dakar" in page  # the only name there is
    assert f'src="{logo}"' in page


@pytest.mark.parametrize(
    "profile",
    [
        {"names": {}, "country": "MA", "accreditation_body": "X", "accreditation_number": "1"},
        {"names": {"en": "A"}, "country": "MA", "accreditation_body": "X"},
        {
            "names": {"en": "A"},
            "country": "MA",
            "accreditation_body": "X",
            "accreditation_number": "1",
            "logo_url": "javascript:alert(1)",
        },
        {
            "names": {"en": "A"},
            "country": "MA",
            "accreditation_body": "X",
            "accreditation_number": "1",
            "logo_url": "data:image/svg+xml;base64,PHN2Zz4=",
        },
        {
            "names": {"en": "A"},
            "country": "MA",
            "accreditation_body": "X",
            "accreditation_number": "1",
            "colour": "red",
        },
    ],
    ids=["no-name", "no-accreditation-number", "script-logo", "svg-logo", "unknown-key"],
)
def test_bad_issuer_profiles_are_refused(profile: dict[str, Any]) -> None:
    with pytest.raises(InvalidInputError):
        render(issuer=profile)


@pytest.mark.parametrize("lang", ["de", "zh", ""])
def test_unsupported_languages_are_refused(lang: str) -> None:
    with pytest.raises(InvalidInputError, match="certificates are printed in"):
        render(lang=lang)


def test_a_regional_tag_uses_its_language() -> None:
    assert '<html lang="fr" dir="ltr">' in render(lang="fr-MA")


def test_claims_without_a_family_name_or_an_achievement_are_refused() -> None:
    claims = claims_of()
    del claims["family_name"]
    with pytest.raises(InvalidInputError, match="family_name"):
        render(claims)
    with pytest.raises(InvalidInputError, match="achievement"):
        render({"family_name": "Diallo"})


def test_a_payload_too_large_for_a_qr_code_is_refused() -> None:
    with pytest.raises(QrTooLargeError):
        render(payload="A" * 5000)


def test_long_texts_get_smaller_type() -> None:
    page = render(longest_claims())
    assert "holder holder--longer" in page
    assert "achievement achievement--longer" in page


# --- in headless Chromium ---------------------------------------------------------------


def screenshot_of(page: Any, html: str, file: Path) -> bytes:
    page.set_content(html)
    return bytes(page.locator(".sheet").screenshot(path=str(file)))


@pytest.mark.parametrize("lang", LANGS)
def test_chromium_shows_the_name_and_a_qr_code_that_decodes_to_the_payload(
    lang: str, browser_page: Any, tmp_path: Path, qualification_payload: str
) -> None:
    claims = with_english_title(claims_of())
    html = render(claims, lang=lang, payload=qualification_payload)
    image = screenshot_of(browser_page, html, tmp_path / f"certificate-{lang}.png")

    assert qr.decode_image(image) == qualification_payload
    name = browser_page.locator(".holder-name")
    assert name.is_visible()
    assert name.inner_text() == "Youssef El Amrani"
    assert browser_page.get_by_text("Youssef El Amrani", exact=True).is_visible()
    assert browser_page.locator("html").get_attribute("dir") == ("rtl" if lang == "ar" else "ltr")


def test_chromium_uses_an_arabic_font_for_arabic(browser_page: Any) -> None:
    browser_page.set_content(render(lang="ar"))
    family = browser_page.locator("h2.achievement").evaluate(
        "element => getComputedStyle(element).fontFamily"
    )
    assert family.startswith('"Noto Naskh Arabic"')


def test_the_longest_texts_still_fit_one_sheet_with_a_readable_qr_code(
    browser_page: Any, tmp_path: Path
) -> None:
    claims = longest_claims()
    payload = payload_for(claims)
    html = render(claims, lang="fr", payload=payload)
    image = screenshot_of(browser_page, html, tmp_path / "longest.png")
    assert qr.decode_image(image) == payload

    def bottom(box: dict[str, float]) -> float:
        return box["y"] + box["height"]

    sheet = browser_page.locator(".sheet").bounding_box()
    frame = browser_page.locator(".frame").bounding_box()
    body = browser_page.locator(".body").bounding_box()
    qr_box = browser_page.locator(".qr-code svg").bounding_box()
    assert bottom(frame) <= bottom(sheet) + 0.5
    assert frame["y"] <= qr_box["y"] and bottom(qr_box) <= bottom(frame)
    # no claim is clipped away: the last line of details ends inside the body
    details = browser_page.locator(".detail")
    assert details.count() == 9
    for index in range(details.count()):
        assert bottom(details.nth(index).bounding_box()) <= bottom(body) + 0.5
    assert browser_page.locator(".holder-name").is_visible()


# --- PDF --------------------------------------------------------------------------------


def page_count(pdf: bytes) -> int:
    return len(PAGE_OBJECT.findall(pdf))


@pytest.mark.parametrize("lang", ["fr", "ar"])
def test_pdf_is_one_a4_page(lang: str, chromium_path: str, qualification_payload: str) -> None:
    pdf = render_certificate_pdf(render(lang=lang, payload=qualification_payload))
    assert pdf.startswith(b"%PDF-")
    assert page_count(pdf) == 1
    # A4 in points: 595.28 x 841.89 (Chromium writes the MediaBox with these sizes)
    media_box = re.search(rb"/MediaBox\s*\[\s*0 0 ([0-9.]+) ([0-9.]+)\s*\]", pdf)
    assert media_box is not None
    width, height = (float(value) for value in media_box.groups())
    assert abs(width - 595.28) < 1 and abs(height - 841.89) < 1


def test_pdf_of_the_longest_texts_is_still_one_page(chromium_path: str) -> None:
    claims = longest_claims()
    pdf = render_certificate_pdf(render(claims, lang="fr", payload=payload_for(claims)))
    assert page_count(pdf) == 1


def test_renderer_is_reused_for_many_pdfs(chromium_path: str) -> None:
    pages = [render(lang=lang) for lang in LANGS]

    async def scenario() -> list[bytes]:
        async with PdfRenderer(executable_path=chromium_path, max_concurrent=2) as renderer:
            first = await renderer.render(pages[0])
            others = await asyncio.gather(*(renderer.render(page) for page in pages[1:]))
            return [first, *others]

    pdfs = run_in_thread(scenario)
    assert len(pdfs) == len(LANGS)
    assert all(pdf.startswith(b"%PDF-") and page_count(pdf) == 1 for pdf in pdfs)


def test_renderer_must_be_started() -> None:
    async def scenario() -> None:
        await PdfRenderer().render("<p>x</p>")

    with pytest.raises(CertificateRenderError, match="not started"):
        run_in_thread(scenario)


def test_renderer_without_chromium_fails_cleanly(tmp_path: Path) -> None:
    async def scenario() -> None:
        await PdfRenderer(executable_path=str(tmp_path / "no-chromium")).start()

    with pytest.raises(CertificateRenderError, match="no Chromium"):
        run_in_thread(scenario)


def test_renderer_can_be_closed_twice_and_restarted(chromium_path: str) -> None:
    async def scenario() -> bytes:
        renderer = PdfRenderer(executable_path=chromium_path)
        await renderer.start()
        await renderer.close()
        await renderer.close()
        assert not renderer.started
        await renderer.start()
        try:
            return await renderer.render("<p>restarted</p>")
        finally:
            await renderer.close()

    assert run_in_thread(scenario).startswith(b"%PDF-")


def test_a_centre_without_accreditation_details_prints_no_empty_line() -> None:
    profile = {"names": {"fr": "Centre"}, "country": "MA", "accreditation_body": "",
               "accreditation_number": ""}  # fmt: skip
    html = render_certificate_html(
        claims=example_claims(), credential_type=load_types().get("QualificationCredential"),
        issuer=profile, lang="en", qr_payload="PS1:ABC", issued_at=datetime(2026, 1, 1, tzinfo=UTC),
    )  # fmt: skip
    assert "No.&nbsp;" not in html and "Accreditation" not in html
