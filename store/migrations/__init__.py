"""Alembic migrations of the zhidu schema (run them with store.migrate.upgrade)."""
