"""Reading a JSON request body: media type, size limit, syntax."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import ClientDisconnect, Request

from quartier.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType

JSON_TYPE = "application/json"
JSON_PATCH_TYPE = "application/json-patch+json"


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def accepted_types(method: str) -> tuple[str, ...]:
    """The body media types a method takes: JSON, and for PATCH also JSON Patch."""
    return (JSON_TYPE, JSON_PATCH_TYPE) if method == "PATCH" else (JSON_TYPE,)


def check_media_type(kind: str, accepted: tuple[str, ...]) -> None:
    if kind and kind not in accepted:
        raise UnsupportedMediaType(
            f"the body must be sent as {' or '.join(accepted)}, not {kind}",
        )


async def read_json(request: Request, max_bytes: int, accepted: tuple[str, ...] = (JSON_TYPE,)) -> Any:
    """The parsed body; 415 for another media type, 413 when too large, 400 when not JSON."""
    check_media_type(media_type(request), accepted)
    return parse_json(await read_bytes(request, max_bytes))


async def read_bytes(request: Request, max_bytes: int) -> bytes:
    """The raw body; 413 when it is larger than ``max_bytes``."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise PayloadTooLarge(f"the body is larger than the limit of {max_bytes} bytes")
    chunks = bytearray()
    try:
        async for chunk in request.stream():
            chunks.extend(chunk)
            if len(chunks) > max_bytes:
                raise PayloadTooLarge(f"the body is larger than the limit of {max_bytes} bytes")
    except ClientDisconnect:  # nobody is left to answer; not a server error worth a traceback
        raise BadRequest("the client closed the connection before the body arrived") from None
    return bytes(chunks)


def parse_json(chunks: bytes) -> Any:
    if not chunks.strip():
        raise BadRequest("the request body is empty; send a JSON object")
    try:
        return orjson.loads(chunks)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}") from None
