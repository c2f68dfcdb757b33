"""HTTP upload of a historic series: ``POST /api/imports/csv`` (``/t/{tenant}/api/…`` for
another tenant), the same import as ``quartier import csv``.

Query parameters: ``datastream`` (its @iot.id), ``timeColumn``, ``valueColumn``, and
optionally ``delimiter`` (default ``,``), ``timeFormat`` (strptime; default ISO 8601),
``timezone`` (for times without an offset; default UTC), ``skipBadRows=true``. The body is
the CSV text with a header line. 201 with ``{rows, written, badRows, errors}``; when rows
are bad and not skipped, 422 with the first bad lines, and nothing is written.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from quartier.api.body import read_bytes
from quartier.api.params import request_tenant
from quartier.api.responses import json_response
from quartier.errors import BadRequest, Unprocessable
from quartier.importer import CsvLayout, import_csv, text_lines
from quartier.model.parse import parse_id
from quartier.settings import Settings
from quartier.store import Store


class ImportApi:
    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings

    async def csv(self, request: Request) -> Response:
        tenant_id = await request_tenant(self.store, request)
        query = request.query_params
        missing = [n for n in ("datastream", "timeColumn", "valueColumn") if not query.get(n)]
        if missing:
            raise BadRequest(f"give the query parameters {', '.join(missing)}, e.g. "
                             "?datastream=7&timeColumn=time&valueColumn=value")
        datastream_id = parse_id(query["datastream"], "datastream")
        skip = query.get("skipBadRows", "false")
        if skip not in ("true", "false"):
            raise BadRequest(f"skipBadRows must be true or false, not {skip!r}")
        delimiter = query.get("delimiter", ",")
        if len(delimiter) != 1:
            raise BadRequest(f"delimiter must be one character, not {delimiter!r}")
        layout = CsvLayout(query["timeColumn"], query["valueColumn"], delimiter,
                           query.get("timeFormat", ""), query.get("timezone", "UTC"))
        data = await read_bytes(request, self.settings.max_import_bytes)
        report = await import_csv(self.store, tenant_id, datastream_id, text_lines(data), layout,
                                  skip_bad_rows=skip == "true")
        if report.bad_count and skip != "true":
            raise Unprocessable(
                f"{report.bad_count} of {report.rows} rows are bad; nothing was written "
                "(fix them, or add skipBadRows=true)",
                errors=report.as_json()["errors"],
            )
        return json_response(report.as_json(), 201)
