"""The one error tree of Passerelle.

Every error has a stable snake_case ``code`` (documented in the README's error table), a
short human ``title`` and the HTTP ``status`` a service answers with when the error is a
request problem. ``detail`` says what exactly was wrong in this instance.

Library exceptions (PyJWT, cryptography, json, zlib, zxing) are translated into this tree at
the boundary where they are raised (see ``passerelle.jose.map_jose_errors``); nothing else
escapes the core.

::

    PasserelleError
    ├── InvalidInputError             invalid_input            bad argument or file (usage)
    ├── TokenFormatError              malformed_token          structure of a token/presentation
    │   ├── TokenTooLargeError        token_too_large          over the size limit
    │   ├── Base64UrlError            invalid_base64url        not strict unpadded base64url
    │   └── JsonError                 invalid_json             not a JSON object / duplicate keys
    ├── JoseError                     jose_error               JOSE header and signature
    │   ├── AlgorithmError            alg_not_allowed          none, HS*, unknown, or wrong for key
    │   ├── HeaderError               invalid_header           forbidden/missing header parameter
    │   ├── TypError                  wrong_typ                unexpected ``typ``
    │   └── SignatureError            invalid_signature        signature does not verify
    ├── KeyError_                     invalid_key              a JWK or key file is unusable
    │   ├── KeyNotFoundError          key_not_found            no key for this kid/issuer
    │   └── KeyStoreLockedError       key_store_locked         no passphrase, or a wrong one
    ├── DisclosureError               invalid_disclosure       RFC 9901 section 7 rules
    ├── KeyBindingError               key_binding_invalid      KB-JWT missing or wrong
    │   ├── NonceMismatchError        kb_nonce_mismatch
    │   ├── AudienceMismatchError     kb_audience_mismatch
    │   ├── SdHashMismatchError       kb_sd_hash_mismatch
    │   └── KeyBindingTimeError       kb_iat_invalid           KB-JWT too old or in the future
    ├── ClaimsError                   invalid_claims           required claim missing or mistyped
    │   ├── ExpiredError              credential_expired
    │   └── NotYetValidError          credential_not_yet_valid
    ├── SchemaError                   schema_violation         claims break the type's JSON Schema
    ├── UnknownTypeError              unknown_credential_type  no such vct in schemas/
    ├── StatusListError               status_list_invalid      status list token or encoding
    │   ├── StatusListTooLargeError   status_list_too_large    decompression bomb
    │   ├── StatusIndexError          status_index_out_of_range
    │   ├── StatusListMismatchError   status_list_uri_mismatch sub != referenced uri
    │   ├── StatusListExpiredError    status_list_expired
    │   ├── StatusUnavailableError    status_unavailable       no list for this uri
    │   └── StatusListFullError       status_list_full         no free index left to allocate
    ├── TrustError                    trust_list_invalid       trust list token or source
    │   ├── TrustListExpiredError     trust_list_expired
    │   ├── TrustAnchorError          trust_anchor_unknown     list signed by no configured anchor
    │   ├── TrustConflictError        trust_list_conflict      the same issuer listed differently
    │   ├── IssuerUntrustedError      issuer_untrusted         issuer absent or not active
    │   ├── ScopeError                issuer_not_accredited_for_type
    │   ├── KeyValidityError          key_not_valid_at_issuance
    │   └── KeyCompromisedError       key_compromised
    ├── QrError                       qr_invalid               QR payload cannot be decoded
    │   ├── QrNotFoundError           qr_not_found             no code in the image
    │   ├── QrMultipleError           qr_multiple              several codes in the image
    │   └── QrTooLargeError           qr_too_large             does not fit in any QR version
    ├── BundleError                   bundle_invalid           offline bundle unreadable
    ├── ServiceError                  service_error            a service request problem
    │   ├── RequestInvalidError       request_invalid          malformed request (422)
    │   │   ├── BatchInvalidError     batch_invalid            rows with errors (``errors``)
    │   │   └── CsvEncodingError      csv_encoding             upload is not UTF-8 text
    │   ├── PayloadTooLargeError      payload_too_large        upload over the limit (413)
    │   ├── AuthenticationError       unauthenticated          no or unknown API key (401)
    │   ├── PermissionDeniedError     forbidden                role does not allow it (403)
    │   │   └── CsrfError             csrf_invalid             form without this session's token
    │   ├── UnlockThrottledError      unlock_throttled         too many wrong passphrases (429)
    │   ├── NotFoundError             not_found                no such resource here (404)
    │   ├── ConflictError             conflict                 state forbids it (409)
    │   │   ├── IdempotencyConflictError idempotency_key_reused same key, other request
    │   │   ├── StatusTransitionError status_transition_invalid e.g. reinstate a revoked one
    │   │   ├── PresentationReplayedError presentation_replayed  request already answered
    │   │   └── RequestExpiredError   request_expired          presentation request expired
    │   ├── MethodNotAllowedError     method_not_allowed       (405)
    │   ├── ServiceUnavailableError   service_unavailable      database or key store down (503)
    │   ├── TokenNotRetainedError     token_not_retained       signed credential not kept (410)
    │   ├── RenderUnavailableError    render_unavailable       PDF engine missing or down (503)
    │   ├── UpstreamError             upstream_unavailable     a remote list cannot be had (502)
    │   └── OAuthError                oauth_error              OpenID4VCI endpoints (RFC 6749 body)
    │       ├── InvalidTokenRequestError invalid_request       token request malformed
    │       ├── InvalidGrantError     invalid_grant            code unusable, or wrong tx_code
    │       ├── UnsupportedGrantTypeError unsupported_grant_type only the pre-authorized code grant
    │       ├── InvalidAccessTokenError invalid_token          access token unusable (401)
    │       ├── InvalidCredentialRequestError invalid_credential_request  malformed request
    │       ├── UnknownCredentialConfigurationError unknown_credential_configuration
    │       ├── InvalidProofError     invalid_proof            key proof missing or invalid
    │       ├── InvalidNonceError     invalid_nonce            c_nonce forged, used or expired
    │       └── CredentialRequestDeniedError credential_request_denied the offer cannot be issued
    ├── WalletError                   wallet_error             the holder's wallet store
    │   ├── WalletNotFoundError       wallet_not_found         no wallet here yet (run init)
    │   ├── WalletExistsError         wallet_exists            init over an existing wallet
    │   ├── WalletLockedError         wallet_locked            wrong passphrase or damaged bytes
    │   ├── WalletFileError           wallet_file_invalid      not a wallet/backup file, or newer
    │   └── CredentialNotFoundError   credential_not_found     no such credential in the wallet
    └── ProtocolError                 protocol_error           an OpenID4VCI/VP exchange failed
        ├── EndpointError             endpoint_unreachable     network, timeout, non-JSON answer
        ├── OfferError                credential_offer_invalid offer link or object unusable
        ├── IssuerMetadataError       issuer_metadata_invalid  issuer or AS metadata unusable
        ├── GrantError                grant_refused            token endpoint refused the code
        ├── ProofRejectedError        proof_rejected           issuer refused the key proof
        ├── CredentialResponseError   credential_response_invalid  unusable credential received
        ├── PresentationRequestError  presentation_request_invalid request link/object unusable
        ├── NoMatchingCredentialError no_matching_credential   nothing held answers the query
        └── PresentationRejectedError presentation_rejected    the verifier refused the answer
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "CHECK_CODES",
    "AlgorithmError",
    "AudienceMismatchError",
    "AuthenticationError",
    "Base64UrlError",
    "BatchInvalidError",
    "BundleError",
    "ClaimsError",
    "ConflictError",
    "CredentialNotFoundError",
    "CredentialRequestDeniedError",
    "CredentialResponseError",
    "CsrfError",
    "CsvEncodingError",
    "DisclosureError",
    "EndpointError",
    "ExpiredError",
    "GrantError",
    "HeaderError",
    "IdempotencyConflictError",
    "InvalidAccessTokenError",
    "InvalidCredentialRequestError",
    "InvalidGrantError",
    "InvalidInputError",
    "InvalidNonceError",
    "InvalidProofError",
    "InvalidTokenRequestError",
    "IssuerMetadataError",
    "IssuerUntrustedError",
    "JoseError",
    "JsonError",
    "KeyBindingError",
    "KeyBindingTimeError",
    "KeyCompromisedError",
    "KeyError_",
    "KeyNotFoundError",
    "KeyStoreLockedError",
    "KeyValidityError",
    "MethodNotAllowedError",
    "NoMatchingCredentialError",
    "NonceMismatchError",
    "NotFoundError",
    "NotYetValidError",
    "OAuthError",
    "OfferError",
    "PasserelleError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "PresentationRejectedError",
    "PresentationReplayedError",
    "PresentationRequestError",
    "ProofRejectedError",
    "ProtocolError",
    "QrError",
    "QrMultipleError",
    "QrNotFoundError",
    "QrTooLargeError",
    "RenderUnavailableError",
    "RequestExpiredError",
    "RequestInvalidError",
    "SchemaError",
    "ScopeError",
    "SdHashMismatchError",
    "ServiceError",
    "ServiceUnavailableError",
    "SignatureError",
    "StatusIndexError",
    "StatusListError",
    "StatusListExpiredError",
    "StatusListFullError",
    "StatusListMismatchError",
    "StatusListTooLargeError",
    "StatusTransitionError",
    "StatusUnavailableError",
    "TokenFormatError",
    "TokenNotRetainedError",
    "TokenTooLargeError",
    "TrustAnchorError",
    "TrustConflictError",
    "TrustError",
    "TrustListExpiredError",
    "TypError",
    "UnknownCredentialConfigurationError",
    "UnknownTypeError",
    "UnlockThrottledError",
    "UnsupportedGrantTypeError",
    "UpstreamError",
    "WalletError",
    "WalletExistsError",
    "WalletFileError",
    "WalletLockedError",
    "WalletNotFoundError",
    "all_error_classes",
    "markdown_table",
]


class PasserelleError(Exception):
    """Base of every error the core raises.

    ``code`` is stable and documented; ``detail`` is specific to this occurrence and never
    contains secrets or disclosed personal data.
    """

    code: ClassVar[str] = "passerelle_error"
    title: ClassVar[str] = "Passerelle error"
    status: ClassVar[int] = 400

    def __init__(self, detail: str = "", **extra: Any) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.extra = extra

    def to_problem(self) -> dict[str, Any]:
        """RFC 9457 problem details for this error (``type`` is a tag URI on the code)."""
        problem: dict[str, Any] = {
            "type": f"tag:passerelle,2026:error:{self.code}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
        }
        problem.update(self.extra)
        return problem


class InvalidInputError(PasserelleError):
    code = "invalid_input"
    title = "Invalid input"


class TokenFormatError(PasserelleError):
    code = "malformed_token"
    title = "Malformed token"


class TokenTooLargeError(TokenFormatError):
    code = "token_too_large"
    title = "Token too large"
    status = 413


class Base64UrlError(TokenFormatError):
    code = "invalid_base64url"
    title = "Invalid base64url"


class JsonError(TokenFormatError):
    code = "invalid_json"
    title = "Invalid JSON"


class JoseError(PasserelleError):
    code = "jose_error"
    title = "JOSE error"


class AlgorithmError(JoseError):
    code = "alg_not_allowed"
    title = "Algorithm not allowed"


class HeaderError(JoseError):
    code = "invalid_header"
    title = "Invalid JOSE header"


class TypError(JoseError):
    code = "wrong_typ"
    title = "Unexpected token type"


class SignatureError(JoseError):
    code = "invalid_signature"
    title = "Invalid signature"


class KeyError_(PasserelleError):  # noqa: N801, N818 - trailing underscore avoids the builtin
    code = "invalid_key"
    title = "Invalid key"


class KeyNotFoundError(KeyError_):
    code = "key_not_found"
    title = "Key not found"
    status = 404


class KeyStoreLockedError(KeyError_):
    code = "key_store_locked"
    title = "Key store locked"
    status = 500


class DisclosureError(PasserelleError):
    code = "invalid_disclosure"
    title = "Invalid disclosure"


class KeyBindingError(PasserelleError):
    code = "key_binding_invalid"
    title = "Invalid key binding"


class NonceMismatchError(KeyBindingError):
    code = "kb_nonce_mismatch"
    title = "Key binding nonce mismatch"


class AudienceMismatchError(KeyBindingError):
    code = "kb_audience_mismatch"
    title = "Key binding audience mismatch"


class SdHashMismatchError(KeyBindingError):
    code = "kb_sd_hash_mismatch"
    title = "Key binding sd_hash mismatch"


class KeyBindingTimeError(KeyBindingError):
    code = "kb_iat_invalid"
    title = "Key binding JWT too old or in the future"


class ClaimsError(PasserelleError):
    code = "invalid_claims"
    title = "Invalid claims"


class ExpiredError(ClaimsError):
    code = "credential_expired"
    title = "Credential expired"


class NotYetValidError(ClaimsError):
    code = "credential_not_yet_valid"
    title = "Credential not yet valid"


class SchemaError(PasserelleError):
    code = "schema_violation"
    title = "Claims do not match the credential type's schema"
    status = 422


class UnknownTypeError(PasserelleError):
    code = "unknown_credential_type"
    title = "Unknown credential type"
    status = 422


class StatusListError(PasserelleError):
    code = "status_list_invalid"
    title = "Invalid status list"


class StatusListTooLargeError(StatusListError):
    code = "status_list_too_large"
    title = "Status list too large"
    status = 413


class StatusIndexError(StatusListError):
    code = "status_index_out_of_range"
    title = "Status index out of range"


class StatusListMismatchError(StatusListError):
    code = "status_list_uri_mismatch"
    title = "Status list token is not the referenced list"


class StatusListExpiredError(StatusListError):
    code = "status_list_expired"
    title = "Status list token expired"


class StatusUnavailableError(StatusListError):
    code = "status_unavailable"
    title = "Status list unavailable"
    status = 503


class StatusListFullError(StatusListError):
    code = "status_list_full"
    title = "Status list full"
    status = 503


class TrustError(PasserelleError):
    code = "trust_list_invalid"
    title = "Invalid trust list"


class TrustListExpiredError(TrustError):
    code = "trust_list_expired"
    title = "Trust list expired"


class TrustAnchorError(TrustError):
    code = "trust_anchor_unknown"
    title = "Trust list not signed by a configured anchor"


class TrustConflictError(TrustError):
    code = "trust_list_conflict"
    title = "Conflicting trust list entries"


class IssuerUntrustedError(TrustError):
    code = "issuer_untrusted"
    title = "Issuer not trusted"


class ScopeError(TrustError):
    code = "issuer_not_accredited_for_type"
    title = "Issuer not accredited for this credential type"


class KeyValidityError(TrustError):
    code = "key_not_valid_at_issuance"
    title = "Issuer key not valid at issuance time"


class KeyCompromisedError(TrustError):
    code = "key_compromised"
    title = "Issuer key compromised before issuance"


class QrError(PasserelleError):
    code = "qr_invalid"
    title = "Invalid QR payload"


class QrNotFoundError(QrError):
    code = "qr_not_found"
    title = "No QR code found"


class QrMultipleError(QrError):
    code = "qr_multiple"
    title = "Several QR codes found"


class QrTooLargeError(QrError):
    code = "qr_too_large"
    title = "Data too large for a QR code"


class BundleError(PasserelleError):
    code = "bundle_invalid"
    title = "Invalid offline bundle"


class ServiceError(PasserelleError):
    code = "service_error"
    title = "Service error"


class RequestInvalidError(ServiceError):
    code = "request_invalid"
    title = "Malformed request"
    status = 422


class PayloadTooLargeError(ServiceError):
    code = "payload_too_large"
    title = "Payload too large"
    status = 413


class AuthenticationError(ServiceError):
    code = "unauthenticated"
    title = "Authentication required"
    status = 401


class PermissionDeniedError(ServiceError):
    code = "forbidden"
    title = "Not allowed"
    status = 403


class CsrfError(PermissionDeniedError):
    """A form was posted without this session's CSRF token, or from another origin."""

    code = "csrf_invalid"
    title = "Form refused: reload the page and try again"


class UnlockThrottledError(ServiceError):
    """Too many wrong passphrases in a row: unlocking is paused for a while."""

    code = "unlock_throttled"
    title = "Too many attempts: wait before trying again"
    status = 429


class NotFoundError(ServiceError):
    code = "not_found"
    title = "Not found"
    status = 404


class ConflictError(ServiceError):
    code = "conflict"
    title = "Conflict"
    status = 409


class BatchInvalidError(RequestInvalidError):
    """Some rows of a batch are invalid; ``extra["errors"]`` lists ``{row, field, code,
    message}``; nothing was issued."""

    code = "batch_invalid"
    title = "Invalid rows in the batch"


class CsvEncodingError(RequestInvalidError):
    code = "csv_encoding"
    title = "The upload is not UTF-8 text"


class IdempotencyConflictError(ConflictError):
    code = "idempotency_key_reused"
    title = "Idempotency key already used for another request"


class StatusTransitionError(ConflictError):
    code = "status_transition_invalid"
    title = "Status change not allowed"


class PresentationReplayedError(ConflictError):
    code = "presentation_replayed"
    title = "Presentation request already answered"


class RequestExpiredError(ConflictError):
    code = "request_expired"
    title = "Presentation request expired"


class MethodNotAllowedError(ServiceError):
    code = "method_not_allowed"
    title = "Method not allowed"
    status = 405


class ServiceUnavailableError(ServiceError):
    code = "service_unavailable"
    title = "Service unavailable"
    status = 503


class TokenNotRetainedError(ServiceError):
    """The service kept no copy of the signed credential (``ISSUER_RETAIN_TOKENS`` is
    off), so it cannot print its certificate or QR code again; send the credential back."""

    code = "token_not_retained"
    title = "Signed credential not retained"
    status = 410


class RenderUnavailableError(ServiceError):
    """The certificate PDF engine (headless Chromium) is missing, did not start or failed."""

    code = "render_unavailable"
    title = "Certificate rendering unavailable"
    status = 503


class UpstreamError(ServiceError):
    code = "upstream_unavailable"
    title = "Remote document unavailable"
    status = 502


class OAuthError(ServiceError):
    """An OpenID4VCI endpoint of the issuer (token, nonce, credential) refused a request.

    The one exception to problem+json: OAuth clients read RFC 6749 section 5.2 error
    bodies, so these endpoints answer ``{"error": code, "error_description": detail}``
    (``application/json``, ``Cache-Control: no-store``). ``code`` is the OAuth or
    OpenID4VCI 1.0 (section 8.3.1.2) error code itself.
    """

    code = "oauth_error"
    title = "OAuth request refused"


class InvalidTokenRequestError(OAuthError):
    code = "invalid_request"
    title = "Malformed token request"


class InvalidGrantError(OAuthError):
    code = "invalid_grant"
    title = "Pre-authorized code or transaction code refused"


class UnsupportedGrantTypeError(OAuthError):
    code = "unsupported_grant_type"
    title = "Grant type not supported"


class InvalidAccessTokenError(OAuthError):
    code = "invalid_token"
    title = "Access token missing, unknown, expired or used"
    status = 401


class InvalidCredentialRequestError(OAuthError):
    code = "invalid_credential_request"
    title = "Malformed credential request"


class UnknownCredentialConfigurationError(OAuthError):
    code = "unknown_credential_configuration"
    title = "Unknown credential configuration"


class InvalidProofError(OAuthError):
    code = "invalid_proof"
    title = "Key proof missing or invalid"


class InvalidNonceError(OAuthError):
    code = "invalid_nonce"
    title = "Key proof nonce not a fresh c_nonce"


class CredentialRequestDeniedError(OAuthError):
    code = "credential_request_denied"
    title = "Credential request denied"


# ---------------------------------------------------------------------------------------
# Wallet and protocol errors (the holder's side: ``wallet/``). Kept apart from the core's
# classes above; codes are stable like every other.


class WalletError(PasserelleError):
    code = "wallet_error"
    title = "Wallet error"


class WalletNotFoundError(WalletError):
    code = "wallet_not_found"
    title = "No wallet here yet"
    status = 404


class WalletExistsError(WalletError):
    code = "wallet_exists"
    title = "A wallet already exists here"
    status = 409


class WalletLockedError(WalletError):
    """AES-GCM authentication failed: a wrong passphrase, or bytes changed since written
    (the two cannot be told apart, by design of authenticated encryption)."""

    code = "wallet_locked"
    title = "Wallet cannot be opened: wrong passphrase or damaged file"
    status = 401


class WalletFileError(WalletError):
    code = "wallet_file_invalid"
    title = "Not a wallet or backup file"


class CredentialNotFoundError(WalletError):
    code = "credential_not_found"
    title = "No such credential in the wallet"
    status = 404


class ProtocolError(PasserelleError):
    code = "protocol_error"
    title = "Protocol exchange failed"
    status = 502


class EndpointError(ProtocolError):
    code = "endpoint_unreachable"
    title = "Remote endpoint unreachable or unreadable"


class OfferError(ProtocolError):
    code = "credential_offer_invalid"
    title = "Invalid credential offer"
    status = 400


class IssuerMetadataError(ProtocolError):
    code = "issuer_metadata_invalid"
    title = "Invalid issuer metadata"


class GrantError(ProtocolError):
    """The token endpoint refused the pre-authorized code: ``extra["oauth_error"]`` holds
    the OAuth code (``invalid_grant`` for a wrong transaction code, a used or expired code)."""

    code = "grant_refused"
    title = "Pre-authorized code refused"
    status = 400


class ProofRejectedError(ProtocolError):
    code = "proof_rejected"
    title = "Key proof refused by the issuer"


class CredentialResponseError(ProtocolError):
    code = "credential_response_invalid"
    title = "Unusable credential received"


class PresentationRequestError(ProtocolError):
    code = "presentation_request_invalid"
    title = "Invalid presentation request"
    status = 400


class NoMatchingCredentialError(ProtocolError):
    code = "no_matching_credential"
    title = "No credential matches the request"
    status = 404


class PresentationRejectedError(ProtocolError):
    code = "presentation_rejected"
    title = "Presentation refused by the verifier"


#: Codes a verification result uses for a check, beside the error codes.
CHECK_CODES = {
    "credential_revoked": "(check `credential_status`) the issuer has revoked the credential",
    "credential_suspended": "(check `credential_status`) the issuer has suspended the credential",
    "not_checked": "(any check) not run, because an earlier gating check failed",
}


def markdown_table() -> str:
    """The README's table of every code (``make docs`` writes it there)."""
    rows = [f"| `{cls.code}` | {cls.status} | {cls.title} |" for cls in all_error_classes()]
    rows += [f"| `{code}` | – | {meaning} |" for code, meaning in CHECK_CODES.items()]
    return "| code | HTTP | meaning |\n| --- | --- | --- |\n" + "\n".join(rows) + "\n"


def all_error_classes() -> list[type[PasserelleError]]:
    """Every class of the tree, base first (used by the docs table and its test).

    Only this module's classes: the tree lives here, whatever else subclasses it.
    """
    seen: list[type[PasserelleError]] = []
    stack: list[type[PasserelleError]] = [PasserelleError]
    while stack:
        cls = stack.pop(0)
        if cls.__module__ == __name__:
            seen.append(cls)
        stack.extend(cls.__subclasses__())
    return seen
