"""Receiving credentials: the Wallet side of OpenID4VCI 1.0, pre-authorized code flow.

1. Read the Credential Offer (section 4.1): an ``openid-credential-offer://`` link (or any
   URL) carrying ``credential_offer`` (the JSON object) or ``credential_offer_uri`` (where
   to GET it); the offer names the ``credential_issuer``, the
   ``credential_configuration_ids`` and the pre-authorized code grant (with ``tx_code`` when
   a transaction code was sent to the worker separately).
2. Fetch the Credential Issuer Metadata (section 12.2) at
   ``/.well-known/openid-credential-issuer`` (inserted between host and path) and the
   Authorization Server metadata (RFC 8414) at ``/.well-known/oauth-authorization-server``.
3. Token Request (section 6): ``grant_type=urn:ietf:params:oauth:grant-type:pre-authorized_code``,
   ``pre-authorized_code`` and ``tx_code``; a refusal (``invalid_grant``: wrong transaction
   code, a used or expired code) is :class:`~passerelle.errors.GrantError`.
4. Nonce Request (section 7): POST to ``nonce_endpoint`` for a ``c_nonce``.
5. Credential Request (section 8): ``credential_configuration_id`` and
   ``proofs: {"jwt": [<proof>]}``; the key proof (appendix F.1) is a JWS with
   ``typ: openid4vci-proof+jwt``, the holder's public key in the ``jwk`` header and claims
   ``aud`` (the Credential Issuer Identifier), ``iat`` and ``nonce``. An ``invalid_nonce``
   answer is retried once with a fresh nonce.
6. The answer's ``credentials[0].credential`` must be an SD-JWT VC bound to our key
   (``cnf.jwk`` is the holder key) before it is handed back to be stored.

Not supported (refused with a clear error): the authorization code flow, deferred issuance
(``transaction_id``), DPoP-bound tokens, encrypted credential responses, key attestations.
Every function takes an ``httpx.Client``, so tests run the whole flow against
``httpx.MockTransport``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

import httpx

from passerelle import errors, jose, sdjwt
from passerelle.credential import LEGACY_VC_TYP, VC_TYP
from passerelle.encoding import b64url_encode, json_dumps, json_loads_object
from passerelle.keys import SigningKey
from wallet._http import check_url, request

__all__ = [
    "AS_WELL_KNOWN",
    "ISSUER_WELL_KNOWN",
    "OFFER_SCHEME",
    "PRE_AUTHORIZED_GRANT",
    "PROOF_TYP",
    "SD_JWT_VC_FORMAT",
    "CredentialOffer",
    "IssuedCredential",
    "IssuerMetadata",
    "TxCode",
    "build_proof_jwt",
    "fetch_authorization_server_metadata",
    "fetch_issuer_metadata",
    "parse_offer",
    "receive",
    "well_known_url",
]

OFFER_SCHEME = "openid-credential-offer"
PRE_AUTHORIZED_GRANT = "urn:ietf:params:oauth:grant-type:pre-authorized_code"
PROOF_TYP = "openid4vci-proof+jwt"
ISSUER_WELL_KNOWN = "/.well-known/openid-credential-issuer"
AS_WELL_KNOWN = "/.well-known/oauth-authorization-server"
SD_JWT_VC_FORMAT = "dc+sd-jwt"
_OFFER_MAX_LENGTH = 64 * 1024


# ---------------------------------------------------------------------------------------
# Credential Offer


@dataclass(frozen=True, slots=True)
class TxCode:
    """What the offer says about the transaction code the worker must type."""

    input_mode: str = "numeric"
    length: int | None = None
    description: str | None = None


@dataclass(frozen=True, slots=True)
class CredentialOffer:
    """A Credential Offer with a pre-authorized code grant."""

    credential_issuer: str
    credential_configuration_ids: tuple[str, ...]
    pre_authorized_code: str
    tx_code: TxCode | None = None
    authorization_server: str | None = None


def _offer_from_object(obj: Any) -> CredentialOffer:
    if not isinstance(obj, dict):
        raise errors.OfferError("a credential offer must be a JSON object")
    issuer = check_url(obj.get("credential_issuer"), "credential_issuer", errors.OfferError)
    ids = obj.get("credential_configuration_ids")
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) and i for i in ids):
        raise errors.OfferError("credential_configuration_ids must be a non-empty string array")
    grants = obj.get("grants")
    grant = grants.get(PRE_AUTHORIZED_GRANT) if isinstance(grants, dict) else None
    if not isinstance(grant, dict):
        raise errors.OfferError(
            "the offer has no pre-authorized code grant (the authorization code flow is "
            "not supported by this wallet)"
        )
    code = grant.get("pre-authorized_code")
    if not isinstance(code, str) or not code:
        raise errors.OfferError("the pre-authorized_code is missing")
    tx = grant.get("tx_code")
    tx_code = None
    if tx is not None:
        if not isinstance(tx, dict):
            raise errors.OfferError("tx_code must be a JSON object")
        length = tx.get("length")
        mode = tx.get("input_mode", "numeric")
        if mode not in ("numeric", "text"):
            raise errors.OfferError("tx_code input_mode must be numeric or text")
        description = tx.get("description")
        tx_code = TxCode(
            input_mode=mode,
            length=length if isinstance(length, int) and not isinstance(length, bool) else None,
            description=description if isinstance(description, str) else None,
        )
    server = grant.get("authorization_server")
    if server is not None:
        server = check_url(server, "authorization_server", errors.OfferError)
    return CredentialOffer(
        credential_issuer=issuer,
        credential_configuration_ids=tuple(ids),
        pre_authorized_code=code,
        tx_code=tx_code,
        authorization_server=server,
    )


def parse_offer(text: str, *, client: httpx.Client) -> CredentialOffer:
    """The offer in ``text``: an ``openid-credential-offer://?credential_offer=...`` or
    ``...?credential_offer_uri=...`` link (any scheme is read the same way), or the offer
    object itself as JSON. A ``credential_offer_uri`` is fetched with ``client``.

    Raises:
        OfferError: unreadable link or offer, both or neither parameter, a non-https URL.
        EndpointError: the offer URI cannot be fetched.
    """
    text = text.strip()
    if len(text) > _OFFER_MAX_LENGTH:
        raise errors.OfferError("the credential offer is too long")
    if text.startswith("{"):
        try:
            return _offer_from_object(json_loads_object(text, "credential offer"))
        except errors.JsonError as exc:
            raise errors.OfferError(exc.detail) from None
    query = parse_qs(urlsplit(text).query, keep_blank_values=True)
    inline, by_reference = query.get("credential_offer"), query.get("credential_offer_uri")
    if bool(inline) == bool(by_reference):
        raise errors.OfferError(
            "an offer link carries exactly one of credential_offer and credential_offer_uri"
        )
    if inline:
        try:
            return _offer_from_object(json_loads_object(inline[0], "credential offer"))
        except errors.JsonError as exc:
            raise errors.OfferError(exc.detail) from None
    assert by_reference is not None
    uri = check_url(by_reference[0], "credential_offer_uri", errors.OfferError)
    answer = request(client, "GET", uri, what="credential offer URI")
    if not answer.ok:
        raise errors.OfferError(f"the credential offer URI answered HTTP {answer.status}")
    return _offer_from_object(answer.json)


# ---------------------------------------------------------------------------------------
# Metadata


def well_known_url(identifier: str, suffix: str) -> str:
    """``suffix`` (``/.well-known/...``) inserted between the host and the path of
    ``identifier``, as RFC 8414 section 3.1 and OpenID4VCI section 12.2.2 say."""
    parts = urlsplit(identifier)
    path = parts.path.rstrip("/")
    return urlunsplit((parts.scheme, parts.netloc, suffix + path, "", ""))


@dataclass(frozen=True, slots=True)
class IssuerMetadata:
    """The parts of the Credential Issuer Metadata this wallet uses (and ``raw``)."""

    credential_issuer: str
    credential_endpoint: str
    nonce_endpoint: str | None
    authorization_servers: tuple[str, ...]
    configurations: dict[str, dict[str, Any]]
    display: dict[str, str] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    def configuration(self, configuration_id: str) -> dict[str, Any]:
        """Raises IssuerMetadataError: the issuer does not describe that configuration."""
        found = self.configurations.get(configuration_id)
        if not isinstance(found, dict):
            raise errors.IssuerMetadataError(
                f"the issuer does not describe the credential configuration {configuration_id!r}"
            )
        return found


def _display_names(entries: Any) -> dict[str, str]:
    """``{locale: name}`` of a metadata ``display`` array (entries without locale: ``en``)."""
    names: dict[str, str] = {}
    if isinstance(entries, list):
        for entry in entries:
            if isinstance(entry, dict) and isinstance(entry.get("name"), str):
                locale = entry.get("locale") if isinstance(entry.get("locale"), str) else "en"
                names.setdefault(str(locale).split("-")[0], entry["name"])
    return names


def fetch_issuer_metadata(client: httpx.Client, credential_issuer: str) -> IssuerMetadata:
    """GET and check the Credential Issuer Metadata of ``credential_issuer``.

    Raises:
        IssuerMetadataError: not found, not JSON, ``credential_issuer`` not the identifier
            asked for (section 12.2.3), endpoints missing or not https.
        EndpointError: the issuer cannot be reached.
    """
    url = well_known_url(credential_issuer, ISSUER_WELL_KNOWN)
    answer = request(client, "GET", url, what="credential issuer metadata")
    body = answer.json
    if not answer.ok or not isinstance(body, dict):
        raise errors.IssuerMetadataError(
            f"no credential issuer metadata at {url} (HTTP {answer.status})"
        )
    if body.get("credential_issuer") != credential_issuer:
        raise errors.IssuerMetadataError(
            "the metadata's credential_issuer is not the issuer of the offer"
        )
    endpoint = check_url(
        body.get("credential_endpoint"), "credential_endpoint", errors.IssuerMetadataError
    )
    nonce_endpoint = body.get("nonce_endpoint")
    if nonce_endpoint is not None:
        nonce_endpoint = check_url(nonce_endpoint, "nonce_endpoint", errors.IssuerMetadataError)
    servers = body.get("authorization_servers", [])
    if not isinstance(servers, list) or not all(isinstance(s, str) for s in servers):
        raise errors.IssuerMetadataError("authorization_servers must be an array of strings")
    configurations = body.get("credential_configurations_supported")
    if not isinstance(configurations, dict) or not configurations:
        raise errors.IssuerMetadataError("credential_configurations_supported is missing")
    return IssuerMetadata(
        credential_issuer=credential_issuer,
        credential_endpoint=endpoint,
        nonce_endpoint=nonce_endpoint,
        authorization_servers=tuple(servers),
        configurations=configurations,
        display=_display_names(body.get("display")),
        raw=body,
    )


def fetch_authorization_server_metadata(client: httpx.Client, issuer: str) -> dict[str, Any]:
    """GET and check the RFC 8414 metadata of the authorization server ``issuer``.

    Raises:
        IssuerMetadataError: not found, ``issuer`` not the one asked for, no
            ``token_endpoint``. EndpointError: unreachable.
    """
    url = well_known_url(issuer, AS_WELL_KNOWN)
    answer = request(client, "GET", url, what="authorization server metadata")
    body = answer.json
    if not answer.ok or not isinstance(body, dict):
        raise errors.IssuerMetadataError(
            f"no authorization server metadata at {url} (HTTP {answer.status})"
        )
    if body.get("issuer") != issuer:
        raise errors.IssuerMetadataError(
            "the authorization server metadata names another issuer (RFC 8414 section 3.3)"
        )
    check_url(body.get("token_endpoint"), "token_endpoint", errors.IssuerMetadataError)
    return body


# ---------------------------------------------------------------------------------------
# Key proof


def build_proof_jwt(
    key: SigningKey, *, audience: str, nonce: str | None, iat: int | None = None
) -> str:
    """The OpenID4VCI key proof (appendix F.1): ``typ: openid4vci-proof+jwt``, the public
    key in the ``jwk`` header, claims ``aud``, ``iat`` and ``nonce`` (when the issuer gave
    one). No ``iss``: the pre-authorized flow here is anonymous (section F.1).

    This is the one JWS whose header carries its key, which is why it is not signed by
    :func:`passerelle.jose.sign_compact` (that refuses ``jwk``): the issuer takes the holder
    key from the proof, after checking the proof with it.
    """
    header = {"alg": key.alg, "typ": PROOF_TYP, "jwk": key.public.to_jwk()}
    claims: dict[str, Any] = {"aud": audience, "iat": int(time.time()) if iat is None else iat}
    if nonce is not None:
        claims["nonce"] = nonce
    signing_input = f"{b64url_encode(json_dumps(header))}.{b64url_encode(json_dumps(claims))}"
    signature = key.sign(signing_input.encode("ascii"))
    return f"{signing_input}.{b64url_encode(signature)}"


# ---------------------------------------------------------------------------------------
# The flow


@dataclass(frozen=True, slots=True)
class IssuedCredential:
    """A credential received and checked: the compact SD-JWT VC and where it came from."""

    credential: str
    configuration_id: str
    credential_issuer: str
    issuer: str
    vct: str
    display: dict[str, str]
    issuer_display: dict[str, str]


def _token(client: httpx.Client, endpoint: str, offer: CredentialOffer, tx_code: str | None) -> str:
    form = {"grant_type": PRE_AUTHORIZED_GRANT, "pre-authorized_code": offer.pre_authorized_code}
    if tx_code is not None:
        form["tx_code"] = tx_code
    answer = request(client, "POST", endpoint, what="token endpoint", data=form)
    if not answer.ok:
        code, description = answer.oauth_error()
        reason = {
            "invalid_grant": "the code was refused: a wrong transaction code, or a code "
            "already used or expired",
        }.get(code, "the token request was refused")
        suffix = f" ({description})" if description else ""
        raise errors.GrantError(f"{reason}{suffix}", oauth_error=code)
    body = answer.json if isinstance(answer.json, dict) else {}
    token, token_type = body.get("access_token"), body.get("token_type", "Bearer")
    if not isinstance(token, str) or not token:
        raise errors.GrantError("the token endpoint answered without an access_token")
    if not isinstance(token_type, str) or token_type.lower() != "bearer":
        raise errors.GrantError(f"token type {token_type!r} is not supported (Bearer only)")
    return token


def _nonce(client: httpx.Client, endpoint: str | None) -> str | None:
    if endpoint is None:
        return None
    answer = request(client, "POST", endpoint, what="nonce endpoint")
    body = answer.json
    nonce = body.get("c_nonce") if isinstance(body, dict) else None
    if not answer.ok or not isinstance(nonce, str) or not nonce:
        raise errors.ProofRejectedError(
            f"the nonce endpoint gave no c_nonce (HTTP {answer.status})"
        )
    return nonce


def _check_configuration(configuration: Mapping[str, Any], key: SigningKey) -> None:
    fmt = configuration.get("format")
    if fmt not in (SD_JWT_VC_FORMAT, "vc+sd-jwt"):
        raise errors.IssuerMetadataError(f"credential format {fmt!r} is not supported")
    proof_types = configuration.get("proof_types_supported")
    if isinstance(proof_types, dict):
        jwt_proof = proof_types.get("jwt")
        if not isinstance(jwt_proof, dict):
            raise errors.IssuerMetadataError("the issuer accepts no jwt key proof")
        algs = jwt_proof.get("proof_signing_alg_values_supported")
        if isinstance(algs, list) and key.alg not in algs:
            raise errors.IssuerMetadataError(
                f"the issuer does not accept {key.alg} key proofs (it accepts "
                f"{', '.join(map(str, algs))}); create the wallet with another --alg"
            )
    methods = configuration.get("cryptographic_binding_methods_supported")
    if isinstance(methods, list) and "jwk" not in methods:
        raise errors.IssuerMetadataError("the issuer cannot bind credentials to a jwk")


def _credential(
    client: httpx.Client,
    metadata: IssuerMetadata,
    token: str,
    configuration_id: str,
    key: SigningKey,
    iat: int | None,
) -> str:
    headers = {"Authorization": f"Bearer {token}"}
    for attempt in (1, 2):
        nonce = _nonce(client, metadata.nonce_endpoint)
        proof = build_proof_jwt(key, audience=metadata.credential_issuer, nonce=nonce, iat=iat)
        body = {"credential_configuration_id": configuration_id, "proofs": {"jwt": [proof]}}
        answer = request(
            client,
            "POST",
            metadata.credential_endpoint,
            what="credential endpoint",
            json=body,
            headers=headers,
        )
        if answer.ok:
            return _credential_from_response(answer.json)
        code, description = answer.oauth_error()
        suffix = f" ({description})" if description else ""
        if code == "invalid_nonce" and attempt == 1:
            continue  # section 8.3.1.2: get a fresh c_nonce and try again, once
        if code in ("invalid_proof", "invalid_nonce"):
            raise errors.ProofRejectedError(
                f"the issuer refused the key proof{suffix}", oauth_error=code
            )
        raise errors.CredentialResponseError(
            f"the credential request was refused: {code}{suffix}", oauth_error=code
        )
    raise AssertionError("unreachable")  # pragma: no cover


def _credential_from_response(body: Any) -> str:
    if isinstance(body, dict) and "transaction_id" in body and "credentials" not in body:
        raise errors.CredentialResponseError("deferred issuance is not supported")
    credentials = body.get("credentials") if isinstance(body, dict) else None
    if not isinstance(credentials, list) or not credentials:
        raise errors.CredentialResponseError("the answer carries no credentials array")
    first = credentials[0]
    value = first.get("credential") if isinstance(first, dict) else None
    if not isinstance(value, str) or not value:
        raise errors.CredentialResponseError("credentials[0].credential is not a string")
    return value


def _check_received(compact: str, key: SigningKey) -> tuple[str, str]:
    """``(iss, vct)`` of an SD-JWT VC bound to ``key``.

    Raises:
        CredentialResponseError: not an SD-JWT VC, broken disclosures, no ``cnf.jwk`` or
            another key's.
    """
    try:
        parsed = sdjwt.parse(compact)
        if parsed.kb_jwt is not None or parsed.serialization != "compact":
            raise errors.TokenFormatError("an issued credential carries no KB-JWT")
        jws = jose.parse_compact(parsed.issuer_jwt)
        jose.check_typ(jws.header, (VC_TYP, LEGACY_VC_TYP))
        sdjwt.process_disclosures(jws.payload, parsed.disclosures)
        holder = sdjwt.holder_key_from_cnf(jws.payload)
    except errors.PasserelleError as exc:
        raise errors.CredentialResponseError(
            f"the credential received is not a usable SD-JWT VC: {exc.detail}",
            cause=exc.code,
        ) from None
    if holder.kid != key.kid:
        raise errors.CredentialResponseError("the credential received is bound to another key")
    iss, vct = jws.payload.get("iss"), jws.payload.get("vct")
    if not isinstance(iss, str) or not isinstance(vct, str):
        raise errors.CredentialResponseError("the credential received lacks 'iss' or 'vct'")
    return iss, vct


def receive(
    offer: CredentialOffer,
    *,
    holder_key: SigningKey,
    client: httpx.Client,
    tx_code: str | None = None,
    iat: int | None = None,
) -> list[IssuedCredential]:
    """Redeem ``offer``: one credential per offered configuration, each bound to
    ``holder_key``. ``iat`` pins the key proofs' issue time (default: now).

    Raises:
        GrantError: a transaction code is needed but not given, or the code was refused.
        IssuerMetadataError, ProofRejectedError, CredentialResponseError, EndpointError:
            the step that failed; nothing is returned (or stored) then.
    """
    if offer.tx_code is not None and not tx_code:
        hint = f" ({offer.tx_code.description})" if offer.tx_code.description else ""
        raise errors.GrantError(
            f"this offer needs the transaction code sent to you separately{hint}",
            oauth_error="tx_code_required",
        )
    metadata = fetch_issuer_metadata(client, offer.credential_issuer)
    for configuration_id in offer.credential_configuration_ids:
        _check_configuration(metadata.configuration(configuration_id), holder_key)
    server = offer.authorization_server or (
        metadata.authorization_servers[0]
        if metadata.authorization_servers
        else offer.credential_issuer
    )
    if metadata.authorization_servers and server not in metadata.authorization_servers:
        raise errors.OfferError("the offer names an authorization server the issuer does not")
    as_metadata = fetch_authorization_server_metadata(client, server)
    token = _token(client, as_metadata["token_endpoint"], offer, tx_code if offer.tx_code else None)
    received = []
    for configuration_id in offer.credential_configuration_ids:
        compact = _credential(client, metadata, token, configuration_id, holder_key, iat)
        iss, vct = _check_received(compact, holder_key)
        configuration = metadata.configuration(configuration_id)
        credential_metadata = configuration.get("credential_metadata")
        display_source = (
            credential_metadata.get("display")
            if isinstance(credential_metadata, dict)
            else configuration.get("display")
        )
        received.append(
            IssuedCredential(
                credential=compact,
                configuration_id=configuration_id,
                credential_issuer=offer.credential_issuer,
                issuer=iss,
                vct=vct,
                display=_display_names(display_source),
                issuer_display=metadata.display,
            )
        )
    return received
