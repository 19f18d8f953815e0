"""Pure helpers of the HTTP layer: cursors and CSRF tokens."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from studio.auth import tokens
from studio.http.errors import ApiError
from studio.http.responses import decode_cursor, encode_cursor, page


def test_cursor_round_trip():
    when, ident = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC), uuid.uuid4()
    assert decode_cursor(encode_cursor(when, ident)) == (when, ident)


@pytest.mark.parametrize("bad", ["", "!!!", "bm90IGpzb24", "WzEsMl0"])
def test_bad_cursors_are_a_400(bad):
    with pytest.raises(ApiError) as info:
        decode_cursor(bad)
    assert info.value.status == 400


def test_page_uses_the_extra_row_only_to_signal_more():
    rows = [{"id": uuid.uuid4(), "created_at": datetime.now(UTC)} for _ in range(3)]
    assert page(rows, 3)["next_cursor"] is None
    more = page(rows, 2)
    assert len(more["items"]) == 2 and decode_cursor(more["next_cursor"])[1] == rows[1]["id"]


def test_csrf_token_is_bound_to_session_and_key():
    key = b"k" * 32
    token = tokens.csrf_token(key, "session-a")
    assert tokens.csrf_valid(key, "session-a", token)
    assert not tokens.csrf_valid(key, "session-b", token)
    assert not tokens.csrf_valid(b"other" * 8, "session-a", token)
    assert not tokens.csrf_valid(key, "session-a", None)


def test_secrets_are_random_and_hashed_to_32_bytes():
    keys = {tokens.new_api_key() for _ in range(100)}
    assert len(keys) == 100 and all(k.startswith(tokens.API_KEY_PREFIX) for k in keys)
    assert len(tokens.token_hash(next(iter(keys)))) == 32
