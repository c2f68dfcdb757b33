"""Pick the backend a :class:`~quartier.settings.Settings` asks for."""

from __future__ import annotations

from quartier.settings import Settings
from quartier.store.base import Store


def open_store(settings: Settings) -> Store:
    """The (not yet opened) store for these settings."""
    if settings.database:
        from quartier.store.postgres import PostgresStore

        url = settings.database.replace("postgres://", "postgresql://", 1)
        return PostgresStore(url, read_timeout=settings.request_timeout)
    from quartier.store.sqlite import SqliteStore

    return SqliteStore(settings.sqlite_path)
