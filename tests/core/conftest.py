"""Shared fixtures of the core tests: the vector folders and keys loaded from them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from passerelle.keys import PublicKey, SigningKey, private_key_from_jwk, public_key_from_jwk

VECTORS = Path(__file__).resolve().parent.parent / "vectors"


def load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def load_text(path: Path) -> str:
    return path.read_text(encoding="utf-8").strip()


@pytest.fixture(scope="session")
def vectors() -> Path:
    """The folder of spec vectors (tests/vectors, see its README for each source)."""
    return VECTORS


@pytest.fixture(scope="session")
def spec_issuer_key() -> SigningKey:
    """RFC 9901 A.5 issuer key (ES256), private part from sd-jwt-python's settings."""
    return private_key_from_jwk(load_json(VECTORS / "01_sd_jwt" / "issuer_private_key.jwk.json"))


@pytest.fixture(scope="session")
def spec_issuer_public() -> PublicKey:
    return public_key_from_jwk(load_json(VECTORS / "01_sd_jwt" / "issuer_public_key.jwk.json"))


@pytest.fixture(scope="session")
def spec_holder_key() -> SigningKey:
    """The holder key of the spec examples (their cnf.jwk)."""
    return private_key_from_jwk(load_json(VECTORS / "01_sd_jwt" / "holder_private_key.jwk.json"))
