"""Secrets handled by the API process: password hashes, session tokens, API keys, CSRF,
the first admin's setup link.

Passwords are hashed with argon2id (argon2-cffi). Session tokens, API keys and setup
tokens are 256 random bits, so a fast SHA-256 is enough to store them: nothing is left to brute-force,
and lookups stay a single index probe.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

API_KEY_PREFIX = "sk_studio_"
SESSION_COOKIE = "studio_session"
CSRF_HEADER = "x-csrf-token"

_hasher = PasswordHasher()
# Verified when the email is unknown, so a miss costs as much as a wrong password
# and response times do not reveal which emails have accounts.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


async def hash_password(password: str) -> str:
    # argon2 is deliberately slow: keep it off the event loop.
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(stored_hash: str | None, password: str) -> bool:
    def verify() -> bool:
        try:
            return _hasher.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(verify)


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def new_session_token() -> str:
    return secrets.token_urlsafe(32)


def new_setup_token() -> str:
    """The secret of a one-time setup link (the first admin): 256 random bits."""
    return secrets.token_urlsafe(32)


def new_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def csrf_token(secret_key: bytes, session_token: str) -> str:
    """Bound to the session (HMAC of its token), so it needs no storage and dies with it."""
    return hmac.new(secret_key, b"csrf:" + session_token.encode(), hashlib.sha256).hexdigest()


def csrf_valid(secret_key: bytes, session_token: str, presented: str | None) -> bool:
    # As bytes: compare_digest refuses str with non-ASCII characters, which a header can
    # hold (a 500 found by tests/api/test_hostile_input.py).
    return presented is not None and hmac.compare_digest(csrf_token(secret_key, session_token).encode(),
                                                         presented.encode())
