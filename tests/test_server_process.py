"""``quartier serve`` as an operator runs it: real processes, real ports, real crashes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx2 as httpx
import pytest

from conftest import full_thing_body
from quartier.settings import Settings


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _command(settings: Settings, port: int, *extra: str) -> list[str]:
    cmd = [sys.executable, "-m", "quartier", "serve", "--port", str(port),
           "--data-dir", str(settings.data_dir), "--log-level", "warning", *extra]
    if settings.database:
        cmd += ["--database", settings.database]
    return cmd


@contextmanager
def serving(settings: Settings, *extra: str) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``quartier serve`` in a process of its own; its SensorThings URL, and an editor key
    made first with ``quartier key create`` (as a new install does) in :data:`KEYS`."""
    port = _free_port()
    key = _bootstrap_key(settings)
    process = subprocess.Popen(_command(settings, port, *extra), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/v1.1"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                output = process.stdout.read().decode() if process.stdout else ""
                pytest.fail(f"quartier serve exited with {process.returncode}:\n{output}")
            try:
                if httpx.get(url, timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("quartier serve did not answer within 30 s")
            time.sleep(0.1)
        KEYS[url] = key
        yield url, process
    finally:
        KEYS.pop(url, None)
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        if process.stdout:
            process.stdout.close()


KEYS: dict[str, str] = {}


def auth(url: str) -> dict[str, str]:
    """The headers that carry the key of the server at ``url``."""
    return {"Authorization": f"Bearer {KEYS[url]}"}


def _bootstrap_key(settings: Settings) -> str:
    cmd = [sys.executable, "-m", "quartier", "key", "create", "--role", "editor", "--name", "tests",
           "--data-dir", str(settings.data_dir)]
    if settings.database:
        cmd += ["--database", settings.database]
    made = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=60)
    return made.stdout.split()[0]


def _datastream(url: str) -> int:
    created = httpx.post(f"{url}/Things", json=full_thing_body(), timeout=10, headers=auth(url))
    assert created.status_code == 201, created.text
    return int(httpx.get(f"{created.headers['location']}/Datastreams").json()["value"][0]["@iot.id"])


def test_acknowledged_observation_survives_a_killed_server(settings: Settings) -> None:
    with serving(settings) as (url, process):
        ds = _datastream(url)
        posted = httpx.post(f"{url}/Datastreams({ds})/Observations", json={"result": 17.5},
                            headers=auth(url))
        assert posted.status_code == 201
        os.killpg(process.pid, signal.SIGKILL)  # no clean shutdown
        process.wait()
    with serving(settings) as (url, _):
        values = httpx.get(f"{url}/Datastreams({ds})/Observations").json()["value"]
        assert [o["result"] for o in values] == [17.5]


def test_two_workers_share_one_truth(settings: Settings) -> None:
    with serving(settings, "--workers", "2") as (url, _):
        ds = _datastream(url)

        def post(i: int) -> int:
            with httpx.Client(timeout=30, headers=auth(url)) as client:  # either worker
                response = client.post(f"{url}/Datastreams({ds})/Observations", json={
                    "result": i, "phenomenonTime": f"2026-11-22T{i // 60:02d}:{i % 60:02d}:00Z",
                })
                assert response.status_code == 201, response.text
                return int(response.json()["@iot.id"])

        with ThreadPoolExecutor(max_workers=16) as pool:
            ids = list(pool.map(post, range(200)))
        assert len(set(ids)) == 200
        body = httpx.get(f"{url}/Datastreams({ds})/Observations",
                         params={"$count": "true", "$top": "1000"}).json()
        assert body["@iot.count"] == 200
        assert sorted(o["result"] for o in body["value"]) == list(range(200))
        # The derived time range saw every write, whichever worker made it.
        datastream = httpx.get(f"{url}/Datastreams({ds})").json()
        assert datastream["phenomenonTime"] == "2026-11-22T00:00:00Z/2026-11-22T03:19:00Z"


def test_bad_database_url_stops_with_a_message(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "quartier", "serve", "--data-dir", str(tmp_path),
         "--database", "postgresql://postgres@127.0.0.1:1/nothing"],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2
    assert "cannot connect" in result.stderr
    assert "Traceback" not in result.stderr


def test_invalid_setting_is_a_usage_error(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "quartier", "serve", "--port", "eighty"],
        capture_output=True, text=True, timeout=60, env={**os.environ, "QUARTIER_DATA_DIR": str(tmp_path)},
    )
    assert result.returncode == 2
    assert "port" in result.stderr
