"""API keys: ``psk_<public id>.<secret>``; the secret is 256 random bits, stored as SHA-256.

The public id (``psk_`` + 12 hex digits) finds the row; the secret's hash is compared in
constant time. The full key is shown once, when created.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

__all__ = ["KEY_PREFIX", "hash_secret", "new_api_key", "split_api_key", "verify_secret"]

KEY_PREFIX = "psk_"


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_api_key() -> tuple[str, str, str]:
    """``(full key, public id, secret hash)`` for a fresh key."""
    public_id = KEY_PREFIX + secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    return f"{public_id}.{secret}", public_id, hash_secret(secret)


def split_api_key(key: str) -> tuple[str, str] | None:
    """``(public id, secret)`` of a well-formed key, else ``None``."""
    public_id, dot, secret = key.strip().partition(".")
    if not dot or not public_id.startswith(KEY_PREFIX) or len(public_id) > 32 or not secret:
        return None
    return public_id, secret


def verify_secret(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), stored_hash)
