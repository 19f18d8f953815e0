"""Alembic, driven from code: `studio db upgrade|downgrade|status` and the launcher call these.

Migrations run as studio_owner. Each revision has a real downgrade (F9); the test
suite goes up, fills every table, down to base and up again.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import psycopg
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine
from sqlalchemy.pool import NullPool

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def _engine(conninfo: str) -> Engine:
    # SQLAlchemy is only Alembic's transport here; psycopg opens the connection so
    # that unix-socket conninfo strings work as they are.
    return create_engine("postgresql+psycopg://", creator=lambda: psycopg.connect(conninfo), poolclass=NullPool)


def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def current_revision(conninfo: str) -> str | None:
    engine = _engine(conninfo)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def _run(conninfo: str, action: Callable[[Config, str], None], revision: str) -> None:
    config = _config()
    engine = _engine(conninfo)
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            action(config, revision)
    finally:
        engine.dispose()


def upgrade(conninfo: str, revision: str = "head") -> None:
    _run(conninfo, command.upgrade, revision)


def downgrade(conninfo: str, revision: str = "-1") -> None:
    _run(conninfo, command.downgrade, revision)


def history() -> list[tuple[str, str]]:
    """(revision, first line of its docstring), oldest first."""
    scripts = ScriptDirectory.from_config(_config())
    revisions = list(scripts.walk_revisions())
    return [(r.revision, (r.doc or "").splitlines()[0]) for r in reversed(revisions)]
