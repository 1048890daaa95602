"""Dashboard sessions, kept in this process: the browser holds only a random session id.

The user's tokens (unscoped and project-scoped) live here, never in a cookie, local storage
or a page; the cookie is HttpOnly, SameSite=Lax and Secure when the request came over TLS.
Each session carries its own CSRF token, which every POST must echo (promise 23). A failed
login counts against the user name and the client address (`Throttle`).
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections import deque
from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import Response

from ministack.dashboard.cloud import Login

COOKIE = "ministack_dashboard"
MAX_SESSIONS = 10_000
THROTTLE_WINDOW = 60.0


@dataclass
class Session:
    id: str
    csrf: str
    last_used: float
    login: Login | None = None
    unscoped: str = ""
    retired: list[str] = field(default_factory=list)  # earlier project tokens, revoked at logout
    projects: list[dict[str, str]] = field(default_factory=list)
    flash: list[tuple[str, str]] = field(default_factory=list)

    def say(self, kind: str, text: str) -> None:
        """A message shown once on the next page (kind: ok or error)."""
        self.flash.append((kind, text))

    def take_flash(self) -> list[tuple[str, str]]:
        out, self.flash = self.flash, []
        return out

    def csrf_ok(self, sent: str | None) -> bool:
        return bool(sent) and hmac.compare_digest(self.csrf, str(sent))


class SessionStore:
    """Sessions by id, forgotten after `idle_seconds` without a request."""

    def __init__(self, idle_seconds: float) -> None:
        self.idle_seconds = idle_seconds
        self._sessions: dict[str, Session] = {}

    def get(self, request: Request) -> Session | None:
        sid = request.cookies.get(COOKIE, "")
        found = self._sessions.get(sid)
        now = time.monotonic()
        if found is None:
            return None
        if now - found.last_used > self.idle_seconds:
            del self._sessions[sid]
            return None
        found.last_used = now
        return found

    def new(self) -> Session:
        if len(self._sessions) >= MAX_SESSIONS:
            self.expire()
        session = Session(
            id=secrets.token_urlsafe(32), csrf=secrets.token_urlsafe(32), last_used=time.monotonic()
        )
        self._sessions[session.id] = session
        return session

    def renew(self, old: Session) -> Session:
        """A fresh id (and CSRF token) for a session whose privilege changed (login)."""
        self._sessions.pop(old.id, None)
        fresh = self.new()
        fresh.flash = old.flash
        return fresh

    def drop(self, session: Session) -> None:
        self._sessions.pop(session.id, None)

    def expire(self) -> None:
        now = time.monotonic()
        for sid, s in list(self._sessions.items()):
            if now - s.last_used > self.idle_seconds:
                del self._sessions[sid]
        while len(self._sessions) >= MAX_SESSIONS:
            del self._sessions[next(iter(self._sessions))]

    def logins(self) -> list[Login]:
        return [s.login for s in self._sessions.values() if s.login is not None]


def set_cookie(request: Request, response: Response, session: Session) -> None:
    response.set_cookie(
        COOKIE,
        session.id,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )


class Throttle:
    """At most `attempts` failed logins per key (user name, client address) in a minute."""

    def __init__(self, attempts: int) -> None:
        self.attempts = attempts
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, key: str) -> deque[float]:
        q = self._failures.setdefault(key, deque())
        cutoff = time.monotonic() - THROTTLE_WINDOW
        while q and q[0] < cutoff:
            q.popleft()
        return q

    def blocked(self, *keys: str) -> float:
        """Seconds until a login for these keys may be tried again (0: now)."""
        wait = 0.0
        for key in keys:
            q = self._recent(key)
            if len(q) >= self.attempts:
                wait = max(wait, q[0] + THROTTLE_WINDOW - time.monotonic())
        return wait

    def failed(self, *keys: str) -> None:
        now = time.monotonic()
        for key in keys:
            self._recent(key).append(now)
        if len(self._failures) > MAX_SESSIONS:
            for key in [k for k, q in self._failures.items() if not q]:
                del self._failures[key]
