"""Schemathesis against a real uvicorn server, on SQLite and PostgreSQL: for every operation
of /api/openapi.json, data that fits the schema and data that does not. Checked: no 5xx,
documented status codes and content types, answers that fit their schemas, and data that
breaks the schema refused with a 4xx.

Examples per operation and mode are bounded (``QUARTIER_SCHEMATHESIS_EXAMPLES``, default 6)
so that a backend takes about a minute; derandomized, so a run is reproducible.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from conftest import admin_key, backend_settings, make_app, serving, thing_body

EXAMPLES = int(os.environ.get("QUARTIER_SCHEMATHESIS_EXAMPLES", "6"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance, negative_data_rejection]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[tuple[str, str]]:
    """A served app with a few entities, so that generated ids (small numbers) meet rows,
    and an admin key to send (writes need one)."""
    settings = backend_settings(request, request.param, tmp_path_factory.mktemp("schemathesis"))
    app = make_app(settings)
    key = admin_key(app)
    with serving(app) as url:
        body = thing_body()
        body["Datastreams"] = [{
            "name": "Level", "description": "d", "observationType": "OM_Measurement",
            "unitOfMeasurement": {"name": "cm", "symbol": "cm", "definition": "u"},
            "Sensor": {"name": "s", "description": "s", "encodingType": "text/plain", "metadata": "m"},
            "ObservedProperty": {"name": "p", "definition": "p", "description": "p"},
            "Observations": [{"result": i, "phenomenonTime": f"2026-01-01T0{i}:00:00Z"} for i in range(3)],
        }]
        response = httpx.post(f"{url}/v1.1/Things", json=body, headers={"Authorization": f"Bearer {key}"})
        assert response.status_code == 201, response.text
        yield url, key


def _run_operation(operation: schemathesis.APIOperation, mode: GenerationMode, url: str,
                   session: requests.Session) -> None:
    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: schemathesis.Case) -> None:
        case.call_and_validate(base_url=url, session=session, checks=CHECKS)

    run()


def test_every_operation_keeps_to_the_description(server: tuple[str, str], tmp_path: Path) -> None:
    url, key = server
    schema = schemathesis.openapi.from_url(f"{url}/api/openapi.json")
    failures: dict[str, str] = {}
    # Revoking keys comes last: it may revoke the key the run sends.
    operations = sorted((result.ok() for result in schema.get_all_operations()),
                        key=lambda operation: operation.label == "DELETE /api/keys/{id}")
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {key}"
        for operation in operations:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                try:
                    _run_operation(operation, mode, url, session)
                except Unsatisfiable:
                    # Nothing in the operation can break its schema (no parameters, or
                    # only free strings): there is no negative case to send.
                    assert mode is GenerationMode.NEGATIVE, operation.label
                except (Exception, BaseExceptionGroup) as exc:
                    failures[f"{operation.label} [{mode.value}]"] = str(exc)[:1500]
    report = "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())
    (tmp_path / "report.txt").write_text(report)
    assert not failures, f"{len(failures)} operations failed:\n{report}"
