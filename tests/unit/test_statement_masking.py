"""The statements views show no literal value: what pg_stat_statements leaves in
(utility statements keep theirs) is masked, identifiers and placeholders are not."""

from __future__ import annotations

import pytest

from studio.monitoring.service import without_literals


@pytest.mark.parametrize(("query", "shown"), [
    ("ALTER ROLE studio_api PASSWORD 'hunter''s 2'", "ALTER ROLE studio_api PASSWORD ?"),
    ("SET LOCAL statement_timeout = '5s'", "SET LOCAL statement_timeout = ?"),
    ("SELECT a FROM t WHERE b = $1 AND c > 42 AND d < 1.5e3", "SELECT a FROM t WHERE b = $1 AND c > ? AND d < ?"),
    ("SELECT E'it\\'s' AS x", "SELECT E? AS x"),
    ("DO $body$ BEGIN PERFORM 'secret'; END $body$", "DO ?"),
    ('SELECT "weird ""name""" FROM "Table2"', 'SELECT "weird ""name""" FROM "Table2"'),
    ("LISTEN studio_jobs", "LISTEN studio_jobs"),
])
def test_literals_are_masked_and_the_rest_is_kept(query: str, shown: str) -> None:
    assert without_literals(query) == shown
