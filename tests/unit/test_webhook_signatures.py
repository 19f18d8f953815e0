"""Standard Webhooks signature checks (F15): pure functions, a fixed clock."""

from __future__ import annotations

import base64
import hmac

import pytest

from studio.webhooks import signatures
from studio.webhooks.signatures import SignatureError, decode_secret, sign, verify

KEY = b"k" * 32
SECRET = "whsec_" + base64.b64encode(KEY).decode()
NOW = 1_760_000_000
BODY = b'{"id": "abc123", "status": "succeeded"}'


def check(signature: str | None, *, key: bytes = KEY, body: bytes = BODY, delivery_id: str | None = "msg_1",
          timestamp: str | None = str(NOW), now: float = NOW) -> None:
    verify(key, delivery_id=delivery_id, timestamp=timestamp, signature=signature, body=body, now=now)


def test_secret_is_the_base64_after_the_prefix():
    assert decode_secret(SECRET) == KEY
    assert decode_secret(SECRET.removeprefix("whsec_")) == KEY
    for bad in ("whsec_not base64!", "whsec_" + base64.b64encode(b"short").decode(), ""):
        with pytest.raises(ValueError):
            decode_secret(bad)


def test_round_trip():
    check(sign(KEY, "msg_1", NOW, BODY))


def test_known_vector():
    # Computed independently of sign(): HMAC-SHA256 over "{id}.{timestamp}.{body}".
    expected = base64.b64encode(hmac.digest(KEY, b"msg_1.%d." % NOW + BODY, "sha256")).decode()
    assert sign(KEY, "msg_1", NOW, BODY) == "v1," + expected


@pytest.mark.parametrize("change", [
    {"body": BODY.replace(b"succeeded", b"failed")},
    {"body": BODY + b" "},
    {"key": b"x" * 32},
    {"delivery_id": "msg_2"},            # the id is signed: no swapping it for a fresh one
    {"timestamp": str(NOW + 1)},        # so is the timestamp
])
def test_anything_changed_fails(change):
    with pytest.raises(SignatureError, match="no valid"):
        check(sign(KEY, "msg_1", NOW, BODY), **change)


def test_one_valid_signature_among_several_is_enough():
    good = sign(KEY, "msg_1", NOW, BODY)
    other = sign(b"o" * 32, "msg_1", NOW, BODY)
    check(f"{other} {good}")
    check(f"v1a,{good[3:]} {good}")          # unknown schemes are skipped
    check(f"v1,!!notbase64!! {good}")        # as are undecodable candidates
    with pytest.raises(SignatureError):
        check(f"{other} v2,{good[3:]}")


@pytest.mark.parametrize("offset", [-301, 301, -3600, 10**9])
def test_outside_the_window_fails_even_when_signed(offset):
    timestamp = NOW + offset
    with pytest.raises(SignatureError, match="window"):
        check(sign(KEY, "msg_1", timestamp, BODY), timestamp=str(timestamp))


@pytest.mark.parametrize("offset", [-300, 0, 300])
def test_inside_the_window_passes(offset):
    check(sign(KEY, "msg_1", NOW + offset, BODY), timestamp=str(NOW + offset))


@pytest.mark.parametrize("headers", [
    {"signature": None}, {"signature": ""}, {"signature": "   "}, {"signature": "v1"},
    {"signature": "v1,"}, {"signature": "garbage"},
    {"delivery_id": None}, {"delivery_id": ""}, {"delivery_id": "x" * 201}, {"delivery_id": "has space"},
    {"timestamp": None}, {"timestamp": ""}, {"timestamp": "-5"}, {"timestamp": "1.5"},
    {"timestamp": "2025-01-01T00:00:00Z"}, {"timestamp": "9" * 40},
])
def test_malformed_headers_fail(headers):
    values = {"signature": sign(KEY, "msg_1", NOW, BODY), **headers}
    with pytest.raises(SignatureError):
        check(**values)


def test_every_candidate_is_compared_in_constant_time(monkeypatch):
    """Behaviour only: each v1 candidate goes through hmac.compare_digest, also the ones
    after a match, so timing does not tell which one matched."""
    seen: list[bytes] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        seen.append(b)
        return real(a, b)

    monkeypatch.setattr(signatures.hmac, "compare_digest", spy)
    good = sign(KEY, "msg_1", NOW, BODY)
    other = sign(b"o" * 32, "msg_1", NOW, BODY)
    check(f"{good} {other} {other}")
    assert len(seen) == 3
    with pytest.raises(SignatureError):
        check(other)
    assert len(seen) == 4
