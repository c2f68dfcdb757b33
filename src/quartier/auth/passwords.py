"""Passwords of dashboard users: checked for a minimum of sense, kept only as argon2id hashes.

Hashing and checking take tens of milliseconds of CPU on purpose (against guessing from a
stolen table), so they run in a worker thread, off the event loop.
"""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from quartier.errors import BadRequest

MIN_LENGTH = 10
MAX_LENGTH = 200  # longer "passwords" only cost hashing time
_HASHER = PasswordHasher()  # argon2id with the library's current recommended parameters
# Checked against when the account does not exist, so that a wrong name takes as long as a
# wrong password and timing does not tell which names exist.
_STAND_IN = _HASHER.hash("quartier: no such account")


def checked(password: object) -> str:
    """``password`` if it may be one; 400 saying why not."""
    if not isinstance(password, str):
        raise BadRequest("password must be text")
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        raise BadRequest(f"a password must have {MIN_LENGTH} to {MAX_LENGTH} characters")
    if password.strip() != password:
        raise BadRequest("a password must not begin or end with spaces")
    return password


async def hashed(password: str) -> str:
    return await asyncio.to_thread(_HASHER.hash, checked(password))


async def matches(stored_hash: str | None, password: str) -> bool:
    """Whether ``password`` is the one ``stored_hash`` was made from (None: no account;
    checked against a stand-in all the same, and False)."""
    try:
        ok = await asyncio.to_thread(_HASHER.verify, stored_hash or _STAND_IN, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    return ok and stored_hash is not None
