"""Fixtures of the e2e tier (helpers live in support.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.tls_s3 import tls_s3  # noqa: F401 - HTTPS S3 for the disaster recovery test

from .support import Lab


@pytest.fixture
def lab() -> Iterator[Lab]:
    """Temporary homes and `studio` processes, all cleaned up after the test."""
    lab = Lab()
    try:
        yield lab
    finally:
        lab.cleanup()
