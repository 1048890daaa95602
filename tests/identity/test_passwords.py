from __future__ import annotations

from ministack.common.pagination import MAX_LIMIT, parse_page
from ministack.config import Settings
from ministack.identity.passwords import PasswordHasher


async def test_default_hash_is_bcrypt_cost_12() -> None:
    settings = Settings()
    hasher = PasswordHasher(settings.identity.password_hash_rounds)
    stored = await hasher.hash("correct horse")
    assert stored.startswith("$2b$12$")
    assert await hasher.verify("u1", "correct horse", stored)
    assert not await hasher.verify("u1", "wrong", stored)


async def test_a_failure_is_never_cached_and_a_new_hash_invalidates() -> None:
    hasher = PasswordHasher(4)
    first = await hasher.hash("one")
    assert await hasher.verify("u1", "one", first)
    assert not await hasher.verify("u1", "two", first)
    assert not await hasher.verify("u1", "two", first)  # the failure was not remembered
    assert await hasher.verify("u1", "one", first)
    second = await hasher.hash("two")
    assert not await hasher.verify("u1", "one", second)  # the cached "one" cannot match
    assert await hasher.verify("u1", "two", second)


def test_limit_is_capped() -> None:
    assert parse_page({"limit": "5000"}).limit == MAX_LIMIT == 1000
