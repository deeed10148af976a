"""A fake OpenID4VCI issuer and a fake OpenID4VP verifier, as httpx.MockTransport handlers.

They implement the spec endpoints minimally but check what matters: single-use
pre-authorized codes and transaction codes, single-use nonces, the key proof's signature
(with the key from its own ``jwk`` header), ``aud`` and ``nonce``; the verifier verifies
each presentation with :class:`passerelle.verification.Verifier` and refuses a replay.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, quote

import httpx

from passerelle import errors
from passerelle.credential import issue_credential
from passerelle.credtypes import load_types
from passerelle.encoding import b64url_decode, json_loads_object
from passerelle.keys import SigningKey, public_key_from_jwk
from passerelle.verification import Verifier
from tests import factories

ISSUER = factories.ISSUER
VERIFIER = "https://employer.example.de"
PRE_AUTH = "urn:ietf:params:oauth:grant-type:pre-authorized_code"
CONFIG_ID = "QualificationCredential_sd_jwt"


def oauth_error(code: str, description: str = "", status: int = 400) -> httpx.Response:
    return httpx.Response(status, json={"error": code, "error_description": description})


@dataclass
class FakeIssuer:
    """A training centre's OpenID4VCI endpoints on ``ISSUER``."""

    now: datetime = factories.NOW
    tx_code: str | None = None
    proof_algs: tuple[str, ...] = ("ES256", "EdDSA")
    reject_proofs: bool = False
    stale_nonce_once: bool = False
    bind_to: SigningKey | None = None  # misbehave: bind to this key instead
    issuer_id: str = ISSUER
    codes: dict[str, bool] = field(default_factory=dict)  # code -> used
    tokens: set[str] = field(default_factory=set)
    nonces: set[str] = field(default_factory=set)
    calls: list[str] = field(default_factory=list)
    proof_headers: list[dict[str, Any]] = field(default_factory=list)

    # -- the offer -------------------------------------------------------------------------
    def new_offer(self) -> dict[str, Any]:
        code = secrets.token_urlsafe(16)
        self.codes[code] = False
        grant: dict[str, Any] = {"pre-authorized_code": code}
        if self.tx_code is not None:
            grant["tx_code"] = {
                "input_mode": "numeric",
                "length": len(self.tx_code),
                "description": "code sent by SMS",
            }
        return {
            "credential_issuer": self.issuer_id,
            "credential_configuration_ids": [CONFIG_ID],
            "grants": {PRE_AUTH: grant},
        }

    def offer_link(self) -> str:
        offer = json.dumps(self.new_offer())
        return f"openid-credential-offer://?credential_offer={quote(offer)}"

    # -- the endpoints ---------------------------------------------------------------------
    def metadata(self) -> dict[str, Any]:
        return {
            "credential_issuer": self.issuer_id,
            "credential_endpoint": f"{ISSUER}/credential",
            "nonce_endpoint": f"{ISSUER}/nonce",
            "display": [
                {"name": "Centre Hay Hassani", "locale": "fr"},
                {"name": "Hay Hassani Centre", "locale": "en"},
            ],
            "credential_configurations_supported": {
                CONFIG_ID: {
                    "format": "dc+sd-jwt",
                    "vct": factories.vct(),
                    "cryptographic_binding_methods_supported": ["jwk"],
                    "credential_signing_alg_values_supported": ["EdDSA"],
                    "proof_types_supported": {
                        "jwt": {"proof_signing_alg_values_supported": list(self.proof_algs)}
                    },
                    "credential_metadata": {"display": [{"name": "Qualification", "locale": "en"}]},
                }
            },
        }

    def handler(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        self.calls.append(f"{request.method} {path}")
        if request.method == "GET" and path == "/.well-known/openid-credential-issuer":
            return httpx.Response(200, json=self.metadata())
        if request.method == "GET" and path == "/.well-known/oauth-authorization-server":
            return httpx.Response(
                200,
                json={
                    "issuer": ISSUER,
                    "token_endpoint": f"{ISSUER}/token",
                    "pre-authorized_grant_anonymous_access_supported": True,
                },
            )
        if request.method == "GET" and path == "/offers/1":
            return httpx.Response(200, json=self.new_offer())
        if request.method == "POST" and path == "/token":
            return self.token(request)
        if request.method == "POST" and path == "/nonce":
            nonce = secrets.token_urlsafe(16)
            self.nonces.add(nonce)
            return httpx.Response(
                200, json={"c_nonce": nonce}, headers={"Cache-Control": "no-store"}
            )
        if request.method == "POST" and path == "/credential":
            return self.credential(request)
        return httpx.Response(404, json={"error": "not_found"})

    def token(self, request: httpx.Request) -> httpx.Response:
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        if form.get("grant_type") != PRE_AUTH:
            return oauth_error("unsupported_grant_type")
        code = form.get("pre-authorized_code", "")
        if code not in self.codes or self.codes[code]:
            return oauth_error("invalid_grant", "unknown or used code")
        if self.tx_code is not None and form.get("tx_code") != self.tx_code:
            return oauth_error("invalid_grant", "wrong transaction code")
        self.codes[code] = True
        token = secrets.token_urlsafe(16)
        self.tokens.add(token)
        return httpx.Response(
            200, json={"access_token": token, "token_type": "Bearer", "expires_in": 300}
        )

    def check_proof(self, proof: str) -> dict[str, Any]:
        """The holder's public JWK, after checking the proof with it (aud, nonce, typ)."""
        header_b64, payload_b64, signature_b64 = proof.split(".")
        header = json_loads_object(b64url_decode(header_b64))
        claims = json_loads_object(b64url_decode(payload_b64))
        self.proof_headers.append(header)
        if header.get("typ") != "openid4vci-proof+jwt":
            raise errors.TypError("typ")
        key = public_key_from_jwk(header["jwk"])
        if header.get("alg") != key.alg or not key.verify(
            f"{header_b64}.{payload_b64}".encode(), b64url_decode(signature_b64)
        ):
            raise errors.SignatureError("proof signature")
        if claims.get("aud") != self.issuer_id:
            raise errors.AudienceMismatchError("aud")
        if claims.get("nonce") not in self.nonces:
            raise errors.NonceMismatchError("nonce")
        self.nonces.discard(claims["nonce"])
        return dict(header["jwk"])

    def credential(self, request: httpx.Request) -> httpx.Response:
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self.tokens:
            return oauth_error("invalid_token", status=401)
        body = json.loads(request.content)
        if body.get("credential_configuration_id") != CONFIG_ID:
            return oauth_error("unknown_credential_configuration")
        proofs = body.get("proofs", {}).get("jwt", [])
        if len(proofs) != 1:
            return oauth_error("invalid_credential_request")
        if self.stale_nonce_once:
            self.stale_nonce_once = False
            return oauth_error("invalid_nonce")
        if self.reject_proofs:
            return oauth_error("invalid_proof", "proof refused")
        try:
            holder_jwk = self.check_proof(proofs[0])
        except errors.PasserelleError as exc:
            return oauth_error("invalid_proof", exc.code)
        if self.bind_to is not None:
            holder_jwk = self.bind_to.public.to_jwk()
        issued = issue_credential(
            factories.example_claims(),
            credential_type=load_types().get(factories.QUALIFICATION),
            key=factories.key("issuer"),
            issuer=ISSUER,
            now=self.now,
            holder_jwk=holder_jwk,
        )
        return httpx.Response(200, json={"credentials": [{"credential": issued.compact}]})


@dataclass
class FakeVerifier:
    """An employer's OpenID4VP endpoints on ``VERIFIER``; one request at a time."""

    dcql_query: dict[str, Any]
    now: datetime = factories.NOW
    client_id: str = VERIFIER
    nonce: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    state: str = field(default_factory=lambda: secrets.token_urlsafe(8))
    answered: bool = False
    results: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    posted: list[dict[str, str]] = field(default_factory=list)

    def request_object(self) -> dict[str, Any]:
        return {
            "client_id": self.client_id,
            "response_type": "vp_token",
            "response_mode": "direct_post",
            "response_uri": f"{VERIFIER}/response",
            "nonce": self.nonce,
            "state": self.state,
            "dcql_query": self.dcql_query,
        }

    def link(self) -> str:
        return (
            f"openid4vp://?client_id={quote(self.client_id, safe='')}"
            f"&request_uri={quote(VERIFIER + '/request/1', safe='')}"
        )

    def handler(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET" and request.url.path == "/request/1":
            return httpx.Response(200, json=self.request_object())
        if request.method == "POST" and request.url.path == "/response":
            return self.response(request)
        return httpx.Response(404)

    def response(self, request: httpx.Request) -> httpx.Response:
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        self.posted.append(form)
        if form.get("state") != self.state:
            return oauth_error("invalid_request", "unknown state")
        if self.answered:
            return oauth_error("invalid_request", "presentation_replayed")
        self.answered = True
        verifier = Verifier(issuer_keys=[factories.key("issuer").public])
        token = json.loads(form["vp_token"])
        for query_id, presentations in token.items():
            self.results[query_id] = [
                verifier.verify(
                    p, nonce=self.nonce, audience=self.client_id, now=self.now
                ).to_json()
                for p in presentations
            ]
        if not all(r["valid"] for rs in self.results.values() for r in rs):
            return oauth_error("invalid_request", "presentation not valid")
        return httpx.Response(200, json={"redirect_uri": f"{VERIFIER}/done"})


def dcql(
    paths: list[list[Any]] | None = None,
    *,
    vct: str | None = None,
    query_id: str = "q",
    **extra: Any,
) -> dict[str, Any]:
    query: dict[str, Any] = {
        "id": query_id,
        "format": "dc+sd-jwt",
        "meta": {"vct_values": [vct or factories.vct()]},
    }
    if paths is not None:
        query["claims"] = [{"path": path} for path in paths]
    query.update(extra)
    return {"credentials": [query]}


def client_for(*handlers: Any) -> httpx.Client:
    """One client whose transport sends each host to its fake."""
    routes = {}
    for fake in handlers:
        host = httpx.URL(ISSUER if isinstance(fake, FakeIssuer) else VERIFIER).host
        routes[host] = fake.handler

    def route(request: httpx.Request) -> httpx.Response:
        handler = routes.get(request.url.host)
        if handler is None:
            raise httpx.ConnectError("no route", request=request)
        response: httpx.Response = handler(request)
        return response

    return httpx.Client(transport=httpx.MockTransport(route))
