"""Unlock sessions of the wallet page: which browser has opened the wallet, and until when.

The design (see also :mod:`wallet.app`):

- The wallet file is decrypted **once, at unlock**. The decrypted
  :class:`~wallet.store.WalletContents` (holder keys and credentials) then stay in this
  process's memory, attached to a random session id that the browser holds in an
  ``HttpOnly``, ``SameSite=Strict`` cookie. Pages read from memory, so moving between
  them costs no key derivation (scrypt at the default cost is 128 MiB and ~0.3 s).
- The **passphrase is used for that one derivation and dropped**: it is not kept in the
  session, never written to disk, a log, a cookie or a page. Writing the file (receiving a
  credential) needs it, so the receive form asks for it again.
- The wallet **locks itself** when the session has been idle for ``idle_timeout``, when
  ``lifetime`` has passed since unlock, or when the wallet file changed on disk since it
  was read (another session or the CLI wrote it: what is in memory may be stale). The
  worker can lock at any time, which forgets the session entirely.
- The session id is replaced at unlock (no fixation); the CSRF token of the forms is
  per session and replaced with it.
- Failed unlocks are throttled process-wide: after ``max_failures`` in a row, unlocking is
  refused for ``backoff`` (a shared device must not be a passphrase-guessing machine).

Python cannot wipe a ``str`` or the decrypted keys from memory; dropping every reference
at lock or expiry is what this module can do.
"""

from __future__ import annotations

import hmac
import math
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal

from passerelle import errors
from wallet.oid4vp import PresentationRequest
from wallet.store import WalletContents

__all__ = [
    "FileStamp",
    "LockReason",
    "NotUnlockedError",
    "Session",
    "SessionStore",
    "UnlockGuard",
    "UnlockedWallet",
    "file_stamp",
]

#: Why a session's wallet was locked without the worker asking: shown on the unlock page.
LockReason = Literal["idle", "expired", "changed"]
#: Pending presentation requests kept per session (the newest ones).
MAX_PENDING_REQUESTS = 4


class NotUnlockedError(errors.WalletLockedError):
    """A page that needs the wallet was asked for while it is locked in this session (same
    ``wallet_locked`` code as a wrong passphrase: either way the wallet cannot be read)."""

    title = "Wallet locked"


#: What identifies one version of the wallet file: (inode, size, modification time in ns).
FileStamp = tuple[int, int, int]


def file_stamp(path: Path) -> FileStamp | None:
    """The stamp of ``path``, or None when it does not exist (or cannot be read)."""
    try:
        info = path.stat()
    except OSError:
        return None
    return (info.st_ino, info.st_size, info.st_mtime_ns)


@dataclass(slots=True)
class UnlockedWallet:
    """A decrypted wallet held for one session, and the file version it was read from."""

    contents: WalletContents
    stamp: FileStamp | None
    unlocked_at: datetime


@dataclass(slots=True)
class Session:
    """One browser's session: its CSRF token, language, and the wallet when unlocked."""

    id: str
    csrf: str
    created_at: datetime
    last_seen: datetime
    lang: str | None = None
    wallet: UnlockedWallet | None = None
    #: Why the wallet was locked behind the worker's back (shown once, then cleared).
    locked_because: LockReason | None = None
    #: Presentation requests read and waiting for the worker's answer, by random id.
    requests: dict[str, PresentationRequest] = field(default_factory=dict)

    def check_csrf(self, token: str | None) -> None:
        """Raises CsrfError: ``token`` is not this session's CSRF token."""
        if not token or not hmac.compare_digest(token.encode(), self.csrf.encode()):
            raise errors.CsrfError("the form's security token is missing or out of date")

    def lock(self, reason: LockReason | None = None) -> None:
        """Forget the decrypted wallet and every pending request."""
        self.wallet = None
        self.requests.clear()
        self.locked_because = reason

    def keep_request(self, request: PresentationRequest) -> str:
        """Keep ``request`` for the answer; returns its id (the oldest beyond a few go)."""
        request_id = secrets.token_urlsafe(12)
        self.requests[request_id] = request
        while len(self.requests) > MAX_PENDING_REQUESTS:
            del self.requests[next(iter(self.requests))]
        return request_id


class SessionStore:
    """Every session of the page, in memory (a wallet serves one device's browser).

    Thread-safe: the page's routes run in FastAPI's thread pool.
    """

    def __init__(
        self,
        *,
        idle_timeout: timedelta,
        lifetime: timedelta,
        max_sessions: int,
        clock: Callable[[], datetime],
    ) -> None:
        self.idle_timeout = idle_timeout
        self.lifetime = lifetime
        self.max_sessions = max_sessions
        self.clock = clock
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._sessions)

    def get(self, session_id: str | None) -> Session | None:
        """The live session ``session_id`` (its last use now), or None.

        A session idle for longer than ``idle_timeout`` loses its wallet (and an
        anonymous one idle for longer than ``lifetime`` is forgotten); an unlocked wallet
        older than ``lifetime`` is locked.
        """
        if not session_id:
            return None
        now = self.clock()
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                return None
            idle = now - session.last_seen
            if session.wallet is None and idle > self.lifetime:
                del self._sessions[session_id]
                return None
            if session.wallet is not None:
                if now - session.wallet.unlocked_at > self.lifetime:
                    session.lock("expired")
                elif idle > self.idle_timeout:
                    session.lock("idle")
            session.last_seen = now
            return session

    def new(self, *, lang: str | None = None) -> Session:
        """A new anonymous (locked) session; the least recently used go beyond the limit,
        anonymous ones first."""
        now = self.clock()
        session = Session(
            id=secrets.token_urlsafe(32),
            csrf=secrets.token_urlsafe(32),
            created_at=now,
            last_seen=now,
            lang=lang,
        )
        with self._lock:
            self._sessions[session.id] = session
            while len(self._sessions) > self.max_sessions:
                by_age = sorted(
                    self._sessions.values(), key=lambda s: (s.wallet is not None, s.last_seen)
                )
                del self._sessions[by_age[0].id]
        return session

    def unlock(self, session: Session, wallet: UnlockedWallet) -> Session:
        """``session`` under a new id and CSRF token, holding ``wallet``."""
        with self._lock:
            self._sessions.pop(session.id, None)
            session.id = secrets.token_urlsafe(32)
            session.csrf = secrets.token_urlsafe(32)
            session.wallet = wallet
            session.locked_because = None
            session.requests.clear()
            self._sessions[session.id] = session
        return session

    def drop(self, session: Session) -> None:
        """Forget ``session`` and its wallet (the worker locked)."""
        session.lock()
        with self._lock:
            self._sessions.pop(session.id, None)


class UnlockGuard:
    """Counts wrong passphrases in a row; after ``max_failures``, refuses for ``backoff``."""

    def __init__(
        self, *, max_failures: int, backoff: timedelta, clock: Callable[[], datetime]
    ) -> None:
        self.max_failures = max_failures
        self.backoff = backoff
        self.clock = clock
        self._failures = 0
        self._paused_until: datetime | None = None
        self._lock = threading.Lock()

    def check(self) -> None:
        """Raises UnlockThrottledError: unlocking is paused after too many failures."""
        with self._lock:
            if self._paused_until is not None and self.clock() < self._paused_until:
                wait = math.ceil((self._paused_until - self.clock()).total_seconds())
                raise errors.UnlockThrottledError(
                    f"too many wrong passphrases: try again in {wait} seconds", retry_after=wait
                )

    def failed(self) -> None:
        with self._lock:
            self._failures += 1
            if self._failures >= self.max_failures:
                self._failures = 0
                self._paused_until = self.clock() + self.backoff

    def succeeded(self) -> None:
        with self._lock:
            self._failures = 0
            self._paused_until = None
