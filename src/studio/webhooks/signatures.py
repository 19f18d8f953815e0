"""Standard Webhooks signatures, the scheme Replicate uses (https://www.standardwebhooks.com).

The sender signs `"{webhook-id}.{webhook-timestamp}.{raw body}"` with HMAC-SHA256 and
sends `webhook-signature: v1,<base64> [v1,<base64> ...]` (several while a secret is
being rotated). The secret is shared as `whsec_<base64>`; the key is the decoded part.

Pure functions, no I/O: the clock is a parameter so tests can move it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import time

SECRET_PREFIX = "whsec_"
TOLERANCE_SECONDS = 300  # a delivery older or newer than this is refused (replay window)
MIN_SECRET_BYTES = 16
_DELIVERY_ID = re.compile(r"[\x21-\x7e]{1,200}")  # visible ASCII; the column allows 1..200 chars
_TIMESTAMP = re.compile(r"[0-9]{1,12}")


class SignatureError(Exception):
    """The delivery is not provably from the provider, or not recent. The message says
    which check failed; it is safe to return (it reveals nothing about the secret)."""


def decode_secret(secret: str) -> bytes:
    """The HMAC key of a `whsec_<base64>` secret (the prefix is optional). Raises
    ValueError for a secret that is not base64 or too short to be a real one."""
    encoded = secret.strip().removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("a webhook secret must be 'whsec_' followed by base64") from None
    if len(key) < MIN_SECRET_BYTES:
        raise ValueError(f"a webhook secret must decode to at least {MIN_SECRET_BYTES} bytes")
    return key


def _digest(key: bytes, delivery_id: str, timestamp: str, body: bytes) -> bytes:
    signed = f"{delivery_id}.{timestamp}.".encode() + body
    return hmac.new(key, signed, hashlib.sha256).digest()


def sign(key: bytes, delivery_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value a sender would put on this delivery."""
    return "v1," + base64.b64encode(_digest(key, delivery_id, str(timestamp), body)).decode("ascii")


def verify(key: bytes, *, delivery_id: str | None, timestamp: str | None, signature: str | None,
           body: bytes, now: float | None = None, tolerance: int = TOLERANCE_SECONDS) -> None:
    """Return if one `v1` signature in the header matches; raise SignatureError otherwise.

    Header values are the raw strings as received (None when absent)."""
    if not delivery_id or not timestamp or not signature:
        raise SignatureError("missing webhook-id, webhook-timestamp or webhook-signature header")
    if not _DELIVERY_ID.fullmatch(delivery_id):
        raise SignatureError("malformed webhook-id header")
    if not _TIMESTAMP.fullmatch(timestamp):
        raise SignatureError("malformed webhook-timestamp header")
    # The window is checked before the HMAC only because it is cheaper; both must pass.
    current = time.time() if now is None else now
    if abs(current - int(timestamp)) > tolerance:
        raise SignatureError("webhook-timestamp is outside the allowed window")

    expected = _digest(key, delivery_id, timestamp, body)
    matched = False
    for candidate in signature.split():
        version, _, encoded = candidate.partition(",")
        if version != "v1":
            continue  # other schemes (e.g. asymmetric v1a) are not ours to check
        try:
            given = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            continue
        # Constant time per candidate, and no early exit: how long verification takes
        # does not depend on which candidate (if any) matched.
        matched |= hmac.compare_digest(expected, given)
    if not matched:
        raise SignatureError("no valid webhook signature")
