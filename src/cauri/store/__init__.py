"""Persistence: table definitions, the engine, migrations and the queries the services run."""
