"""``passerelle issue``, ``present`` and ``verify``: the credential's life on the command line."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from passerelle import errors, sdjwt
from passerelle.cli._common import (
    EXIT_INVALID,
    EXIT_OK,
    cli_errors,
    fail,
    print_json,
    read_json_file,
    read_text_arg,
)
from passerelle.cli._fetch import load_text_source
from passerelle.credential import issue_credential
from passerelle.credtypes import LANGUAGES, is_rtl, load_types
from passerelle.keys import (
    KeyStore,
    PublicKey,
    SigningKey,
    private_key_from_jwk,
    public_key_from_jwk,
    resolve_passphrase,
)
from passerelle.trustlist import TrustStore, verify_trust_list
from passerelle.verification import StatusLists, VerificationResult, Verifier

__all__ = ["register"]


def _default_store() -> Path:
    return Path(os.environ.get("PASSERELLE_KEY_DIR", "keys"))


def _parse_time(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        fail(f"{option} must be an RFC 3339 date-time, e.g. 2027-01-31T12:00:00Z")
    if moment.tzinfo is None:
        fail(f"{option} must carry a time zone (Z or +hh:mm)")
    return moment


def _load_public_key(path: Path) -> PublicKey:
    data = read_json_file(path)
    if isinstance(data, dict) and "keys" in data:
        keys = data["keys"]
        if not isinstance(keys, list) or len(keys) != 1:
            raise errors.InvalidInputError(f"{path}: a JWKS with exactly one key is expected")
        data = keys[0]
    return public_key_from_jwk(data)


def _load_private_key(path: Path) -> SigningKey:
    return private_key_from_jwk(read_json_file(path))


def _write_or_print(text: str, output: Path | None) -> None:
    if output is None:
        typer.echo(text)
    else:
        output.write_text(text + "\n", encoding="utf-8")


def issue(
    claims_file: Annotated[Path, typer.Argument(help="JSON or YAML file with the subject claims.")],
    credential_type: Annotated[
        str, typer.Option("--type", "-t", help="QualificationCredential, SkillCredential or a vct.")
    ] = "QualificationCredential",
    issuer: Annotated[str, typer.Option(help="The issuer's https identifier (iss).")] = "",
    store: Annotated[Path | None, typer.Option(help="Key store directory (default keys/).")] = None,
    kid: Annotated[str | None, typer.Option(help="Signing key (default: the active key).")] = None,
    key_file: Annotated[
        Path | None, typer.Option("--key", help="Private JWK file instead of the key store.")
    ] = None,
    holder_key: Annotated[
        Path | None, typer.Option(help="Holder public JWK file: binds the credential (cnf).")
    ] = None,
    valid_days: Annotated[int | None, typer.Option(help="Validity in days (exp).")] = None,
    status_uri: Annotated[str | None, typer.Option(help="Status List Token URI.")] = None,
    status_idx: Annotated[int | None, typer.Option(help="Index in that status list.")] = None,
    decoys: Annotated[int, typer.Option(help="Decoy digests per _sd array.")] = 0,
    output: Annotated[Path | None, typer.Option("--output", "-o")] = None,
) -> None:
    """Sign a credential offline from a claims file (pilots and tests)."""
    with cli_errors():
        if not issuer:
            fail("--issuer is required (the https identifier of the training centre)")
        if (status_uri is None) != (status_idx is None):
            fail("--status-uri and --status-idx go together")
        ctype = load_types().get(credential_type)
        claims = read_json_file(claims_file)
        if not isinstance(claims, dict):
            fail(f"{claims_file} must hold a JSON object of claims")
        if key_file is not None:
            key = _load_private_key(key_file)
        else:
            key = KeyStore(store or _default_store(), resolve_passphrase()).signing_key(kid)
        holder = read_json_file(holder_key) if holder_key else None
        status = {"uri": status_uri, "idx": status_idx} if status_uri is not None else None
        issued = issue_credential(
            claims,
            credential_type=ctype,
            key=key,
            issuer=issuer,
            valid_for=timedelta(days=valid_days) if valid_days else None,
            holder_jwk=holder,
            status=status,
            decoys=decoys,
        )
        _write_or_print(issued.compact, output)


def _path(text: str) -> tuple[str | int, ...]:
    return tuple(int(p) if p.isdigit() else p for p in text.split("."))


def present(
    token: Annotated[str, typer.Argument(help="The SD-JWT VC, or - for standard input.")] = "-",
    disclose: Annotated[
        list[str] | None,
        typer.Option("--disclose", "-d", help="Claim path to disclose, e.g. given_name."),
    ] = None,
    disclose_all: Annotated[bool, typer.Option("--all", help="Disclose everything.")] = False,
    list_claims: Annotated[
        bool, typer.Option("--list", help="List the disclosable claim paths and stop.")
    ] = False,
    holder_key: Annotated[
        Path | None, typer.Option(help="Holder private JWK file: adds a key binding JWT.")
    ] = None,
    holder_store: Annotated[
        Path | None, typer.Option(help="Holder key store (its active key signs the KB-JWT).")
    ] = None,
    nonce: Annotated[str | None, typer.Option(help="Verifier's nonce (with a holder key).")] = None,
    audience: Annotated[str | None, typer.Option(help="Verifier's identifier (aud).")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o")] = None,
) -> None:
    """Choose what to disclose from a credential, optionally with key binding."""
    with cli_errors():
        sd_jwt = read_text_arg(token)
        if list_claims:
            for path in sdjwt.disclosure_paths(sd_jwt):
                typer.echo(".".join(str(p) for p in path))
            return
        if holder_key is not None and holder_store is not None:
            fail("give --holder-key or --holder-store, not both")
        signer: SigningKey | None = None
        if holder_key is not None:
            signer = _load_private_key(holder_key)
        elif holder_store is not None:
            signer = KeyStore(holder_store, resolve_passphrase()).signing_key()
        if signer is None and (nonce or audience):
            fail("--nonce/--audience need a holder key to sign the key binding JWT")
        if signer is not None and not (nonce and audience):
            fail("a key binding JWT needs --nonce and --audience")
        chosen: Any = (lambda _path: True) if disclose_all else [_path(p) for p in disclose or []]
        presentation = sdjwt.present(
            sd_jwt,
            chosen,
            holder_key=signer,
            nonce=nonce,
            audience=audience,
        )
        _write_or_print(presentation, output)


def build_verifier(
    *,
    trust_lists: list[str],
    anchors: list[Path],
    issuer_keys: list[Path],
    status_lists: list[Path],
    bundle: Path | None,
    offline: bool,
    now: datetime,
) -> Verifier:
    """The verifier the options describe (shared with ``passerelle bundle``)."""
    from passerelle.bundle import read_bundle

    anchor_keys = [_load_public_key(p) for p in anchors]
    tokens = [load_text_source(src, offline=offline) for src in trust_lists]
    status_tokens = [load_text_source(str(p), offline=True) for p in status_lists]
    if bundle is not None:
        content = read_bundle(bundle.read_text(encoding="utf-8"))
        tokens.extend(content.trust_lists)
        status_tokens.extend(content.status_lists)
    trust = None
    if tokens:
        if not anchor_keys:
            fail("--trust-list needs at least one --trust-anchor (the accreditation body's key)")
        trust = TrustStore.from_lists([verify_trust_list(t, anchor_keys, now=now) for t in tokens])
    return Verifier(
        issuer_keys=[_load_public_key(p) for p in issuer_keys],
        trust=trust,
        status_lists=StatusLists(status_tokens),
        offline=offline,
    )


def verify(
    token: Annotated[str, typer.Argument(help="SD-JWT VC, QR payload, or - for stdin.")] = "-",
    trust_list: Annotated[
        list[str] | None, typer.Option("--trust-list", help="Signed trust list file or URL.")
    ] = None,
    trust_anchor: Annotated[
        list[Path] | None, typer.Option("--trust-anchor", help="Trust anchor public JWK file.")
    ] = None,
    issuer_key: Annotated[
        list[Path] | None, typer.Option("--issuer-key", help="Trust this issuer key directly.")
    ] = None,
    status_list: Annotated[
        list[Path] | None,
        typer.Option("--status-list", help="Status List Token file standing in for its URI."),
    ] = None,
    bundle: Annotated[
        Path | None, typer.Option("--bundle", help="Offline bundle (trust and status lists).")
    ] = None,
    at: Annotated[str | None, typer.Option(help="Verify as of this RFC 3339 moment.")] = None,
    nonce: Annotated[str | None, typer.Option(help="Expected key binding nonce.")] = None,
    audience: Annotated[str | None, typer.Option(help="Expected key binding audience.")] = None,
    offline: Annotated[bool, typer.Option(help="Never use the network.")] = False,
    lang: Annotated[str, typer.Option(help="Language of labels: en, fr, es, ar.")] = "en",
    as_json: Annotated[bool, typer.Option("--json", help="Print the JSON result.")] = False,
) -> None:
    """Verify a credential or presentation. Exit 0 valid, 1 not valid, 2 usage error."""
    if lang not in LANGUAGES:
        fail(f"--lang must be one of {', '.join(LANGUAGES)}")
    if (nonce is None) != (audience is None):
        fail("--nonce and --audience go together")
    moment = _parse_time(at, "--at") or datetime.now(UTC)
    with cli_errors():
        text = read_text_arg(token)
        if not text:
            fail("no token given (argument or standard input)")
        verifier = build_verifier(
            trust_lists=trust_list or [],
            anchors=trust_anchor or [],
            issuer_keys=issuer_key or [],
            status_lists=status_list or [],
            bundle=bundle,
            offline=offline,
            now=moment,
        )
        if not verifier.issuer_keys and verifier.trust is None:
            fail("give --issuer-key, or --trust-list with --trust-anchor, or --bundle")
    result = verifier.verify(text, now=moment, nonce=nonce, audience=audience, lang=lang)
    if as_json:
        print_json(result.to_json())
    else:
        _print_human(result, lang)
    raise typer.Exit(EXIT_OK if result.valid else EXIT_INVALID)


_WORDS = {
    "en": ("VALID", "NOT VALID", "Issuer", "Credential", "Status"),
    "fr": ("VALIDE", "NON VALIDE", "Émetteur", "Attestation", "Statut"),
    "es": ("VÁLIDO", "NO VÁLIDO", "Emisor", "Credencial", "Estado"),
    "ar": ("صالح", "غير صالح", "الجهة المُصدِرة", "الشهادة", "الحالة"),
}


def _print_human(result: VerificationResult, lang: str) -> None:
    console = Console(highlight=False)
    ok_word, bad_word, issuer_word, cred_word, status_word = _WORDS[lang]
    if result.valid:
        console.print(f"[bold green]✔ {ok_word}[/]")
    else:
        console.print(f"[bold red]✘ {bad_word}[/]")
    table = Table(show_header=False, box=None)
    for check in result.checks:
        mark = {True: "[green]✔[/]", False: "[red]✘[/]", None: "[dim]·[/]"}[check.ok]
        table.add_row(mark, check.name, check.code, check.detail)
    console.print(table)
    console.print(f"{status_word}: {result.status}")
    if result.issuer:
        names = result.issuer.get("names") or {}
        name = names.get(lang) or next(iter(names.values()), None) or result.issuer.get("id")
        console.print(f"{issuer_word}: {name} ({result.issuer.get('id')})")
        accreditation = result.issuer.get("accreditation")
        if isinstance(accreditation, dict):
            bodies = accreditation.get("body") or {}
            body = bodies.get(lang) or next(iter(bodies.values()), "") if bodies else ""
            console.print(f"  {accreditation.get('id', '')} — {body}")
    if result.credential:
        console.print(f"{cred_word}: {result.credential['type_name']}")
        for entry in result.credential["disclosed"]:
            value = entry.get("text", entry["value"])
            meaning = f" — {entry['meaning']}" if "meaning" in entry else ""
            shown = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value
            console.print(f"  {entry['label']}: {shown}{meaning}")
    if is_rtl(lang):
        console.print("[dim](right-to-left language: labels shown in logical order)[/]")


def register(app: typer.Typer) -> None:
    """Add ``issue``, ``present`` and ``verify`` to the top-level app."""
    app.command("issue")(issue)
    app.command("present")(present)
    app.command("verify")(verify)
