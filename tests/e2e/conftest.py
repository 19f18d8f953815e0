"""Fixtures of the e2e tier (helpers live in support.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .support import Lab


@pytest.fixture
def lab() -> Iterator[Lab]:
    """Temporary homes and `studio` processes, all cleaned up after the test."""
    lab = Lab()
    try:
        yield lab
    finally:
        lab.cleanup()
