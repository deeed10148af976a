"""Each tenant's signing keys, in ``<key store root>/<tenant slug>/`` (a
:class:`passerelle.keys.KeyStore`), decrypted once per process and per key."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from passerelle.keys import KeyRecord, KeyStore, SigningKey

__all__ = ["TenantKeyring"]


class TenantKeyring:
    def __init__(self, root: Path, passphrase: str) -> None:
        self._root = root
        self._passphrase = passphrase
        self._keys: dict[str, SigningKey] = {}
        #: slug -> (index stamp, when read, active kid): the index is parsed again once its
        #: file changed, or a second later in any case (a stat per issuing group instead)
        self._active: dict[str, tuple[tuple[int, int, int] | None, float, str]] = {}
        self._lock = threading.Lock()

    def store(self, slug: str) -> KeyStore:
        return KeyStore(self._root / slug, self._passphrase)

    def signing_key(self, slug: str) -> SigningKey:
        """The tenant's active key (the index is re-read whenever its file changed, so a
        rotation made by another process is followed at once).

        Raises:
            KeyNotFoundError, KeyStoreLockedError: from the key store.
        """
        store = self.store(slug)
        stamp, now = store.index_stamp(), time.monotonic()
        known = self._active.get(slug)
        if known is not None and stamp is not None and known[0] == stamp and now - known[1] < 1:
            kid = known[2]
        else:
            kid = store.active_record().kid  # read after the stamp: a later change re-reads
            self._active[slug] = (stamp, now, kid)
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
