"""wallet.store: the encrypted wallet file, its failures, backups and their merge."""

from __future__ import annotations

import struct
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from passerelle import errors
from passerelle.encoding import b64url_encode
from tests import factories
from tests.wallet.conftest import FAST_KDF, PASSPHRASE, clock, held_credential
from wallet import store as wallet_store
from wallet.store import (
    DEFAULT_KDF,
    KIND_BACKUP,
    KIND_WALLET,
    MAGIC,
    KdfParams,
    WalletStore,
    credential_id,
    open_envelope,
    seal,
)


def new_store(directory: Path, passphrase: str = PASSPHRASE) -> WalletStore:
    return WalletStore(directory, passphrase, kdf=FAST_KDF, now=clock())


def test_default_kdf_is_owasp_minimum_for_scrypt() -> None:
    assert (DEFAULT_KDF.log2_n, DEFAULT_KDF.r, DEFAULT_KDF.p) == (17, 8, 1)


@pytest.mark.parametrize("alg", ["ES256", "EdDSA"])
def test_init_creates_an_encrypted_wallet_with_a_holder_key(tmp_path: Path, alg: str) -> None:
    wallet = new_store(tmp_path / "w")
    created = wallet.init(alg)
    assert created.holder_key.alg == alg
    loaded = new_store(tmp_path / "w").load()
    assert loaded.holder_key.kid == created.holder_key.kid
    assert loaded.credentials == []
    data = wallet.path.read_bytes()
    assert data.startswith(MAGIC)
    assert (wallet.path.stat().st_mode & 0o777) == 0o600
    der = created.holder_key.private.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # the private key is never on disk in the clear, in any encoding
    assert der not in data and b64url_encode(der).encode() not in data
    assert b"pkcs8" not in data and b"PRIVATE KEY" not in data


def test_init_refuses_an_existing_wallet_and_leaves_it(store: WalletStore) -> None:
    before = store.path.read_bytes()
    with pytest.raises(errors.WalletExistsError):
        store.init()
    assert store.path.read_bytes() == before


def test_init_refuses_a_short_passphrase(tmp_path: Path) -> None:
    with pytest.raises(errors.InvalidInputError):
        new_store(tmp_path / "w", "short").init()
    assert not (tmp_path / "w").exists()


def test_no_wallet_yet(tmp_path: Path) -> None:
    with pytest.raises(errors.WalletNotFoundError):
        new_store(tmp_path / "nothing").load()


def test_credentials_round_trip_and_are_never_stored_twice(store: WalletStore) -> None:
    record = held_credential()
    assert store.add_credential(record) is True
    assert store.add_credential(record) is False
    loaded = store.load()
    assert loaded.credentials == [record]
    assert loaded.get(record.id[:6]) == record
    assert record.id == credential_id(record.credential)
    assert record.vct == factories.vct()
    assert record.display["fr"] and record.display["ar"]
    assert record.received_at == factories.NOW


def test_every_write_uses_a_fresh_salt_and_nonce(store: WalletStore) -> None:
    contents = store.load()
    store.save(contents)
    first = store.path.read_bytes()
    store.save(contents)
    second = store.path.read_bytes()
    assert first[14:42] != second[14:42]
    assert first[42:] != second[42:]


def test_wrong_passphrase_is_a_specific_error_and_changes_nothing(store: WalletStore) -> None:
    store.add_credential(held_credential())
    before = store.path.read_bytes()
    with pytest.raises(errors.WalletLockedError) as caught:
        new_store(store.directory, "not the passphrase").load()
    assert caught.value.code == "wallet_locked"
    assert store.path.read_bytes() == before
    assert len(store.load().credentials) == 1


@pytest.mark.parametrize(
    ("offset", "error"),
    [
        (0, errors.WalletFileError),  # magic
        (8, errors.WalletFileError),  # format version
        (9, errors.WalletFileError),  # kind
        (12, errors.WalletLockedError),  # scrypt r (still in range): authenticated
        (20, errors.WalletLockedError),  # salt
        (35, errors.WalletLockedError),  # nonce
        (60, errors.WalletLockedError),  # ciphertext
        (-1, errors.WalletLockedError),  # tag
    ],
)
def test_a_flipped_byte_is_detected_and_nothing_is_lost(
    store: WalletStore, offset: int, error: type[errors.PasserelleError]
) -> None:
    store.add_credential(held_credential())
    good = store.path.read_bytes()
    damaged = bytearray(good)
    damaged[offset] ^= 0x01
    store.path.write_bytes(bytes(damaged))
    with pytest.raises(error):
        store.load()
    with pytest.raises(error):  # a damaged wallet is never overwritten by a write
        store.add_credential(held_credential(status_idx=7))
    assert store.path.read_bytes() == bytes(damaged)
    store.path.write_bytes(good)
    assert len(store.load().credentials) == 1


def test_a_truncated_file_is_not_a_wallet(store: WalletStore) -> None:
    store.path.write_bytes(store.path.read_bytes()[:30])
    with pytest.raises(errors.WalletFileError):
        store.load()


def test_kdf_parameters_asking_for_too_much_memory_are_refused() -> None:
    sealed = bytearray(seal(b"{}", PASSPHRASE, kind=KIND_WALLET, kdf=FAST_KDF))
    sealed[11] = 19  # N = 2^19, r = 8: 512 MiB
    with pytest.raises(errors.WalletFileError, match="memory"):
        open_envelope(bytes(sealed), PASSPHRASE, kinds=(KIND_WALLET,))


def test_envelope_header_layout() -> None:
    sealed = seal(b"hello", PASSPHRASE, kind=KIND_BACKUP, kdf=KdfParams(11, 8, 2))
    magic, version, kind, kdf, log2_n, r, p = struct.unpack_from(">8sBBBBBB", sealed)
    assert (magic, version, kind, kdf, log2_n, r, p) == (MAGIC, 1, KIND_BACKUP, 1, 11, 8, 2)
    assert len(sealed) == 42 + 5 + 16
    assert open_envelope(sealed, PASSPHRASE, kinds=(KIND_BACKUP,)) == (KIND_BACKUP, b"hello")
    with pytest.raises(errors.WalletFileError, match="not a wallet file"):
        open_envelope(sealed, PASSPHRASE, kinds=(KIND_WALLET,))


def test_passphrases_are_compared_after_unicode_normalisation() -> None:
    composed, decomposed = "mot de passe é 2026", "mot de passe e\u0301 2026"
    sealed = seal(b"x", composed, kind=KIND_WALLET, kdf=FAST_KDF)
    assert open_envelope(sealed, decomposed, kinds=(KIND_WALLET,))[1] == b"x"


def test_a_damaged_document_inside_a_good_envelope_is_reported(store: WalletStore) -> None:
    store.path.write_bytes(seal(b'{"format": "other"}', PASSPHRASE, kind=KIND_WALLET, kdf=FAST_KDF))
    with pytest.raises(errors.WalletFileError, match="unreadable"):
        store.load()


# ---------------------------------------------------------------------------------------
# Backups


def test_backup_export_import_merges_without_duplicates(tmp_path: Path) -> None:
    shared = held_credential(status_idx=1)
    only_in_a = held_credential(status_idx=2)
    only_in_b = held_credential(status_idx=3)
    phone_a = new_store(tmp_path / "a")
    phone_a.init()
    phone_a.add_credential(shared)
    phone_a.add_credential(only_in_a)
    backup = tmp_path / "backup.pswallet"
    exported = phone_a.export_backup(backup, "backup passphrase")
    assert len(exported.credentials) == 2
    assert open_envelope(backup.read_bytes(), "backup passphrase", kinds=(KIND_BACKUP,))

    phone_b = new_store(tmp_path / "b", "another wallet passphrase")
    phone_b.init("EdDSA")
    phone_b.add_credential(shared)
    phone_b.add_credential(only_in_b)
    report = phone_b.import_backup(backup, "backup passphrase")
    assert report.added == (only_in_a.id,)
    assert report.already_held == (shared.id,)
    assert len(report.keys_added) == 1  # phone A's key: its credentials stay presentable
    merged = phone_b.load()
    assert sorted(r.id for r in merged.credentials) == sorted(
        r.id for r in (shared, only_in_a, only_in_b)
    )
    assert merged.holder_key.alg == "EdDSA"  # the default key stays phone B's
    assert len(merged.keys) == 2

    again = phone_b.import_backup(backup, "backup passphrase")
    assert again.added == () and again.keys_added == ()
    assert len(phone_b.load().credentials) == 3


def test_import_into_a_new_phone_creates_the_wallet(tmp_path: Path) -> None:
    old = new_store(tmp_path / "old")
    contents = old.init()
    old.add_credential(held_credential())
    old.export_backup(tmp_path / "b", "backup passphrase")
    new = new_store(tmp_path / "new", "new phone passphrase")
    new.import_backup(tmp_path / "b", "backup passphrase")
    restored = new.load()
    assert restored.holder_key.kid == contents.holder_key.kid
    assert len(restored.credentials) == 1


def test_a_wallet_file_can_be_imported_as_a_backup(tmp_path: Path, store: WalletStore) -> None:
    store.add_credential(held_credential())
    other = new_store(tmp_path / "other", "other passphrase")
    report = other.import_backup(store.path, PASSPHRASE)
    assert len(report.added) == 1


@pytest.mark.parametrize("damage", ["passphrase", "flip", "not_a_backup"])
def test_a_bad_backup_changes_nothing(tmp_path: Path, store: WalletStore, damage: str) -> None:
    store.add_credential(held_credential())
    backup = tmp_path / "backup.pswallet"
    store.export_backup(backup, "backup passphrase")
    passphrase = "backup passphrase"
    if damage == "passphrase":
        passphrase = "wrong backup passphrase"
    elif damage == "flip":
        data = bytearray(backup.read_bytes())
        data[len(data) // 2] ^= 0x80
        backup.write_bytes(bytes(data))
    else:
        backup.write_text("credentials, honest")
    before = store.path.read_bytes()
    expected = errors.WalletFileError if damage == "not_a_backup" else errors.WalletLockedError
    with pytest.raises(expected):
        store.import_backup(backup, passphrase)
    assert store.path.read_bytes() == before


def test_export_refuses_a_short_backup_passphrase(tmp_path: Path, store: WalletStore) -> None:
    with pytest.raises(errors.InvalidInputError):
        store.export_backup(tmp_path / "b", "1234")
    assert not (tmp_path / "b").exists()


def test_no_temporary_file_is_left_behind(store: WalletStore) -> None:
    for idx in range(3):
        store.add_credential(held_credential(status_idx=idx))
    assert [p.name for p in store.directory.iterdir()] == [wallet_store.FILE_NAME]


def test_records_keep_their_received_time(tmp_path: Path) -> None:
    later = factories.NOW + timedelta(days=3)
    wallet = WalletStore(tmp_path / "w", PASSPHRASE, kdf=FAST_KDF, now=clock(later))
    wallet.init()
    record = held_credential()
    wallet.add_credential(record)
    assert wallet.load().credentials[0].received_at == factories.NOW
    assert wallet.load().created_at == later


def test_credential_not_found(store: WalletStore) -> None:
    with pytest.raises(errors.CredentialNotFoundError):
        store.load().get("0000")
