"""How soon the dashboard's overview map is usable with 1,000 Things.

Starts Quartier (SQLite) in this process, creates ``--things`` Things, each with a
Location and three Datastreams with a few recent Observations (half of them street
lights, the rest gauges, air-quality stations and parking bays), then opens ``/`` in
Debian's Chromium (Playwright) several times and reports the time from navigation until
the map's list says how many Things it shows and every marker or cluster is drawn.

    .venv/bin/python bench/bench_dashboard.py [--things 1000] [--runs 5]

Needs what ``scripts/setup.sh --test`` installs (Chromium, the npm libraries). It is a
benchmark, not a test: it prints figures and asserts nothing about time.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx2 as httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from conftest import admin_key, serving
from quartier.app import build_app
from quartier.settings import Settings

KINDS = ["streetlight", "streetlight", "gauge", "air_quality", "parking_bay"]


def fill(base: str, things: int, key: str) -> None:
    client = httpx.Client(base_url=base, timeout=120, headers={"X-API-Key": key})
    now = datetime.now(UTC)
    bodies = []
    for i in range(things):
        kind = KINDS[i % len(KINDS)]
        lon, lat = 8.90 + (i % 40) * 0.002, 50.40 + (i // 40) * 0.0015
        bodies.append({
            "name": f"Ding {i:04d}", "description": kind, "properties": {"kind": kind},
            "Locations": [{"name": f"Ort {i}", "description": "", "encodingType": "application/geo+json",
                           "location": {"type": "Point", "coordinates": [lon, lat]}}],
            "Datastreams": [{
                "name": f"Ding {i:04d} Wert {k}", "description": "", "properties": {"field": f"v{k}"},
                "observationType": "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
                "unitOfMeasurement": {"name": "centimetre", "symbol": "cm", "definition": "ucum:cm"},
                "Sensor": {"name": "s", "description": "", "encodingType": "text/plain", "metadata": "s"},
                "ObservedProperty": {"name": f"p{k}", "definition": f"urn:p{k}", "description": ""},
                "Observations": [{"phenomenonTime": (now - timedelta(minutes=m)).isoformat(), "result": m + k}
                                 for m in (1, 15, 30)],
            } for k in range(3)],
        })
    for start in range(0, things, 100):
        requests = [{"id": str(n), "method": "post", "url": "Things", "body": body}
                    for n, body in enumerate(bodies[start:start + 100])]
        answer = client.post("/v1.1/$batch", json={"requests": requests})
        assert answer.status_code == 200, answer.text[:300]
    client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--things", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    settings = Settings.validated({"data_dir": tempfile.mkdtemp(prefix="quartier-bench-")})
    app = build_app(settings)
    with serving(app) as base:
        started = time.perf_counter()
        fill(base, args.things, admin_key(app))
        took = time.perf_counter() - started
        print(f"created {args.things:,} Things with 3 Datastreams each in {took:.1f} s")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                        args=["--no-sandbox"])
            times = []
            for run in range(args.runs + 1):
                page = browser.new_page(viewport={"width": 1280, "height": 860}, locale="en-GB")
                begin = time.perf_counter()
                page.goto(f"{base}/")
                page.wait_for_function(
                    "n => (document.querySelector('#thing-count')?.textContent || '').startsWith(n)",
                    arg=f"{args.things:,}", timeout=60_000)
                page.wait_for_selector("#map .thing-marker, #map .thing-cluster")
                elapsed = time.perf_counter() - begin
                page.close()
                if run:  # the first run warms caches
                    times.append(elapsed)
            browser.close()
    print(f"overview map usable with {args.things:,} Things: median {statistics.median(times):.2f} s, "
          f"best {min(times):.2f} s, worst {max(times):.2f} s over {len(times)} runs")


if __name__ == "__main__":
    main()
