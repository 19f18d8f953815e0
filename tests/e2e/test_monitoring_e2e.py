"""`studio db top` on the embedded default: pg_stat_statements is created by the
bootstrap, read with the cluster's superuser, and shown as a table."""

from __future__ import annotations

import pytest

from .support import Lab, child_env, home_secrets, needs_postgres, one_line

pytestmark = [pytest.mark.slow, needs_postgres]


def test_db_top_prints_the_heaviest_statements(lab: Lab) -> None:
    home = lab.home()
    env = child_env(home)
    # Migrations run a few hundred statements as studio_owner in Studio's database.
    upgraded = lab.run(["db", "upgrade"], env)
    assert upgraded.returncode == 0, upgraded.stdout + upgraded.stderr

    top = lab.run(["db", "top", "--order", "calls", "--limit", "5"], env)
    output = top.stdout + top.stderr
    assert top.returncode == 0, output
    assert "Traceback" not in output
    said = one_line(top.stdout)
    assert "Statements in studio, by calls" in said
    for column in ("calls", "total ms", "mean ms", "rows", "role", "query"):
        assert column in said, said
    assert "studio_owner" in said or "postgres" in said, said
    assert "no statements recorded" not in output
    # Rich draws one line per row between the header rule and the bottom rule.
    rows = [line for line in top.stdout.splitlines() if line.startswith("│")]
    assert rows, top.stdout

    # Every statement of the database, the bootstrap's ALTER ROLE ... PASSWORD among them
    # when it ran there: no literal shown, so no password.
    everything = lab.run(["db", "top", "--order", "calls", "--limit", "100"], env)
    assert everything.returncode == 0, everything.stdout + everything.stderr
    for name, secret in home_secrets(home).items():
        assert secret not in everything.stdout, f"{name} appears in `studio db top`"

    unknown = lab.run(["db", "top", "--order", "rows"], env)
    assert unknown.returncode == 2, unknown.stdout + unknown.stderr
    assert "Traceback" not in unknown.stderr
