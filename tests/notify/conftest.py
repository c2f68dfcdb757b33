"""Fixtures for notification tests: the app on SQLite and PostgreSQL (the archive plays no
part here), and a webhook receiver."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import TestClient, backend_settings
from notify.helpers import Platform, Receiver
from quartier.app import build_app
from quartier.settings import Settings


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def settings(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    base = backend_settings(request, backend, tmp_path)
    return Settings.validated({"database": base.database, "data_dir": base.data_dir,
                               "archive_after_days": 0, "notify_retry_seconds": 1})


@pytest.fixture
def platform(settings: Settings) -> Iterator[Platform]:
    with TestClient(build_app(settings), raise_server_exceptions=False) as client:
        yield Platform(client)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.close()
