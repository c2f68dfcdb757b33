"""Unit tests of the ``$batch`` wire formats: JSON (OData 4.01) and multipart/mixed (OData 4.0)."""

from __future__ import annotations

import email
import email.policy
from email.message import Message
from typing import Any

import orjson
import pytest

from quartier.api.batch_format import (
    SubRequest,
    SubResponse,
    format_json_batch,
    format_multipart_batch,
    new_boundary,
    parse_json_batch,
    parse_multipart_batch,
)
from quartier.errors import BadRequest

BATCH = "batch_36522ad7-fc75-4b56-8c71-56071383e77b"
CHANGESET = "changeset_77162fcd-b8da-41ac-a9f8-9357efbbd621"

# The shape of the SensorThings 1.1 §11.2 example: a GET, then a change set of POST and PATCH.
SPEC_EXAMPLE = f"""--{BATCH}
Content-Type: application/http
Content-Transfer-Encoding:binary

GET /v1.1/Things(1) HTTP/1.1
Host: host

--{BATCH}
Content-Type: multipart/mixed;boundary={CHANGESET}

--{CHANGESET}
Content-Type: application/http
Content-Transfer-Encoding:binary
Content-ID: 1

POST /v1.1/Things HTTP/1.1
Host: host
Content-Type: application/json

{{
  "name": "New",
  "description": "Thing"
}}

--{CHANGESET}
Content-Type: application/http
Content-Transfer-Encoding:binary
Content-ID: 2

PATCH /v1.1/Things(1) HTTP/1.1
Host: host
Content-Type: application/json
If-Match: xxxxx

{{
  "name": "Changed"
}}

--{CHANGESET}--

--{BATCH}--
"""
SPEC_CONTENT_TYPE = f"multipart/mixed;boundary={BATCH}"


def crlf(text: str) -> bytes:
    return text.replace("\n", "\r\n").encode()


def request(ident: str, group: str | None = None, depends: list[str] | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {"id": ident, "method": "post", "url": "Things", "body": {"name": ident}}
    if group is not None:
        item["atomicityGroup"] = group
    if depends is not None:
        item["dependsOn"] = depends
    return item


def part(http: str, content_id: str | None = None, boundary: str = "b") -> str:
    head = "Content-Type: application/http\nContent-Transfer-Encoding: binary\n"
    if content_id is not None:
        head += f"Content-ID: {content_id}\n"
    return f"--{boundary}\n{head}\n{http}\n"


def changeset_of(*parts: str) -> str:
    return "--b\nContent-Type: multipart/mixed; boundary=cs\n\n" + "".join(parts) + "--cs--\n"


def multipart(*parts: str, boundary: str = "b") -> bytes:
    return ("".join(parts) + f"--{boundary}--\n").encode()


def bad_multipart(body: bytes, content_type: str = "multipart/mixed; boundary=b") -> str:
    with pytest.raises(BadRequest) as caught:
        parse_multipart_batch(body, content_type)
    return caught.value.message


def bad_json(data: Any, max_requests: int = 1000) -> str:
    with pytest.raises(BadRequest) as caught:
        parse_json_batch(data, max_requests=max_requests)
    return caught.value.message


# --- JSON batch -------------------------------------------------------------------------------


def test_json_batch_parses_every_field() -> None:
    data = {
        "requests": [
            {"id": "0", "method": "get", "url": "Things?$top=2", "headers": {"Accept": "application/json"}},
            {"id": "1", "method": "Post", "url": "Things", "body": {"name": "A"}, "atomicityGroup": "g1"},
            {
                "id": "2",
                "method": "PATCH",
                "url": "$1",
                "body": {},
                "atomicityGroup": "g1",
                "dependsOn": ["1"],
            },
            {"id": "3", "method": "delete", "url": "/v1.1/Things(9)", "dependsOn": ["g1", "0"]},
        ]
    }
    parsed = parse_json_batch(data)
    assert parsed[0] == SubRequest(
        "0", "GET", "Things?$top=2", {"accept": "application/json"}, None, None, ()
    )
    assert parsed[1] == SubRequest("1", "POST", "Things", {}, {"name": "A"}, "g1", ())
    assert parsed[2].depends_on == ("1",)
    assert parsed[2].body == {}
    assert parsed[3].method == "DELETE"
    assert parsed[3].depends_on == ("g1", "0")


def test_json_batch_may_be_empty() -> None:
    assert parse_json_batch({"requests": []}) == []


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ([], '"requests" array'),
        ({"requests": {}}, '"requests" array'),
        ({"request": []}, '"requests" array'),
        ({"requests": ["GET Things"]}, "Batch request 0 must be a JSON object"),
        ({"requests": [{"method": "GET", "url": "Things"}]}, 'needs an "id" string'),
        ({"requests": [{"id": 1, "method": "GET", "url": "Things"}]}, 'needs an "id" string'),
        ({"requests": [{"id": "a", "url": "Things"}]}, "id 'a') needs a \"method\""),
        ({"requests": [{"id": "a", "method": "HEAD", "url": "Things"}]}, "method 'HEAD' is not one of"),
        ({"requests": [{"id": "a", "method": "GET"}]}, 'needs a "url" string'),
        ({"requests": [{"id": "a", "method": "GET", "url": ["Things"]}]}, 'needs a "url" string'),
        ({"requests": [{"id": "a", "method": "GET", "url": "T", "headers": []}]}, '"headers" must be'),
        ({"requests": [{"id": "a", "method": "GET", "url": "T", "headers": {"x": 1}}]}, '"headers" must'),
        ({"requests": [{"id": "a", "method": "GET", "url": "T", "atomicityGroup": 3}]}, '"atomicityGroup"'),
        ({"requests": [{"id": "a", "method": "GET", "url": "T", "dependsOn": "b"}]}, '"dependsOn" must'),
        ({"requests": [{"id": "a", "method": "GET", "url": "T", "dependsOn": [1]}]}, '"dependsOn" must'),
    ],
)
def test_json_batch_shape_errors(data: Any, fragment: str) -> None:
    assert fragment in bad_json(data)


def test_json_ids_must_be_unique() -> None:
    message = bad_json({"requests": [request("a"), request("b"), request("a")]})
    assert "Batch request 2 (id 'a')" in message
    assert "unique" in message


def test_json_group_id_may_not_equal_a_request_id() -> None:
    assert "also a request id" in bad_json({"requests": [request("a"), request("b", group="a")]})


def test_json_depends_on_unknown_id_is_rejected() -> None:
    message = bad_json({"requests": [request("a"), request("b", depends=["zz"])]})
    assert "id 'b'" in message
    assert "'zz'" in message


def test_json_depends_on_forward_reference_is_rejected() -> None:
    message = bad_json({"requests": [request("a", depends=["b"]), request("b")]})
    assert "dependsOn 'b' names no earlier request" in message


def test_json_depends_on_earlier_group_is_accepted() -> None:
    parsed = parse_json_batch({"requests": [request("a", group="g"), request("b", depends=["g"])]})
    assert parsed[1].depends_on == ("g",)


def test_json_atomicity_group_must_be_adjacent() -> None:
    data = {"requests": [request("a", group="g"), request("b"), request("c", group="g")]}
    message = bad_json(data)
    assert "Batch request 2 (id 'c')" in message
    assert "adjacent" in message


def test_json_adjacent_groups_are_accepted() -> None:
    data = {"requests": [request("a", "g"), request("b", "g"), request("c", "h"), request("d")]}
    assert [r.atomicity_group for r in parse_json_batch(data)] == ["g", "g", "h", None]


def test_json_max_requests() -> None:
    data = {"requests": [request(str(i)) for i in range(3)]}
    assert len(parse_json_batch(data, max_requests=3)) == 3
    assert "at most 2" in bad_json(data, max_requests=2)


def test_format_json_batch_omits_empty_members() -> None:
    responses = [
        SubResponse("1", 201, {"location": "http://h/v1.1/Things(5)"}, {"@iot.id": 5}, "g1"),
        SubResponse("2", 204),
    ]
    assert format_json_batch(responses) == {
        "responses": [
            {
                "id": "1",
                "status": 201,
                "headers": {"location": "http://h/v1.1/Things(5)"},
                "body": {"@iot.id": 5},
                "atomicityGroup": "g1",
            },
            {"id": "2", "status": 204},
        ]
    }


def test_format_json_batch_is_json_serialisable() -> None:
    document = format_json_batch([SubResponse("x", 200, {}, [1, "two", None])])
    assert orjson.loads(orjson.dumps(document)) == {
        "responses": [{"id": "x", "status": 200, "body": [1, "two", None]}]
    }


# --- multipart batch: parsing -----------------------------------------------------------------


@pytest.mark.parametrize("line_end", ["\r\n", "\n"])
def test_spec_example_parses(line_end: str) -> None:
    body = SPEC_EXAMPLE.replace("\n", line_end).encode()
    get, post, patch = parse_multipart_batch(body, SPEC_CONTENT_TYPE)
    assert get == SubRequest("part-1", "GET", "/v1.1/Things(1)", {"host": "host"}, None, None, ())
    assert post.id == "1"
    assert post.method == "POST"
    assert post.url == "/v1.1/Things"
    assert post.headers == {"host": "host", "content-type": "application/json"}
    assert post.body == {"name": "New", "description": "Thing"}
    assert patch.id == "2"
    assert patch.method == "PATCH"
    assert patch.headers["if-match"] == "xxxxx"
    assert patch.body == {"name": "Changed"}
    assert post.atomicity_group is not None
    assert post.atomicity_group == patch.atomicity_group


def test_quoted_boundary_and_content_id_reference() -> None:
    body = multipart(
        part("POST /v1.1/Things HTTP/1.1\n\n{}", content_id="1", boundary="a b"),
        part("POST $1/Datastreams HTTP/1.1\nContent-Type: application/json\n\n{}", boundary="a b"),
        boundary="a b",
    )
    parsed = parse_multipart_batch(body, 'multipart/mixed; boundary="a b"; charset=utf-8')
    assert [r.url for r in parsed] == ["/v1.1/Things", "$1/Datastreams"]
    assert [r.id for r in parsed] == ["1", "part-2"]


def test_separate_changesets_get_separate_groups() -> None:
    changeset = changeset_of(part("POST Things HTTP/1.1\n\n{}", boundary="cs"))
    parsed = parse_multipart_batch(
        crlf(multipart(changeset, changeset).decode()), "multipart/mixed; boundary=b"
    )
    assert len(parsed) == 2
    assert parsed[0].atomicity_group is not None
    assert parsed[1].atomicity_group is not None
    assert parsed[0].atomicity_group != parsed[1].atomicity_group


def test_preamble_epilogue_and_absolute_url_are_kept_apart() -> None:
    body = b"preamble text\n" + multipart(part("GET http://host/v1.1/Things HTTP/1.1")) + b"epilogue\n"
    (only,) = parse_multipart_batch(body, "multipart/mixed; boundary=b")
    assert only.url == "http://host/v1.1/Things"
    assert only.body is None


def test_empty_multipart_batch() -> None:
    assert parse_multipart_batch(b"--b--\r\n", "multipart/mixed; boundary=b") == []


def test_generated_ids_avoid_explicit_ones() -> None:
    body = multipart(part("GET Things HTTP/1.1"), part("GET Things HTTP/1.1", content_id="part-1"))
    ids = [r.id for r in parse_multipart_batch(body, "multipart/mixed; boundary=b")]
    assert ids[1] == "part-1"
    assert ids[0] != "part-1"
    assert len(set(ids)) == 2


def test_duplicate_content_id_is_rejected() -> None:
    body = multipart(part("GET Things HTTP/1.1", "7"), part("GET Sensors HTTP/1.1", "7"))
    assert "Content-ID '7'" in bad_multipart(body)


def test_multipart_max_requests_counts_changeset_parts() -> None:
    body = multipart(changeset_of(part("POST Things HTTP/1.1\n\n{}", boundary="cs") * 3))
    assert len(parse_multipart_batch(body, "multipart/mixed; boundary=b", max_requests=3)) == 3
    with pytest.raises(BadRequest, match="at most 2"):
        parse_multipart_batch(body, "multipart/mixed; boundary=b", max_requests=2)


@pytest.mark.parametrize(
    ("content_type", "fragment"),
    [
        ("application/json", "needs Content-Type multipart/mixed"),
        ("multipart/mixed", "no boundary parameter"),
        ("multipart/mixed; charset=utf-8", "no boundary parameter"),
    ],
)
def test_multipart_content_type_errors(content_type: str, fragment: str) -> None:
    assert fragment in bad_multipart(multipart(part("GET Things HTTP/1.1")), content_type)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"just some text", "The batch has no part that starts with the delimiter '--b'"),
        (b"\xff\xfe--b\n", "not valid UTF-8"),
        (multipart(part("GET Things HTTP/1.1"))[: -len(b"--b--\n")], "closing delimiter '--b--'"),
        (
            b"--b\nContent-Type: application/http\n--b--\n",
            "Batch part 1: the headers are not followed by a blank",
        ),
        (b"--b\nnot a header\n\nGET Things HTTP/1.1\n--b--\n", "'not a header' is not a 'Name: value'"),
        (b"--b\nContent-Type: text/plain\n\nGET Things HTTP/1.1\n--b--\n", "must be application/http"),
        (b"--b\n\nGET Things HTTP/1.1\n--b--\n", "must be application/http, not ''"),
        (
            b"--b\nContent-Type: application/http\nContent-Transfer-Encoding: base64\n\nR0VU\n--b--\n",
            "Content-Transfer-Encoding must be binary",
        ),
        (multipart(part("GET Things")), "Batch part 1: 'GET Things' is not a 'METHOD url HTTP/1.1'"),
        (multipart(part("GET Things HTTP/1.1 extra")), "is not a 'METHOD url HTTP/1.1'"),
        (multipart(part("")), "is not a 'METHOD url HTTP/1.1'"),
        (multipart(part("FETCH Things HTTP/1.1")), "method 'FETCH' is not one of"),
        (
            multipart(part("GET Things HTTP/1.1"), part("POST Things HTTP/1.1\n\n{oops")),
            "Batch part 2: the body",
        ),
        (
            multipart(changeset_of(part("GET Things HTTP/1.1", boundary="cs"))),
            "Batch part 1, change set part 1: GET is not allowed inside a change set",
        ),
        (
            multipart(changeset_of("--cs\nContent-Type: multipart/mixed; boundary=x\n\n--x--\n")),
            "change sets cannot be nested",
        ),
        (
            multipart("--b\nContent-Type: multipart/mixed\n\n--cs--\n"),
            "Batch part 1: Content-Type 'multipart/mixed' has no boundary",
        ),
        (
            multipart(
                "--b\nContent-Type: multipart/mixed; boundary=cs\n\n" + part("POST T HTTP/1.1", boundary="cs")
            ),
            "Batch part 1 does not end with the closing delimiter '--cs--'",
        ),
    ],
)
def test_multipart_body_errors(body: bytes, fragment: str) -> None:
    assert fragment in bad_multipart(body)


# --- multipart batch: formatting --------------------------------------------------------------


def parse_response(body: bytes, boundary: str) -> Message:
    head = f"Content-Type: multipart/mixed; boundary={boundary}\r\n\r\n".encode()
    return email.message_from_bytes(head + body, policy=email.policy.compat32)


def parts_of(message: Message) -> list[Message]:
    parts = message.get_payload()
    assert isinstance(parts, list)
    assert all(isinstance(p, Message) for p in parts)
    return [p for p in parts if isinstance(p, Message)]


def http_of(message: Message) -> tuple[str, dict[str, str], str]:
    payload = message.get_payload()
    assert isinstance(payload, str)
    head, _, body = payload.partition("\r\n\r\n")
    status, *header_lines = head.split("\r\n")
    headers = dict(line.split(": ", 1) for line in header_lines)
    return status, headers, body


def test_format_multipart_batch_is_valid_mime() -> None:
    responses = [
        SubResponse("part-1", 200, {}, {"value": []}),
        SubResponse("1", 201, {"location": "http://h/v1.1/Things(5)"}, {"@iot.id": 5}, "changeset-1"),
        SubResponse("2", 204, {}, None, "changeset-1"),
        SubResponse("part-4", 404, {}, {"code": "not_found"}),
    ]
    boundary = new_boundary()
    body = format_multipart_batch(responses, boundary)
    assert body.endswith(f"--{boundary}--\r\n".encode())
    assert b"\n" not in body.replace(b"\r\n", b"")

    message = parse_response(body, boundary)
    assert message.is_multipart()
    get_part, changeset, missing = parts_of(message)
    assert get_part.get_content_type() == "application/http"
    assert get_part["Content-Transfer-Encoding"] == "binary"
    assert get_part["Content-ID"] is None
    assert http_of(get_part) == (
        "HTTP/1.1 200 OK",
        {"Content-Type": "application/json; charset=utf-8"},
        '{"value":[]}',
    )

    assert changeset.get_content_type() == "multipart/mixed"
    assert str(changeset.get_boundary()).startswith("changesetresponse_")
    created, patched = parts_of(changeset)
    assert created["Content-ID"] == "1"
    status, headers, payload = http_of(created)
    assert status == "HTTP/1.1 201 Created"
    assert headers["Location"] == "http://h/v1.1/Things(5)"
    assert orjson.loads(payload) == {"@iot.id": 5}
    assert patched["Content-ID"] == "2"
    assert http_of(patched) == ("HTTP/1.1 204 No Content", {}, "")

    assert http_of(missing)[0] == "HTTP/1.1 404 Not Found"


def test_format_multipart_groups_only_consecutive_responses() -> None:
    responses = [
        SubResponse("1", 201, atomicity_group="g"),
        SubResponse("2", 200),
        SubResponse("3", 201, atomicity_group="g"),
    ]
    body = format_multipart_batch(responses, "r")
    parts = parts_of(parse_response(body, "r"))
    assert [p.get_content_type() for p in parts] == ["multipart/mixed", "application/http", "multipart/mixed"]


@pytest.mark.parametrize(
    ("status", "line"),
    [
        (200, "200 OK"),
        (201, "201 Created"),
        (400, "400 Bad Request"),
        (412, "412 Precondition Failed"),
        (599, "599 Unknown"),
    ],
)
def test_reason_phrases(status: int, line: str) -> None:
    body = format_multipart_batch([SubResponse("a", status)], "r")
    assert f"HTTP/1.1 {line}\r\n".encode() in body


def test_explicit_response_content_type_is_kept() -> None:
    body = format_multipart_batch([SubResponse("a", 200, {"Content-Type": "text/plain"}, "hi")], "r")
    assert b"Content-Type: text/plain\r\n" in body
    assert b"charset=utf-8" not in body


def test_new_boundary_is_fresh() -> None:
    first, second = new_boundary(), new_boundary()
    assert first.startswith("batchresponse_")
    assert first != second


def test_multipart_request_round_trip() -> None:
    """A request body built from SubRequests parses back to the same SubRequests."""
    originals = [
        SubRequest("part-1", "GET", "Things?$top=2", {"accept": "application/json"}, None, None, ()),
        SubRequest(
            "1", "POST", "Things", {"content-type": "application/json"}, {"name": "ü"}, "changeset-2", ()
        ),
        SubRequest("2", "POST", "$1/Datastreams", {}, {"name": "d"}, "changeset-2", ()),
        SubRequest("x", "DELETE", "Things(3)", {}, None, None, ()),
    ]

    def encode(r: SubRequest, boundary: str) -> str:
        http = f"{r.method} {r.url} HTTP/1.1\n" + "".join(f"{k}: {v}\n" for k, v in r.headers.items())
        if r.body is not None:
            http += "\n" + orjson.dumps(r.body).decode()
        return part(http, None if r.id.startswith("part-") else r.id, boundary)

    text = encode(originals[0], "b") + changeset_of(*(encode(r, "cs") for r in originals[1:3]))
    text += encode(originals[3], "b")
    assert parse_multipart_batch(crlf(text + "--b--\n"), "multipart/mixed; boundary=b") == originals
