"""Storage: the database, its transactions and where a request's code runs, the SQL behind
the domain's protocols, migrations. Internal: not mobproc's public API."""
