"""Fixtures of the database tier, on top of tests/conftest.py (`pg`, `db`, `admin_conn`).

- `template_db`: name of the session's migrated template database (read only).
- `filled_template`: a database at head filled once per session with
  `sample_data.fill_every_table`; `filled_db` is a fresh copy of it per test, so a
  test may change or delete rows freely.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
import pytest

from tests.conftest import TEMPLATE_DB
from tests.db.sample_data import Sample, fill_every_table


@dataclass(frozen=True)
class FilledDb:
    name: str
    sample: Sample


@pytest.fixture(scope="session")
def template_db(pg) -> str:
    return TEMPLATE_DB


@pytest.fixture(scope="session")
def filled_template(pg, template_db: str) -> Iterator[FilledDb]:
    name = pg.create_database(template=template_db)
    try:
        with psycopg.connect(pg.admin(name), autocommit=True) as conn:
            sample = fill_every_table(conn)
        yield FilledDb(name, sample)
    finally:
        pg.drop_database(name)


@pytest.fixture
def filled_db(pg, filled_template: FilledDb) -> Iterator[FilledDb]:
    """A fresh database at head holding the session's sample rows (same ids)."""
    name = pg.create_database(template=filled_template.name)
    try:
        yield FilledDb(name, filled_template.sample)
    finally:
        pg.drop_database(name)
