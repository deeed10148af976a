"""Shared fixtures of the wallet tests: a cheap KDF, a pinned clock, a wallet on disk."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest

from passerelle.credtypes import load_types
from tests import factories
from wallet.store import CredentialRecord, HolderKey, KdfParams, WalletContents, WalletStore

#: scrypt at N = 2^10: the same code path as the default, a thousandth of the cost.
FAST_KDF = KdfParams(log2_n=10, r=8, p=1)
PASSPHRASE = "correct horse battery staple"


def clock(moment: datetime = factories.NOW) -> Callable[[], datetime]:
    return lambda: moment


@pytest.fixture
def store(tmp_path: Path) -> WalletStore:
    """An initialised wallet (P-256 holder key from the factories, no credentials)."""
    wallet = WalletStore(tmp_path / "wallet", PASSPHRASE, kdf=FAST_KDF, now=clock())
    wallet.save(
        WalletContents(
            keys=[HolderKey(factories.key("holder", "ES256"), factories.NOW)],
            created_at=factories.NOW,
        )
    )
    return wallet


def record_for(compact: str, holder_kid: str | None) -> CredentialRecord:
    return CredentialRecord.from_credential(
        compact, received_at=factories.NOW, holder_kid=holder_kid, registry=load_types()
    )


def held_credential(holder_alg: str = "ES256", **kwargs: object) -> CredentialRecord:
    """A record of a qualification credential bound to the factories' holder key."""
    holder = factories.key("holder", holder_alg)
    return record_for(factories.credential(holder=holder, **kwargs), holder.kid)  # type: ignore[arg-type]
