"""Keystone's [security_compliance]: account lockout, password rules, expiry and history.

Where it sits: `authn` asks `check_login` around every password login, and the user API asks
`new_password` whenever a password is set (create, admin reset, self-service change). Every
rule is off by default, as in Keystone. The lockout counter lives in the user's row and is
read fresh at each login (never from the login cache), and it is checked before the password:
a locked user cannot log in, not even through the bcrypt HMAC cache of recent logins.
Errors are Keystone's: 401 for a locked account or an expired password, 400 for a password
that breaks the rules.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ministack.common import errors
from ministack.common.db import Database, utcnow
from ministack.config import SecurityComplianceSection
from ministack.identity import models as m
from ministack.identity.passwords import PasswordHasher


def account_locked(user_id: str) -> errors.Unauthorized:
    return errors.Unauthorized(f"The account is locked for user: {user_id}.")


def password_expired(user_id: str) -> errors.Unauthorized:
    return errors.Unauthorized(
        f"The password is expired and needs to be changed for user: {user_id}."
    )


@dataclass(frozen=True)
class NewPassword:
    """What to store for a password that passed the rules."""

    hash: str
    expires_at: dt.datetime | None


class Compliance:
    def __init__(
        self, options: SecurityComplianceSection, hasher: PasswordHasher, db: Database
    ) -> None:
        self.options = options
        self.hasher = hasher
        self.db = db
        self._regex = re.compile(options.password_regex) if options.password_regex else None

    @property
    def lockout(self) -> bool:
        return self.options.lockout_failure_attempts > 0

    # -- login -----------------------------------------------------------------------------
    async def check_locked(self, s: AsyncSession, user_id: str) -> int:
        """The user's failed logins so far; raise 401 AccountLocked while they reach
        lockout_failure_attempts. A lock whose lockout_duration has passed is lifted (the
        counter starts again)."""
        if not self.lockout:
            return 0
        row = (
            await s.execute(
                select(m.User.failed_auth_count, m.User.failed_auth_at).where(m.User.id == user_id)
            )
        ).first()
        failures = int(row[0] or 0) if row else 0
        if row is None or failures < self.options.lockout_failure_attempts:
            return failures
        duration = self.options.lockout_duration
        if not duration or row[1] is None or row[1] + dt.timedelta(seconds=duration) > utcnow():
            raise account_locked(user_id)
        await self.reset_failures(user_id)
        return 0

    async def record_failure(self, user_id: str) -> None:
        """Count one failed login (atomic in SQL, so parallel failures all count)."""
        if self.lockout:
            async with self.db.writer() as s:
                await s.execute(
                    update(m.User)
                    .where(m.User.id == user_id)
                    .values(failed_auth_count=m.User.failed_auth_count + 1, failed_auth_at=utcnow())
                )

    async def reset_failures(self, user_id: str) -> None:
        """Forget the user's failed logins (after a success or a lapsed lock)."""
        if self.lockout:
            async with self.db.writer() as s:
                await s.execute(
                    update(m.User)
                    .where(m.User.id == user_id, m.User.failed_auth_count != 0)
                    .values(failed_auth_count=0, failed_auth_at=None)
                )

    @staticmethod
    def check_expiry(user_id: str, expires_at: dt.datetime | None) -> None:
        """Raise 401 PasswordExpired when the password's expiry has passed."""
        if expires_at is not None and expires_at <= utcnow():
            raise password_expired(user_id)

    # -- setting a password ----------------------------------------------------------------
    def check_rules(self, password: str) -> None:
        """Raise 400 when `password` does not match password_regex."""
        if self._regex is not None and self._regex.match(password) is None:
            detail = self.options.password_regex_description or (
                f"it must match the regular expression {self.options.password_regex}"
            )
            raise errors.BadRequest(f"The password does not match the requirements: {detail}.")

    async def check_history(self, password: str, current: str | None, history: list[str]) -> None:
        """Raise 400 when `password` is one of the last unique_last_password_count passwords
        (the current one included)."""
        count = self.options.unique_last_password_count
        if count <= 0:
            return
        recent = ([*history, current] if current else history)[-count:]
        for stored in recent:
            if await self.hasher.matches(password, stored):
                raise errors.BadRequest(
                    "The new password cannot be identical to a previous password. The total "
                    f"number which includes the new password must be unique is {count}."
                )

    async def new_password(self, password: str, *, by_admin: bool) -> NewPassword:
        """Check the rules and hash `password` (off the event loop; call it outside a write
        transaction). `by_admin`: set by an administrator (create or reset), which must be
        changed on first use when change_password_upon_first_use is on."""
        self.check_rules(password)
        now = utcnow()
        expires_at = None
        if by_admin and self.options.change_password_upon_first_use:
            expires_at = now
        elif self.options.password_expires_days > 0:
            expires_at = now + dt.timedelta(days=self.options.password_expires_days)
        return NewPassword(hash=await self.hasher.hash(password), expires_at=expires_at)

    def history_after(self, current: str | None, history: list[str]) -> list[str]:
        """The previous hashes to keep once `current` is replaced: as many as
        unique_last_password_count needs besides the new one."""
        keep = self.options.unique_last_password_count - 1
        previous = [*history, current] if current else list(history)
        return previous[-keep:] if keep > 0 else []
