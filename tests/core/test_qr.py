"""The QR transport: compact payload (PS1:), rendering, image decoding, normalise, CLI."""

from __future__ import annotations

import hashlib
import io
import json
import random
import struct
import xml.etree.ElementTree as ET
import zlib
from urllib.parse import quote

import pytest
import qrcode.util
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageFilter
from typer.testing import CliRunner

from passerelle import errors, qr
from passerelle.cli.qr import app
from passerelle.jose import b64url_encode, sign_compact
from passerelle.keys import generate_key

# --- factories ---------------------------------------------------------------------------

CLAIMS = [
    ("given_name", "Amina"),
    ("family_name", "Rahmani Benali"),
    ("birthdate", "1994-03-17"),
    ("nationality", "MA"),
    ("title", {"en": "Electrical installation", "fr": "Installation électrique", "ar": "كهرباء"}),
    ("awarding_date", "2025-06-30"),
    ("isco08", "7411"),
    ("eqf_level", 4),
    ("learning_hours", 1200),
    ("assessment_method", "practical exam and portfolio"),
]


def make_disclosure(rng: random.Random, name: str, value: object) -> str:
    salt = b64url_encode(rng.randbytes(16))
    return b64url_encode(json.dumps([salt, name, value], ensure_ascii=False).encode())


def digest(disclosure: str) -> str:
    return b64url_encode(hashlib.sha256(disclosure.encode()).digest())


def make_sd_jwt(seed: int = 1, alg: str = "EdDSA") -> tuple[str, list[str]]:
    """An issuer-signed JWT and its disclosures (built by hand, not with passerelle.sdjwt)."""
    rng = random.Random(seed)
    disclosures = [make_disclosure(rng, name, value) for name, value in CLAIMS]
    payload = {
        "iss": "https://cfp-casablanca.example.ma",
        "iat": 1767225600,
        "vct": "https://passerelle.example/vct/QualificationCredential",
        "status": {"status_list": {"idx": 48213, "uri": "https://cfp.example.ma/status/1"}},
        "_sd_alg": "sha-256",
        "_sd": sorted([digest(d) for d in disclosures] + [b64url_encode(rng.randbytes(32))]),
    }
    return sign_compact(payload, generate_key(alg), typ="dc+sd-jwt"), disclosures


def make_presentation(seed: int = 1, kb: bool = True) -> str:
    jwt, disclosures = make_sd_jwt(seed)
    sd_jwt = "~".join([jwt, disclosures[0], disclosures[1], disclosures[4]]) + "~"
    if not kb:
        return sd_jwt
    kb_payload = {
        "iat": 1767225700,
        "aud": "https://employer.example",
        "nonce": "demo-nonce-4711",
        "sd_hash": digest(sd_jwt),
    }
    return sd_jwt + sign_compact(kb_payload, generate_key("ES256"), typ="kb+jwt")


@pytest.fixture(scope="module")
def paper_token() -> str:
    jwt, disclosures = make_sd_jwt()
    return "~".join([jwt, *disclosures]) + "~"


def craft(structure: bytes, pool: bytes = b"", crc: int = 0) -> str:
    """A payload around a hand-made structure (for malformed cases)."""
    compressor = qr._compressor()
    deflated = compressor.compress(structure) + compressor.flush()
    return qr.PREFIX + qr.b45encode(deflated + struct.pack(">I", crc) + pool)


def png_bytes(image: Image.Image, fmt: str = "PNG") -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt)
    return out.getvalue()


# --- Base45 ------------------------------------------------------------------------------

RFC_9285_VECTORS = [(b"AB", "BB8"), (b"Hello!!", "%69 VD92EX0"), (b"base-45", "UJCLQE7W581")]


@pytest.mark.parametrize(("raw", "text"), [*RFC_9285_VECTORS, (b"ietf!", "QED8WEX0")])
def test_base45_rfc_9285_examples(raw: bytes, text: str) -> None:
    assert qr.b45encode(raw) == text
    assert qr.b45decode(text) == raw


@pytest.mark.parametrize("text", ["GGW", "GGWA", "ZZ", "abc", "AB=", "BB8\n"])
def test_base45_rejects_invalid(text: str) -> None:
    with pytest.raises(errors.QrError):
        qr.b45decode(text)


@given(st.binary(max_size=300))
@settings(max_examples=200, deadline=None)
def test_base45_round_trip(raw: bytes) -> None:
    text = qr.b45encode(raw)
    assert qr.b45decode(text) == raw
    assert not text.endswith(" ")  # what makes stripping scanner whitespace safe


# --- compact payload: round trips ---------------------------------------------------------


def test_paper_certificate_round_trips_and_is_alphanumeric(paper_token: str) -> None:
    payload = qr.encode_payload(paper_token)
    assert payload.startswith("PS1:")
    assert qr.decode_payload(payload) == paper_token
    assert qr.is_compact_payload(payload)
    assert qrcode.util.QRData(payload).mode == qrcode.util.MODE_ALPHA_NUM
    assert len(payload) < 0.55 * len(paper_token)


@pytest.mark.parametrize("alg", ["EdDSA", "ES256"])
def test_bare_jws_round_trips(alg: str) -> None:
    jwt, _ = make_sd_jwt(alg=alg)
    assert qr.decode_payload(qr.encode_payload(jwt)) == jwt


@pytest.mark.parametrize("kb", [True, False])
def test_presentation_round_trips(kb: bool) -> None:
    token = make_presentation(kb=kb)
    assert qr.decode_payload(qr.encode_payload(token)) == token


def test_digests_of_present_disclosures_are_references(paper_token: str) -> None:
    # the same token with one digest changed cannot use a reference for it: larger payload
    jwt, disclosures = make_sd_jwt()
    unrelated = [make_disclosure(random.Random(9), "x", 1), *disclosures[1:]]
    other = "~".join([jwt, *unrelated]) + "~"
    assert qr.decode_payload(qr.encode_payload(other)) == other
    assert len(qr.encode_payload(other)) > len(qr.encode_payload(paper_token)) + 40


@pytest.mark.parametrize(
    "token",
    [
        "",
        "hello world",
        "héllo ✓ 😀",
        "eyJhbGciOiJFZERTQSJ9.e30.AB~",  # "AB": trailing bits set, not canonical
        "eyJhbGciOiJFZERTQSJ9=.e30.AA~",  # padding
        "eyJhbGciOiJFZERTQSJ9.e30.AA~WyJ4Il0~ ",  # a space in the KB-JWT place
        "eyJhbGciOiJFZERTQSJ9.e30",  # two parts
        "a.b.c.d~",
        "~~~",
        "eyJhbGciOiJFZERTQSJ9.e30.AA~WyJ4Il0~a.b",  # KB-JWT not canonical ("a" impossible)
        "\x00\xff\xf8",
    ],
)
def test_any_string_round_trips(token: str) -> None:
    assert qr.decode_payload(qr.encode_payload(token)) == token


def test_non_canonical_part_falls_back_to_verbatim(paper_token: str) -> None:
    jwt, disclosures = make_sd_jwt()
    header, payload, signature = jwt.split(".")
    broken = ".".join([header, payload, signature[:-1] + "B"])  # Ed25519: 86 chars, 2 bits
    token = "~".join([broken, *disclosures]) + "~"
    assert qr.decode_payload(qr.encode_payload(token)) == token
    assert len(qr.encode_payload(token)) > len(qr.encode_payload(paper_token))


def test_json_part_with_non_utf8_bytes_round_trips() -> None:
    odd = b64url_encode(b'{"a":"\xf8\xf9\xfa"}')  # bytes that are markers elsewhere
    token = f"{odd}.{odd}.{b64url_encode(b'sig')}~{odd}~"
    assert qr.decode_payload(qr.encode_payload(token)) == token


def test_lone_surrogate_is_refused() -> None:
    with pytest.raises(errors.TokenFormatError):
        qr.encode_payload("a\ud800b")


def test_over_long_token_is_refused() -> None:
    with pytest.raises(errors.TokenTooLargeError):
        qr.encode_payload("A" * (1024 * 1024 + 1))


def test_dictionary_is_pinned() -> None:
    # the preset dictionary is part of the PS1 format: changing it breaks every printed code
    assert hashlib.sha256(qr.DICTIONARY).hexdigest() == qr.DICTIONARY_SHA256
    assert len(qr.DICTIONARY) == 1063
    assert qr.DICTIONARY_SHA256 == (
        "2606abb9e89a064d1ab3927523c6d53d45cf9f6185cf223a16ad93d25ce5a63d"
    )


TEXT_ALPHABET = "ABCXYZabcxyz0189-_.~=+/ %é✓\n"
B64_PART = st.binary(max_size=80).map(b64url_encode)
JSON_PART = st.dictionaries(
    st.sampled_from(["_sd", "iss", "given_name", "x"]),
    st.one_of(st.integers(), st.text(max_size=30), st.lists(B64_PART, max_size=4)),
    max_size=5,
).map(lambda d: b64url_encode(json.dumps(d, ensure_ascii=False).encode()))
JWS = st.tuples(JSON_PART, JSON_PART, B64_PART).map(".".join)


@st.composite
def sd_jwts(draw: st.DrawFn) -> str:
    disclosures = draw(st.lists(st.one_of(JSON_PART, B64_PART), max_size=6))
    issuer = draw(JWS)
    if draw(st.booleans()):  # make the payload refer to the disclosures, as an issuer does
        body = {"_sd": [digest(d) for d in disclosures], "iat": 1}
        issuer = ".".join([issuer.split(".")[0], b64url_encode(json.dumps(body).encode()), "AA"])
    sd_jwt = "~".join([issuer, *disclosures]) + "~"
    if draw(st.booleans()):
        kb_body = {"sd_hash": digest(sd_jwt), "nonce": draw(st.text(max_size=8))}
        return sd_jwt + f"{draw(JSON_PART)}.{b64url_encode(json.dumps(kb_body).encode())}.AA"
    return sd_jwt if draw(st.booleans()) else issuer


@given(st.text(alphabet=TEXT_ALPHABET, max_size=200))
@settings(max_examples=150, deadline=None)
def test_property_random_text_round_trips(token: str) -> None:
    assert qr.decode_payload(qr.encode_payload(token)) == token


@given(sd_jwts())
@settings(max_examples=150, deadline=None)
def test_property_structured_tokens_round_trip(token: str) -> None:
    payload = qr.encode_payload(token)
    assert qr.decode_payload(payload) == token
    assert qr.is_compact_payload(payload)


# --- compact payload: corrupt and hostile input ---------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "PS2:BB8",
        "ps1:BB8",
        "BB8",
        "PS1:bb8",  # lower case is not Base45
        "PS1:BB8A",  # length 3k+1
        "PS1:",
        "PS1:GGW",  # group over 65535
    ],
)
def test_malformed_payload_is_refused(text: str) -> None:
    with pytest.raises(errors.QrError):
        qr.decode_payload(text)


def test_truncated_payload_is_refused(paper_token: str) -> None:
    payload = qr.encode_payload(paper_token)
    for cut in (1, 2, 3, 6, 90, len(payload) // 2, len(payload) - 5):
        with pytest.raises(errors.QrError):
            qr.decode_payload(payload[:-cut])


def test_trailing_bytes_are_refused(paper_token: str) -> None:
    frame = qr.b45decode(qr.encode_payload(paper_token)[4:])
    with pytest.raises(errors.QrError, match="trailing"):
        qr.decode_payload(qr.PREFIX + qr.b45encode(frame + b"\x00"))


def test_every_flipped_byte_is_detected() -> None:
    token = make_presentation()
    frame = qr.b45decode(qr.encode_payload(token)[4:])
    for index in range(len(frame)):
        corrupted = bytearray(frame)
        corrupted[index] ^= 0x41
        with pytest.raises(errors.QrError):
            qr.decode_payload(qr.PREFIX + qr.b45encode(bytes(corrupted)))


def test_decompression_bomb_is_refused() -> None:
    with pytest.raises(errors.QrError, match="1 MiB"):
        qr.decode_payload(craft(b"\x00" + b" " * (2 * 1024 * 1024)))


def test_checksum_mismatch_is_refused() -> None:
    with pytest.raises(errors.QrError, match="checksum"):
        qr.decode_payload(craft(b"\x00hello", crc=zlib.crc32(b"hellO")))


def test_reference_expansion_is_bounded() -> None:
    # 200,000 references to one disclosure: 800 kB of structure, 9 MB of text
    refs = b'"\xf9\x00"' * 200_000
    structure = (
        b"\x02\x01" + json_part(b"{}") + json_part(refs) + b"\x00" + json_part(b'["s","a",1]')
    )
    with pytest.raises(errors.QrError, match="size limit"):
        qr.decode_payload(craft(structure))


def json_part(body: bytes) -> bytes:
    return qr._varint(len(body) << 1 | 1) + body


HEADER = json_part(b'{"alg":"EdDSA"}')


@pytest.mark.parametrize(
    ("structure", "message"),
    [
        (b"\x07", "unknown compact payload form"),
        (b"\x01" + HEADER + json_part(b'"\xfb"') + b"\x00", "invalid marker"),
        (b"\x01" + HEADER + json_part(b'"\xfa"') + b"\x00", "invalid marker"),  # sd_hash
        (b"\x01" + HEADER + json_part(b'"\xf9\x00"') + b"\x00", "missing disclosure"),
        (b"\x02\x01" + HEADER + json_part(b'"\xf9\x05"') + b"\x00" + json_part(b"{}"), "missing"),
        (
            b"\x02\x02"
            + HEADER
            + json_part(b"{}")
            + b"\x00"
            # disclosure 0 holds the digest of 1, and 1 the digest of 0
            + json_part(b'"\xf9\x01"')
            + json_part(b'"\xf9\x00"'),
            "cycle",
        ),
        (b"\x01" + HEADER + json_part(b'"\xf8\x10"') + b"\x00", "truncated"),  # empty pool
        (b"\x01" + HEADER + json_part(b'"\xf8\xff\xff\xff\xff\x01"') + b"\x00", "too long"),
        (b"\x01" + HEADER + json_part(b"{}"), "truncated"),  # no signature length
        (b"\x01" + HEADER + json_part(b"{}") + b"\x00\x00", "trailing bytes"),
        (b"\x02\x7f" + HEADER, "truncated"),
        (b"\x00\xff", "not UTF-8"),
        (b"", "truncated"),
    ],
)
def test_malformed_structure_is_refused(structure: bytes, message: str) -> None:
    with pytest.raises(errors.QrError, match=message):
        qr.decode_payload(craft(structure))


# --- normalise ----------------------------------------------------------------------------


def test_normalise_accepts_what_scanners_return(paper_token: str) -> None:
    payload = qr.encode_payload(paper_token)
    forms = [
        payload,
        f"  {payload}\r\n",
        paper_token,
        paper_token + "\n",
        f"https://verifier.example/#{payload}",
        f"HTTPS://VERIFIER.EXAMPLE/#{payload}",
        f"https://verifier.example/#{quote(payload, safe='')}",  # a browser escaped it
        f"https://verifier.example/scan?lang=fr#token={paper_token}",
        f"https://verifier.example/#lang=fr&token={quote(payload, safe='')}",
    ]
    for text in forms:
        assert qr.normalise(text) == paper_token, text


def test_normalise_accepts_a_presentation() -> None:
    token = make_presentation()
    assert qr.normalise(token) == token
    assert qr.normalise(qr.encode_payload(token)) == token


@pytest.mark.parametrize(
    "text",
    [
        "https://example.com/",
        "https://example.com/#",
        "https://example.com/#section-2",
        "https://example.com/#PS1:BB8",
        "hello",
        "WIFI:S:home;T:WPA;P:secret;;",
        "",
    ],
)
def test_normalise_refuses_other_codes(text: str) -> None:
    with pytest.raises(errors.QrError):
        qr.normalise(text)


def test_normalise_refuses_a_payload_of_something_else() -> None:
    with pytest.raises(errors.QrError, match="does not hold an SD-JWT"):
        qr.normalise(qr.encode_payload("just words"))


# --- rendering ----------------------------------------------------------------------------


def test_modes_and_versions(paper_token: str) -> None:
    payload = qr.encode_payload(paper_token)
    assert qrcode.util.QRData(make_presentation()).mode == qrcode.util.MODE_8BIT_BYTE
    assert qr.qr_version(payload) <= 25
    assert qr.qr_version(payload, "L") < qr.qr_version(payload, "H")
    assert qr.qr_version("HELLO") == 1
    presentation = make_presentation()
    assert qr.qr_version(qr.encode_payload(presentation)) < qr.qr_version(presentation)


def test_too_large_for_a_qr_code() -> None:
    with pytest.raises(errors.QrTooLargeError):
        qr.qr_version("a" * 3000)
    with pytest.raises(errors.QrTooLargeError):
        qr.render_png("A" * 5000, ec="H")


@pytest.mark.parametrize("kwargs", [{"ec": "X"}, {"box_size": 0}, {"border": -1}, {"mask": 8}])
def test_bad_rendering_options(kwargs: dict[str, object]) -> None:
    with pytest.raises(errors.InvalidInputError):
        qr.render_png("HELLO", **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("mask", [qr.DEFAULT_MASK, None, 5])
def test_png_round_trip_compact_payload(paper_token: str, mask: int | None) -> None:
    payload = qr.encode_payload(paper_token)
    png = qr.render_png(payload, mask=mask)
    assert png.startswith(b"\x89PNG")
    assert qr.decode_image(png) == payload


@pytest.mark.parametrize("ec", ["L", "M"])
def test_png_round_trip_plain_token_byte_mode(ec: str) -> None:
    token = make_presentation()
    assert qr.decode_image(qr.render_png(token, ec=ec, box_size=3)) == token


def test_png_round_trip_non_ascii_byte_mode() -> None:
    text = "Amina — شهادة ✓"
    assert qr.decode_image(qr.render_png(text)) == text


def test_svg_is_a_document_of_the_right_size() -> None:
    payload = qr.encode_payload(make_presentation())
    svg = qr.render_svg(payload, box_size=4, border=2)
    root = ET.fromstring(svg.split("\n", 1)[1])
    modules = qr.qr_version(payload) * 4 + 17 + 4
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root.get("viewBox") == f"0 0 {modules} {modules}"
    assert root.get("width") == str(modules * 4)


def test_svg_and_png_draw_the_same_modules() -> None:
    svg = qr.render_svg("HELLO WORLD", box_size=1, border=0)
    png = Image.open(io.BytesIO(qr.render_png("HELLO WORLD", box_size=1, border=0)))
    dark_png = png.convert("L").histogram()[0]
    path = ET.fromstring(svg.split("\n", 1)[1])[1].get("d") or ""
    dark_svg = sum(int(run.split("h")[1].split("v")[0]) for run in path.split("M")[1:])
    assert dark_png == dark_svg


# --- decoding images --------------------------------------------------------------------


def camera_like(png: bytes, angle: float = 7, seed: int = 3) -> Image.Image:
    code = Image.open(io.BytesIO(png)).convert("L").rotate(angle, expand=True, fillcolor=255)
    rng = random.Random(seed)
    scene = Image.new("L", (1280, 960), 150)
    scene.putdata([140 + rng.randrange(30) for _ in range(1280 * 960)])
    scene.paste(code, (300, 120))
    return scene.filter(ImageFilter.GaussianBlur(1.2))


def test_decode_camera_like_jpeg(paper_token: str) -> None:
    payload = qr.encode_payload(paper_token)
    scene = camera_like(qr.render_png(payload, box_size=5))
    assert qr.decode_image(png_bytes(scene.convert("RGB"), "JPEG")) == payload


def test_decode_transparent_png() -> None:
    png = Image.open(io.BytesIO(qr.render_png("HELLO"))).convert("L")
    rgba = Image.new("RGBA", png.size, (0, 0, 0, 0))
    rgba.putalpha(png.point(lambda v: 255 - v))  # black modules on a transparent sheet
    assert qr.decode_image(png_bytes(rgba)) == "HELLO"


def test_no_code_in_image() -> None:
    with pytest.raises(errors.QrNotFoundError):
        qr.decode_image(png_bytes(Image.new("L", (640, 480), 200)))


def side_by_side(first: str, second: str) -> bytes:
    left = Image.open(io.BytesIO(qr.render_png(first, box_size=4)))
    right = Image.open(io.BytesIO(qr.render_png(second, box_size=4)))
    sheet = Image.new("L", (left.width + right.width + 40, max(left.height, right.height)), 255)
    sheet.paste(left, (0, 0))
    sheet.paste(right, (left.width + 40, 0))
    return png_bytes(sheet)


def test_two_codes_in_image() -> None:
    with pytest.raises(errors.QrMultipleError):
        qr.decode_image(side_by_side("FIRST CODE", "SECOND CODE"))


def test_the_same_code_twice_counts_once() -> None:
    assert qr.decode_image(side_by_side("SAME", "SAME")) == "SAME"


def png_header(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return (
        b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + chunk + struct.pack(">I", zlib.crc32(chunk))
    )


@pytest.mark.parametrize(
    "data",
    [
        b"not an image at all",
        b"",
        b"GIF89a\x01\x00\x01\x00\x00\x00\x00;",  # an image, but not PNG or JPEG
        png_header(100_000, 100_000),  # Pillow's own bomb limit
        png_header(8_000, 7_000),  # over ours
        png_header(64, 64),  # no pixel data: truncated
    ],
)
def test_bad_images_are_refused(data: bytes) -> None:
    with pytest.raises(errors.QrError) as caught:
        qr.decode_image(data)
    assert type(caught.value) is errors.QrError


def test_oversized_upload_is_refused() -> None:
    with pytest.raises(errors.QrError, match="MiB"):
        qr.decode_image(b"\x89PNG" + bytes(qr.MAX_IMAGE_BYTES))


# --- command line -------------------------------------------------------------------------

runner = CliRunner()


@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_cli_encode_writes_an_image(tmp_path, paper_token: str, suffix: str) -> None:
    out = tmp_path / f"code{suffix}"
    result = runner.invoke(app, ["encode", "-", "-o", str(out)], input=paper_token + "\n")
    assert result.exit_code == 0, result.output
    assert "QR version" in result.output
    assert out.stat().st_size > 0


def test_cli_encode_then_decode(tmp_path, paper_token: str) -> None:
    out = tmp_path / "code.png"
    assert runner.invoke(app, ["encode", paper_token, "-o", str(out)]).exit_code == 0
    result = runner.invoke(app, ["decode", str(out)])
    assert result.exit_code == 0
    assert result.output.strip() == paper_token
    raw = runner.invoke(app, ["decode", str(out), "--raw"])
    assert raw.output.strip() == qr.encode_payload(paper_token)


def test_cli_encode_plain_prints_payload(paper_token: str) -> None:
    result = runner.invoke(app, ["encode", paper_token, "--plain", "--ec", "L"])
    assert result.exit_code == 0
    assert result.stdout.strip() == paper_token


@pytest.mark.parametrize(
    "args",
    [
        ["encode", "TOKEN", "--ec", "Z"],
        ["encode", "TOKEN", "-o", "code.gif"],
        ["encode", "a" * 3000, "--plain"],
        ["decode", "/nonexistent/code.png"],
    ],
)
def test_cli_usage_errors_exit_2(args: list[str]) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert "error [" in result.output
    assert "Traceback" not in result.output


def test_cli_decode_not_an_image(tmp_path) -> None:
    path = tmp_path / "notes.png"
    path.write_text("hello")
    result = runner.invoke(app, ["decode", str(path)])
    assert result.exit_code == 2
    assert "qr_invalid" in result.output


def test_verification_link_survives_a_browser_and_stays_alphanumeric() -> None:
    token = make_presentation(seed=7)
    link = qr.verification_link("https://verifier.example/", token)
    assert link.startswith("HTTPS://VERIFIER.EXAMPLE/#PS1:")
    assert " " not in link
    fragment = link.partition("#")[2]
    assert qrcode.util.QRData(fragment).mode == qrcode.util.MODE_ALPHA_NUM
    # two segments: a link costs little more than its payload alone
    assert qr.qr_version(link) <= qr.qr_version(fragment) + 1
    assert qr.decode_image(qr.render_png(link)) == link
    assert qr.normalise(link) == token


@pytest.mark.parametrize("seed", range(40))
def test_unescaped_links_are_read_whatever_a_browser_did(seed: int) -> None:
    # A link printed without escaping: a browser turns spaces into %20 but leaves Base45's
    # own '%' alone, so "%20" becomes ambiguous; the CRC-32 picks the right reading.
    token = make_presentation(seed=seed)
    payload = qr.encode_payload(token)
    typed = f"HTTPS://VERIFIER.EXAMPLE/#{payload}"
    assert qr.normalise(typed) == token
    assert qr.normalise(f"https://v.example/#token={quote(payload)}") == token
    assert qr.normalise(qr.verification_link("https://v.example/", token)) == token
    if "%20" not in payload:
        # a literal "%20" in the payload would be ambiguous once a browser escaped the
        # spaces: that is why verification_link percent-encodes
        assert qr.normalise(typed.replace(" ", "%20")) == token


def test_a_corrupt_link_payload_is_refused() -> None:
    payload = qr.encode_payload(make_presentation(seed=3))
    corrupt = payload[:-5] + ("A" if payload[-5] != "A" else "B") + payload[-4:]
    with pytest.raises(errors.QrError, match="corrupt"):
        qr.normalise(f"HTTPS://V.EXAMPLE/#{corrupt}")
