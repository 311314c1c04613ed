"""Alembic's environment: the connection is handed in by mobproc.storage.migrate."""

from alembic import context

from mobproc.storage import procurement_schema  # noqa: F401 - its tables join the metadata
from mobproc.storage.schema import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
