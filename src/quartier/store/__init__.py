"""Storage: one interface, SQLite (embedded) and PostgreSQL with PostGIS."""

from quartier.store.base import Store
from quartier.store.factory import open_store

__all__ = ["Store", "open_store"]
