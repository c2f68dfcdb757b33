"""The two ``$batch`` wire formats, as pure functions on bytes and decoded JSON.

JSON batches follow OData JSON Format 4.01 §19; multipart batches follow OData 4.0 §11.7 as
SensorThings 1.1 §11.2 uses them. Parsing gives ``SubRequest`` values and formatting takes
``SubResponse`` values; running the requests is the executor's job.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from http import HTTPStatus
from typing import Any

import orjson

from quartier.errors import BadRequest

METHODS = ("GET", "POST", "PATCH", "PUT", "DELETE")
_BOUNDARY = re.compile(r';\s*boundary\s*=\s*(?:"([^"]+)"|([^;\s]+))', re.IGNORECASE)
_GENERATED_ID = re.compile(r"part-\d+-*")
_CRLF = "\r\n"


@dataclass(frozen=True)
class SubRequest:
    """One request inside a batch, in the shape both formats share."""

    id: str
    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    atomicity_group: str | None = None
    depends_on: tuple[str, ...] = ()


@dataclass(frozen=True)
class SubResponse:
    """The outcome of one ``SubRequest``; ``id`` and ``atomicity_group`` are copied from it."""

    id: str
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    atomicity_group: str | None = None


def new_boundary() -> str:
    return "batchresponse_" + uuid.uuid4().hex


def _check_count(count: int, max_requests: int) -> None:
    if count > max_requests:
        raise BadRequest(f"The batch holds {count} requests; at most {max_requests} are allowed")


def _check_method(method: str, where: str) -> str:
    upper = method.upper()
    if upper not in METHODS:
        raise BadRequest(f"{where}: method {method!r} is not one of {', '.join(METHODS)}")
    return upper


# --- JSON format -------------------------------------------------------------------------------


def parse_json_batch(data: Any, max_requests: int = 1000) -> list[SubRequest]:
    """Validate a decoded JSON batch body and return its requests in order."""
    if not isinstance(data, dict) or not isinstance(data.get("requests"), list):
        raise BadRequest('A JSON batch must be an object with a "requests" array')
    _check_count(len(data["requests"]), max_requests)
    requests = [_json_request(index, item) for index, item in enumerate(data["requests"])]
    _check_json_ids(requests)
    return requests


def _json_request(index: int, item: Any) -> SubRequest:
    where = f"Batch request {index}"
    if not isinstance(item, dict):
        raise BadRequest(f"{where} must be a JSON object")
    ident = item.get("id")
    if not isinstance(ident, str):
        raise BadRequest(f'{where} needs an "id" string')
    where = f"Batch request {index} (id {ident!r})"
    method, url = item.get("method"), item.get("url")
    if not isinstance(method, str):
        raise BadRequest(f'{where} needs a "method" string')
    if not isinstance(url, str):
        raise BadRequest(f'{where} needs a "url" string')
    headers = item.get("headers", {})
    if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
        raise BadRequest(f'{where}: "headers" must be an object of strings')
    group = item.get("atomicityGroup")
    if group is not None and not isinstance(group, str):
        raise BadRequest(f'{where}: "atomicityGroup" must be a string')
    depends = item.get("dependsOn", [])
    if not isinstance(depends, list) or not all(isinstance(d, str) for d in depends):
        raise BadRequest(f'{where}: "dependsOn" must be an array of strings')
    return SubRequest(
        id=ident,
        method=_check_method(method, where),
        url=url,
        headers={name.lower(): value for name, value in headers.items()},
        body=item.get("body"),
        atomicity_group=group,
        depends_on=tuple(depends),
    )


def _check_json_ids(requests: list[SubRequest]) -> None:
    """Ids are unique, groups are adjacent, and dependsOn names only what came before."""
    ids = {r.id for r in requests}
    seen: set[str] = set()
    closed_groups: set[str] = set()
    previous_group: str | None = None
    for index, request in enumerate(requests):
        where = f"Batch request {index} (id {request.id!r})"
        if request.id in seen:
            raise BadRequest(f"{where}: the id is used by an earlier request; ids must be unique")
        group = request.atomicity_group
        if group in ids:
            raise BadRequest(f"{where}: atomicityGroup {group!r} is also a request id")
        if previous_group is not None and group != previous_group:
            closed_groups.add(previous_group)
        if group in closed_groups:
            raise BadRequest(f"{where}: the requests of atomicityGroup {group!r} must be adjacent")
        for target in request.depends_on:
            if target not in seen:
                raise BadRequest(f"{where}: dependsOn {target!r} names no earlier request or group")
        seen.add(request.id)
        if group is not None:
            seen.add(group)
        previous_group = group


def format_json_batch(responses: list[SubResponse]) -> dict[str, Any]:
    """Build the JSON batch response body."""
    items = []
    for response in responses:
        item: dict[str, Any] = {"id": response.id, "status": response.status}
        if response.headers:
            item["headers"] = dict(response.headers)
        if response.body is not None:
            item["body"] = response.body
        if response.atomicity_group is not None:
            item["atomicityGroup"] = response.atomicity_group
        items.append(item)
    return {"responses": items}


# --- multipart/mixed format --------------------------------------------------------------------


def parse_multipart_batch(body: bytes, content_type: str, max_requests: int = 1000) -> list[SubRequest]:
    """Parse an OData 4.0 multipart/mixed batch body; change sets become atomicity groups."""
    if not content_type.strip().lower().startswith("multipart/mixed"):
        raise BadRequest(f"A multipart batch needs Content-Type multipart/mixed, not {content_type!r}")
    try:
        text = body.decode("utf-8").replace("\r\n", "\n")
    except UnicodeDecodeError as exc:
        raise BadRequest("The batch body is not valid UTF-8") from exc
    requests: list[SubRequest] = []
    parts = _split_parts(text, _boundary(content_type, "The batch"), "The batch")
    for number, part in enumerate(parts, start=1):
        where = f"Batch part {number}"
        mime, content = _split_headers(part, where, need_blank=True)
        part_type = mime.get("content-type", "")
        if part_type.lower().startswith("multipart/mixed"):
            # Named by position: two change sets may legally reuse one boundary string.
            requests.extend(_parse_changeset(content, part_type, f"changeset-{number}", where))
        else:
            requests.append(_parse_http_part(mime, content, where))
        _check_count(len(requests), max_requests)
    return _assign_ids(requests)


def _boundary(content_type: str, where: str) -> str:
    match = _BOUNDARY.search(content_type)
    if match is None:
        raise BadRequest(f"{where}: Content-Type {content_type!r} has no boundary parameter")
    return match.group(1) or match.group(2)


def _split_parts(text: str, boundary: str, where: str) -> Iterator[str]:
    """Yield the body parts between ``--boundary`` lines, up to ``--boundary--``."""
    delimiter = "--" + boundary
    current: list[str] | None = None
    for line in text.split("\n"):
        marker = line.rstrip(" \t")
        if marker in (delimiter, delimiter + "--"):
            if current is not None:
                yield "\n".join(current)
            if marker != delimiter:
                return
            current = []
        elif current is not None:
            current.append(line)
    if current is None:
        raise BadRequest(f"{where} has no part that starts with the delimiter {delimiter!r}")
    raise BadRequest(f"{where} does not end with the closing delimiter {delimiter + '--'!r}")


def _split_headers(text: str, where: str, need_blank: bool) -> tuple[dict[str, str], str]:
    """Split ``Name: value`` lines from what follows the first blank line."""
    headers: dict[str, str] = {}
    lines = text.split("\n")
    for index, line in enumerate(lines):
        if not line.strip():
            return headers, "\n".join(lines[index + 1 :])
        name, colon, value = line.partition(":")
        if not colon or not name.strip():
            raise BadRequest(f"{where}: {line!r} is not a 'Name: value' header line")
        headers[name.strip().lower()] = value.strip()
    if need_blank:
        raise BadRequest(f"{where}: the headers are not followed by a blank line")
    return headers, ""


def _parse_changeset(text: str, content_type: str, group: str, where: str) -> list[SubRequest]:
    requests = []
    for number, part in enumerate(_split_parts(text, _boundary(content_type, where), where), start=1):
        inner = f"{where}, change set part {number}"
        mime, content = _split_headers(part, inner, need_blank=True)
        if mime.get("content-type", "").lower().startswith("multipart/"):
            raise BadRequest(f"{inner}: change sets cannot be nested")
        request = _parse_http_part(mime, content, inner)
        if request.method == "GET":
            raise BadRequest(f"{inner}: GET is not allowed inside a change set")
        requests.append(replace(request, atomicity_group=group))
    return requests


def _parse_http_part(mime: dict[str, str], content: str, where: str) -> SubRequest:
    part_type = mime.get("content-type", "")
    if part_type.split(";")[0].strip().lower() != "application/http":
        raise BadRequest(f"{where}: Content-Type must be application/http, not {part_type!r}")
    encoding = mime.get("content-transfer-encoding", "binary")
    if encoding.lower() != "binary":
        raise BadRequest(f"{where}: Content-Transfer-Encoding must be binary, not {encoding!r}")
    request_line, _, rest = content.partition("\n")
    tokens = request_line.split()
    if len(tokens) != 3 or not tokens[2].upper().startswith("HTTP/"):
        raise BadRequest(f"{where}: {request_line!r} is not a 'METHOD url HTTP/1.1' request line")
    headers, payload = _split_headers(rest, where, need_blank=False)
    return SubRequest(
        id=mime.get("content-id", ""),
        method=_check_method(tokens[0], where),
        url=tokens[1],
        headers=headers,
        body=_parse_body(payload, where),
    )


def _parse_body(payload: str, where: str) -> Any:
    if not payload.strip():
        return None
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"{where}: the body is not valid JSON ({exc})") from exc


def _assign_ids(requests: list[SubRequest]) -> list[SubRequest]:
    """Check Content-IDs are unique and give ``part-N`` ids to parts without one.

    Such ids match ``_GENERATED_ID``, which is how the response leaves their Content-ID out.
    """
    given: set[str] = set()
    for request in requests:
        if request.id in given:
            raise BadRequest(f"Content-ID {request.id!r} is used by more than one part")
        if request.id:
            given.add(request.id)
    result = []
    for number, request in enumerate(requests, start=1):
        if not request.id:
            ident = f"part-{number}"
            while ident in given:
                ident += "-"
            request = replace(request, id=ident)
        result.append(request)
    return result


def format_multipart_batch(responses: list[SubResponse], boundary: str) -> bytes:
    """Build the multipart/mixed batch response; each run of one atomicity group is a change set."""
    chunks: list[bytes] = []
    index = 0
    while index < len(responses):
        group = responses[index].atomicity_group
        end = index + 1
        while group is not None and end < len(responses) and responses[end].atomicity_group == group:
            end += 1
        chunks.append(f"--{boundary}{_CRLF}".encode())
        if group is None:
            chunks.append(_http_part(responses[index]))
        else:
            chunks.append(_changeset_part(responses[index:end]))
        index = end
    chunks.append(f"--{boundary}--{_CRLF}".encode())
    return b"".join(chunks)


def _changeset_part(responses: list[SubResponse]) -> bytes:
    boundary = "changesetresponse_" + uuid.uuid4().hex
    chunks = [f"Content-Type: multipart/mixed; boundary={boundary}{_CRLF}{_CRLF}".encode()]
    for response in responses:
        chunks.append(f"--{boundary}{_CRLF}".encode())
        chunks.append(_http_part(response))
    chunks.append(f"--{boundary}--{_CRLF}".encode())
    return b"".join(chunks)


def _http_part(response: SubResponse) -> bytes:
    lines = ["Content-Type: application/http", "Content-Transfer-Encoding: binary"]
    if not _GENERATED_ID.fullmatch(response.id):
        lines.append(f"Content-ID: {response.id}")
    lines += ["", f"HTTP/1.1 {response.status} {_reason(response.status)}"]
    headers = {name.lower(): value for name, value in response.headers.items()}
    if response.body is not None:
        headers.setdefault("content-type", "application/json; charset=utf-8")
    lines += [f"{_title(name)}: {value}" for name, value in headers.items()]
    lines += ["", ""]
    # The CRLF before the next delimiter belongs to it, so end the HTTP message with one more.
    if response.body is None:
        payload = b""
    elif isinstance(response.body, str) and headers["content-type"].startswith("text/"):
        payload = response.body.encode()  # a $value: the text itself
    else:
        payload = orjson.dumps(response.body)
    return _CRLF.join(lines).encode() + payload + _CRLF.encode()


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def _title(name: str) -> str:
    return "-".join(word.capitalize() for word in name.split("-"))
