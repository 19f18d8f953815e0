"""Time-based one-time passwords (RFC 6238), the optional second factor, with pyotp.

The codes are the ones every authenticator app makes (30-second steps, 6 digits,
HMAC-SHA1). A code is accepted for its own step and the one before or after (a clock a
little off), and each step once: the step of the last accepted code is stored, and a
code of that step or an earlier one is refused, so a code seen over a shoulder cannot be
used again. Recovery codes are ten random strings shown once; only their SHA-256 is
stored (they carry about 59 random bits each: a slow hash would add nothing).
"""

from __future__ import annotations

import hashlib
import secrets
import time

import pyotp

ISSUER = "Studio"
STEP_SECONDS = 30
DIGITS = 6
RECOVERY_CODES = 10
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read off paper


def new_secret() -> str:
    """160 random bits, base32 (what authenticator apps take)."""
    return pyotp.random_base32(32)


def provisioning_uri(secret: str, email: str) -> str:
    """otpauth://totp/Studio:<email>?secret=...&issuer=Studio: what a QR code carries."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(name=email, issuer_name=ISSUER)


def matching_step(secret: str, code: str, *, after_step: int | None, now: float | None = None) -> int | None:
    """The step `code` belongs to (this one, the one before or after), if it is later
    than `after_step` (the last accepted one); else None."""
    code = code.strip().replace(" ", "")
    if len(code) != DIGITS or not code.isascii() or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)
    current = int((time.time() if now is None else now) // STEP_SECONDS)
    for step in (current - 1, current, current + 1):
        # Every candidate is computed and compared: the time taken does not say which matched.
        matched = secrets.compare_digest(totp.generate_otp(step).encode(), code.encode())
        if matched and (after_step is None or step > after_step):
            return step
    return None


def new_recovery_codes() -> list[str]:
    """Ten codes like `k7pq-x2mr-9tbe`, 12 characters of a 31-letter alphabet each."""
    def one() -> str:
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(12))
        return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"
    return [one() for _ in range(RECOVERY_CODES)]


def recovery_code_hash(code: str) -> str:
    """Case, blanks and dashes do not matter when typing one back."""
    normalized = "".join(ch for ch in code.lower() if ch.isalnum())
    return hashlib.sha256(normalized.encode()).hexdigest()
