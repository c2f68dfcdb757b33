"""A PostgreSQL restart, seen from Quartier: 503s while it is away, then service again.

The database is reached through a small TCP relay on 127.0.0.1 that the test can cut and
restore, which to Quartier looks like a server restart (the real server is shared with
the other tests and stays up).
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from conftest import Api, TestClient, full_thing_body, truncate_tables
from quartier.app import build_app
from quartier.settings import Settings


class Relay:
    """Forwards a loopback port to PostgreSQL; ``cut`` drops every connection."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = int(probe.getsockname()[1])
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    def _call(self, coro: object) -> None:
        asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=10)  # type: ignore[arg-type]

    def start(self) -> None:
        self._call(self._start())

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self._writers.update((writer, up_writer))

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    def cut(self) -> None:
        self._call(self._cut())

    async def _cut(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    def close(self) -> None:
        self.cut()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()


@pytest.fixture
def relayed(pg_database: str, tmp_path: object) -> Iterator[tuple[Relay, Settings]]:
    truncate_tables(pg_database)
    head, _, rest = pg_database.partition("@127.0.0.1:")
    port, _, database = rest.partition("/")
    relay = Relay(int(port))
    relay.start()
    try:
        url = f"{head}@127.0.0.1:{relay.port}/{database}"
        yield relay, Settings.validated({"database": url, "data_dir": tmp_path})
    finally:
        relay.close()


def test_database_restart_gives_503_then_service(relayed: tuple[Relay, Settings]) -> None:
    relay, settings = relayed
    with TestClient(build_app(settings), raise_server_exceptions=False) as client:
        api = Api(client)
        thing = api.create("Things", full_thing_body())
        relay.cut()  # the database goes away
        for response in (api.get("Things"), api.post("Things", full_thing_body("Second"))):
            assert response.status_code == 503, response.text
            body = response.json()
            assert body["code"] == "service_unavailable"
            assert "database" in body["message"]
        relay.start()  # and comes back
        deadline = time.monotonic() + 20
        while True:
            response = api.get("Things")
            if response.status_code == 200 or time.monotonic() > deadline:
                break
            assert response.status_code == 503, response.text
            time.sleep(0.2)
        assert [t["@iot.id"] for t in response.json()["value"]] == [thing]
        assert api.post("Things", full_thing_body("Second")).status_code == 201
