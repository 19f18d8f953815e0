"""Alembic environment: Studio hands in an open connection (see studio.db.migrate)."""

from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=None, transaction_per_migration=True)

with context.begin_transaction():
    context.run_migrations()
