"""JSON responses and the one error shape."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

from quartier.errors import QuartierError


def json_response(content: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(content), status_code=status, headers=headers, media_type="application/json"
    )


def error_response(error: QuartierError) -> Response:
    return json_response(error.body(), error.status, error.headers() or None)
