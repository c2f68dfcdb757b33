"""``quartier demo`` and ``quartier simulate`` as commands, and what a broken town file says."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx2 as httpx
import pytest
from click.testing import CliRunner

from conftest import admin_key, serving
from quartier.app import build_app
from quartier.cli import main
from quartier.demo.town import TownError, default_town_file, load_town
from quartier.settings import Settings


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_quartier_demo_serves_the_town_and_prints_where(tmp_path: Path) -> None:
    """As a new user runs it: one command, a living town, the URLs to open, Ctrl-C."""
    port = _free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("QUARTIER_DATA_DIR", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "quartier", "demo", "--days", "1", "--speed", "3600",
         "--port", str(port), "--log-level", "warning"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output: list[str] = []
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 120
        while not any("Stop with Ctrl-C" in line for line in output):
            line = process.stdout.readline()
            assert line or process.poll() is None, "".join(output)
            output.append(line)
            assert time.monotonic() < deadline, "".join(output)
        text = "".join(output)
        assert "backfilled 1 days" in text
        urls = re.findall(r"http://127\.0\.0\.1:\d+/\S+", text)
        assert len(urls) >= 5
        found = re.search(r"admin key \(shown only now\): (qk_\S+)", text)
        assert found, text
        key = found.group(1)
        for url in urls:  # as a visitor with the printed key
            answer = httpx.get(url, timeout=30, headers={"Authorization": f"Bearer {key}"})
            assert answer.status_code == 200, (url, answer.text)
        login = re.search(r"/login as 'demo' with the password (\S+)", text)
        assert login, text
        session = httpx.post(f"http://127.0.0.1:{port}/api/session", timeout=30,
                             json={"name": "demo", "password": login.group(1)})
        assert session.status_code == 200, session.text
        assert (session.json()["user"], session.json()["role"]) == ("demo", "admin")
        things = httpx.get(f"http://127.0.0.1:{port}/v1.1/Things",
                           params={"$count": "true", "$top": "0"}, timeout=30).json()
        assert things["@iot.count"] == 554
        time.sleep(3)  # a few hours pass (3600 times as fast), sent live
        first = _observations(port)
        time.sleep(2)
        assert _observations(port) > first, "the town does not live"
    finally:
        process.send_signal(signal.SIGINT)
        try:
            rest, _ = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            rest, _ = process.communicate()
    assert process.returncode == 0, "".join(output) + rest
    assert (tmp_path / "quartier-demo" / "quartier.sqlite3").exists()


def _observations(port: int) -> int:
    answer = httpx.get(f"http://127.0.0.1:{port}/v1.1/Observations",
                       params={"$count": "true", "$top": "0"}, timeout=30)
    return int(answer.json()["@iot.count"])


def test_simulate_drives_a_running_quartier_with_copies_of_the_town(tmp_path: Path) -> None:
    settings = Settings.validated({"data_dir": tmp_path})
    app = build_app(settings)
    with serving(app) as base:
        args = ["simulate", "--target", base, "--scale", "2", "--fast", "--duration", "1h",
                "--start", "2026-12-01T11:00:00Z", "--api-key", admin_key(app, role="editor")]
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, result.output
        assert "1108 devices (1108 created now)" in result.output
        copies = httpx.get(f"{base}/v1.1/Things", params={
            "$filter": "properties/town eq 'Lindbrück 2'", "$count": "true", "$top": "0"}).json()
        assert copies["@iot.count"] == 554
        # A second run finds the town and creates nothing.
        again = CliRunner().invoke(main, [*args, "--scale", "1"])
        assert again.exit_code == 0, again.output
        assert "(0 created now)" in again.output


def test_simulate_names_a_target_it_cannot_reach() -> None:
    result = CliRunner().invoke(main, ["simulate", "--target", f"http://127.0.0.1:{_free_port()}",
                                       "--duration", "1h"])
    assert result.exit_code == 2
    assert "cannot reach Quartier" in result.output


@pytest.mark.parametrize("change,message", [
    (('route = "Abfuhr Nordstadt"', 'route = "Abfuhr Mond"', 1),
     "fleet.vehicles[0].route: no route named 'Abfuhr Mond'"),
    (('interval = "15min"', 'interval = "15 minutes"', 1), 'must be a duration like "15min"'),
    (('through = ["kirchplatz", "markt", "rathaus"]', 'through = ["kirchplatz", "marktplatz"]', 1),
     "streets[1].through: no place named 'marktplatz'"),
    (('lamp = "SK-01-07"', 'lamp = "SK-99-01"', 1), "no device 'SK-99-01'"),
    (('stages = [170, 210, 250, 300]', 'stages = [170, 250, 210, 300]', 1),
     "water.gauges[0].stages: must be the four reporting levels in cm, rising"),
    (("[town]", "[town", 1), "not valid TOML"),
])
def test_a_broken_town_file_says_where(tmp_path: Path, change: tuple[str, str, int],
                                       message: str) -> None:
    old, new, count = change
    text = default_town_file().read_text("utf-8")
    assert old in text
    broken = tmp_path / "stadt.toml"
    broken.write_text(text.replace(old, new, count), "utf-8")
    result = CliRunner().invoke(main, ["simulate", "--target", "http://127.0.0.1:9",
                                       "--town", str(broken)])
    assert result.exit_code != 0
    assert message in result.output, result.output
    assert "stadt.toml" in result.output


def test_the_built_in_town_loads_and_its_streets_connect() -> None:
    town = load_town()
    assert town.name == "Lindbrück"
    places = [p for s in town.streets for p in s.places]
    for place in set(places):
        assert town.route(["betriebshof", place], town.root, "test")  # reachable from the depot
    with pytest.raises(TownError):
        load_town(default_town_file().with_name("missing.toml"))
