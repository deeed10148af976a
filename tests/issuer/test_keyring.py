"""The tenants' keyring: keys decrypted once, the active one followed across processes."""

from __future__ import annotations

from pathlib import Path

import pytest

from issuer.keyring import TenantKeyring
from passerelle import errors

from .conftest import PASSPHRASE


def test_the_active_key_is_kept_until_the_index_changes(tmp_path: Path) -> None:
    ours, theirs = TenantKeyring(tmp_path, PASSPHRASE), TenantKeyring(tmp_path, PASSPHRASE)
    created = theirs.create("centre")
    first = ours.signing_key("centre")
    assert first.kid == created.kid
    assert ours.signing_key("centre") is first  # neither re-read nor decrypted again
    rotated = theirs.rotate("centre")  # another process rotates: this one follows at once
    assert rotated.kid != created.kid
    assert ours.signing_key("centre").kid == rotated.kid
    again = theirs.rotate("centre")
    assert ours.signing_key("centre").kid == again.kid


def test_a_tenant_without_keys_is_refused(tmp_path: Path) -> None:
    with pytest.raises(errors.KeyNotFoundError):
        TenantKeyring(tmp_path, PASSPHRASE).signing_key("nobody")
