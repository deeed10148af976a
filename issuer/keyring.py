"""Each tenant's signing keys, in ``<key store root>/<tenant slug>/`` (a
:class:`passerelle.keys.KeyStore`), decrypted once per process and per key."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from passerelle.keys import KeyRecord, KeyStore, SigningKey

__all__ = ["TenantKeyring"]


class TenantKeyring:
    def __init__(self, root: Path, passphrase: str) -> None:
        self._root = root
        self._passphrase = passphrase
        self._keys: dict[str, SigningKey] = {}
        self._lock = threading.Lock()

    def store(self, slug: str) -> KeyStore:
        return KeyStore(self._root / slug, self._passphrase)

    def signing_key(self, slug: str) -> SigningKey:
        """The tenant's active key (the index is re-read, so a rotation made by another
        process is followed).

        Raises:
            KeyNotFoundError, KeyStoreLockedError: from the key store.
        """
        store = self.store(slug)
        kid = store.active_record().kid
        with self._lock:
            key = self._keys.get(kid)
            if key is None:
                key = store.signing_key(kid)
                self._keys[kid] = key
            return key

    def create(self, slug: str, alg: str = "EdDSA") -> KeyRecord:
        return self.store(slug).generate(alg, label=f"{slug} issuer key")

    def rotate(self, slug: str) -> KeyRecord:
        return self.store(slug).rotate()

    def records(self, slug: str) -> list[KeyRecord]:
        return self.store(slug).records()

    def jwks(self, slug: str) -> dict[str, Any]:
        return self.store(slug).jwks()
