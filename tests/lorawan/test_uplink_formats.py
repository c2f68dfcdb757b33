"""Uplinks of The Things Stack v3 and ChirpStack v4 read into one Uplink: fields, dedup keys,
messages that are not uplinks, and malformed input that must end as BadRequest, never otherwise."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quartier.errors import BadRequest
from quartier.lorawan.uplink import Uplink, parse_chirpstack, parse_tts

SAMPLES = Path(__file__).parent / "samples"
DELETE = object()


def sample(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SAMPLES / name).read_text())
    return loaded


def changed(body: Any, path: tuple[Any, ...], value: Any) -> Any:
    """A deep copy of body with the value at path replaced (or removed, for DELETE)."""
    body = copy.deepcopy(body)
    parent = body
    for step in path[:-1]:
        parent = parent[step]
    if value is DELETE:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return body


def tts(body: Any) -> Uplink:
    uplink = parse_tts(body)
    assert uplink is not None
    return uplink


def chirpstack(body: Any) -> Uplink:
    uplink = parse_chirpstack(body, "up")
    assert uplink is not None
    return uplink


# --- The Things Stack ------------------------------------------------------------------------


def test_tts_uplink_with_gps_fix_and_several_gateways() -> None:
    uplink = tts(sample("tts_uplink_gps.json"))
    assert uplink.network == "tts"
    assert uplink.dev_eui == "70B3D57ED0051F2A"
    # The Network Server's time (uplink_message.received_at), nanoseconds cut to microseconds.
    assert uplink.received_at == datetime(2024, 5, 1, 12, 3, 7, 987654, tzinfo=UTC)
    assert uplink.f_port == 2
    assert uplink.f_cnt == 4711
    assert uplink.payload == bytes.fromhex("0103197a4c0081f1c20052")
    assert uplink.decoded == {"latitude": 52.520008, "longitude": 13.404954, "altitude": 41, "battery": 3.61}
    assert uplink.position == (13.404954, 52.520008, 41.0)
    assert uplink.dedup_key == "tts:70B3D57ED0051F2A:key:AY8s0bH3Zk2qfE1v4u9yTg==:4711"
    # rathaus-turm and bibliothek both hear -89 dBm; bibliothek has the better SNR. The two
    # antennas of stadtwerke-dach are one gateway.
    assert uplink.radio == {
        "fCnt": 4711,
        "fPort": 2,
        "devAddr": "260B1234",
        "rssi": -89,
        "snr": 9.5,
        "gatewayId": "bibliothek",
        "gatewayCount": 3,
        "frequency": 867500000,
        "spreadingFactor": 9,
        "bandwidth": 125000,
        "airtime": 0.205824,
        "network": "tts",
        "deviceId": "tracker-7",
        "applicationId": "quartier-fleet",
    }
    json.dumps(uplink.radio, allow_nan=False)


def test_tts_first_uplink_without_decoder_or_counter() -> None:
    body = sample("tts_uplink_first.json")
    del body["uplink_message"]["rx_metadata"][0]["rssi"]  # only channel_rssi, as older stacks sent
    uplink = tts(body)
    assert uplink.dev_eui == "0004A30B001C0530"
    assert uplink.f_cnt == 0  # left out because it is zero
    assert uplink.f_port == 1
    assert uplink.payload == bytes([0x82, 0x41, 0xDE])
    assert uplink.decoded is None
    assert uplink.position is None  # "user" is the registry's location, not a fix of the device
    # No uplink_message.received_at: the Application Server's time stands in.
    assert uplink.received_at == datetime(2024, 5, 1, 12, 10, 0, 500000, tzinfo=UTC)
    assert uplink.dedup_key == "tts:0004A30B001C0530:key:AXA50tHUGUucuzS/bCGMNw==:0"
    assert uplink.radio == {
        "fCnt": 0,
        "fPort": 1,
        "devAddr": "00BCB929",
        "rssi": -112,
        "snr": -6.75,
        "gatewayId": "klaeranlage",
        "gatewayCount": 1,
        "frequency": 868100000,
        "spreadingFactor": 12,
        "bandwidth": 125000,
        "airtime": 1.155072,
        "network": "tts",
        "deviceId": "pegel-ilm-03",
        "applicationId": "wasserstand",
    }


def test_tts_bare_uplink_keeps_only_what_is_there() -> None:
    body = {
        "end_device_ids": {"device_id": "d", "dev_eui": "0004a30b001c0530"},
        "received_at": "2024-05-01T14:03:07.987654321+02:00",
        "uplink_message": {"f_cnt": 3},
    }
    uplink = tts(body)
    assert uplink.dev_eui == "0004A30B001C0530"
    assert uplink.received_at == datetime(2024, 5, 1, 12, 3, 7, 987654, tzinfo=UTC)
    assert (uplink.f_port, uplink.payload, uplink.decoded, uplink.position) == (None, b"", None, None)
    assert uplink.radio == {"fCnt": 3, "network": "tts", "deviceId": "d"}
    # Neither session key nor DevAddr: the received time names the uplink.
    assert uplink.dedup_key == "tts:0004A30B001C0530:at:2024-05-01T12:03:07.987654Z"


def test_tts_position_from_another_gps_service_but_not_from_user() -> None:
    body = changed(sample("tts_uplink_first.json"), ("uplink_message", "locations", "gnss-solver"),
                   {"latitude": -33.9, "longitude": 18.4, "source": "SOURCE_GPS"})
    assert tts(body).position == (18.4, -33.9, None)
    # Latitude 0 is left out like every zero; the fix is on the equator.
    body = changed(sample("tts_uplink_gps.json"), ("uplink_message", "locations", "frm-payload"),
                   {"longitude": 32.58, "source": "SOURCE_GPS"})
    assert tts(body).position == (32.58, 0.0, None)


def test_tts_simulated_uplink_is_an_uplink_keyed_by_time() -> None:
    body = changed(sample("tts_uplink_first.json"), ("simulated",), True)
    first = tts(body)
    assert first.f_port == 1
    assert first.dedup_key == "tts:0004A30B001C0530:at:2024-05-01T12:10:00.500Z"
    again = tts(changed(body, ("received_at",), "2024-05-01T12:11:00Z"))
    assert again.dedup_key != first.dedup_key


@pytest.mark.parametrize("kind", [
    "join_accept", "downlink_ack", "downlink_nack", "downlink_sent", "downlink_failed",
    "downlink_queued", "downlink_queue_invalidated", "location_solved", "service_data",
    "uplink_normalized",
])
def test_tts_messages_that_are_not_uplinks(kind: str) -> None:
    body = {
        "end_device_ids": {"device_id": "dev1", "application_ids": {"application_id": "app1"},
                           "dev_eui": "0004A30B001C0530"},
        "correlation_ids": ["as:downlink:01E19B99501X84X6CV471TVSZ1"],
        "received_at": "2020-02-17T10:32:24.590413417Z",
        kind: {"session_key_id": "AXBSp8v2brG0jqkri+sIkw==", "f_port": 15, "f_cnt": 1,
               "frm_payload": "vu8=", "confirmed": True, "priority": "NORMAL"},
    }
    assert parse_tts(body) is None


# --- ChirpStack ----------------------------------------------------------------------------------


def test_chirpstack_uplink_with_several_gateways() -> None:
    uplink = chirpstack(sample("chirpstack_up.json"))
    assert uplink.network == "chirpstack"
    assert uplink.dev_eui == "A81758FFFE04C1E2"
    assert uplink.received_at == datetime(2024, 5, 1, 12, 3, 7, 775023, tzinfo=UTC)
    assert uplink.f_port == 10
    assert uplink.f_cnt == 1033
    assert uplink.payload == bytes.fromhex("01000a1f")
    assert uplink.decoded == {"occupied": True, "temperature": 14.5}
    assert uplink.position is None  # a gateway's location is not the device's
    assert uplink.dedup_key == "chirpstack:A81758FFFE04C1E2:5b6e3c1a-8f2d-4e7b-9a10-2c4d6e8f0a1b"
    assert uplink.radio == {
        "fCnt": 1033,
        "fPort": 10,
        "devAddr": "01A2B3C4",
        "rssi": -71,
        "snr": 9.0,
        "gatewayId": "0016c001f153a14c",
        "gatewayCount": 2,
        "frequency": 867100000,
        "spreadingFactor": 7,
        "bandwidth": 125000,
        "dataRate": 5,
        "network": "chirpstack",
        "deviceId": "parkplatz-markt-12",
        "applicationId": "17c82e96-be03-4f38-aef3-f83d48582d97",
    }
    json.dumps(uplink.radio, allow_nan=False)


def test_chirpstack_first_uplink_without_codec() -> None:
    uplink = chirpstack(sample("chirpstack_up_first.json"))
    assert uplink.dev_eui == "0101010101010101"
    assert uplink.received_at == datetime(2024, 5, 1, 12, 20, tzinfo=UTC)
    assert (uplink.f_port, uplink.f_cnt, uplink.payload, uplink.decoded) == (1, 0, b"\xaa", None)
    assert uplink.radio == {
        "fCnt": 0,
        "fPort": 1,
        "devAddr": "00189440",
        "rssi": -36,
        "snr": 10.5,
        "gatewayId": "0016c001f153a14c",
        "gatewayCount": 1,
        "frequency": 867100000,
        "spreadingFactor": 11,
        "bandwidth": 125000,
        "dataRate": 1,
        "network": "chirpstack",
        "deviceId": "luft-bahnhof",
        "applicationId": "0a9b8c7d-6e5f-4a3b-2c1d-0e9f8a7b6c5d",
    }


def test_chirpstack_time_falls_back_to_the_earliest_network_server_time() -> None:
    body = changed(sample("chirpstack_up.json"), ("time",), DELETE)
    assert chirpstack(body).received_at == datetime(2024, 5, 1, 12, 3, 7, 598112, tzinfo=UTC)
    for rx in body["rxInfo"]:
        rx.pop("nsTime")
    assert chirpstack(body).received_at == datetime(2024, 5, 1, 12, 3, 7, 501000, tzinfo=UTC)


def test_chirpstack_gateway_tie_goes_to_the_better_snr() -> None:
    body = changed(sample("chirpstack_up.json"), ("rxInfo", 1, "rssi"), -71)
    body = changed(body, ("rxInfo", 1, "snr"), 11.25)
    radio = chirpstack(body).radio
    assert (radio["gatewayId"], radio["rssi"], radio["snr"]) == ("00800000a0001234", -71, 11.25)


@pytest.mark.parametrize("event", ["join", "status", "ack", "txack", "log", "location", "integration"])
def test_chirpstack_events_that_are_not_uplinks(event: str) -> None:
    assert parse_chirpstack(sample("chirpstack_up.json"), event) is None
    assert parse_chirpstack({"deviceInfo": {"devEui": "0101010101010101"}, "level": "ERROR"}, event) is None


# --- dedup keys ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("read", "name", "path", "value"), [
    (tts, "tts_uplink_gps.json", ("received_at",), "2024-05-01T12:03:09Z"),
    (tts, "tts_uplink_first.json", ("correlation_ids",), ["as:up:01HZX4ZZZZZZZZZZZZZZZZZZZZ"]),
    (chirpstack, "chirpstack_up.json", ("deviceInfo", "tags"), {}),
    (chirpstack, "chirpstack_up_first.json", ("rxInfo", 0, "context"), "AAAAAA=="),
])
def test_the_same_uplink_twice_has_one_key(
    read: Callable[[Any], Uplink], name: str, path: tuple[Any, ...], value: Any
) -> None:
    # A redelivery, possibly by the other road (webhook and MQTT), with its envelope changed.
    body = sample(name)
    key = read(body).dedup_key
    assert read(copy.deepcopy(body)).dedup_key == key
    assert read(changed(body, path, value)).dedup_key == key


def test_tts_keys_differ_by_frame_counter_and_by_session() -> None:
    body = sample("tts_uplink_gps.json")
    key = tts(body).dedup_key
    assert tts(changed(body, ("uplink_message", "f_cnt"), 4712)).dedup_key != key
    # After a rejoin the counter starts again; the session key tells the two uplinks apart.
    rejoined = changed(body, ("uplink_message", "session_key_id"), "AZ0m3v6c1bq8jKx2T5n7Rw==")
    assert tts(rejoined).dedup_key != key
    # Without a session key the DevAddr stands for the session.
    by_addr = changed(body, ("uplink_message", "session_key_id"), DELETE)
    assert tts(by_addr).dedup_key == "tts:70B3D57ED0051F2A:addr:260B1234:4711"
    readdressed = changed(by_addr, ("end_device_ids", "dev_addr"), "260B9999")
    assert tts(readdressed).dedup_key != tts(by_addr).dedup_key


def test_chirpstack_keys() -> None:
    body = sample("chirpstack_up.json")
    assert chirpstack(changed(body, ("deduplicationId",), "another")).dedup_key != chirpstack(body).dedup_key
    plain = changed(body, ("deduplicationId",), DELETE)
    assert chirpstack(plain).dedup_key == "chirpstack:A81758FFFE04C1E2:addr:01A2B3C4:1033"
    assert chirpstack(changed(plain, ("fCnt",), 1034)).dedup_key != chirpstack(plain).dedup_key
    assert chirpstack(changed(plain, ("devAddr",), "01A2B3C5")).dedup_key != chirpstack(plain).dedup_key
    timed = changed(plain, ("devAddr",), DELETE)
    assert chirpstack(timed).dedup_key == "chirpstack:A81758FFFE04C1E2:at:2024-05-01T12:03:07.775023Z"


# --- malformed input -----------------------------------------------------------------------------

UP = "uplink_message"
TTS_BAD = [
    ((UP, "f_cnt"), "x", "uplink_message.f_cnt must be a whole number, not 'x'"),
    ((UP, "f_cnt"), -1, "uplink_message.f_cnt must be between 0 and 4294967295, not -1"),
    ((UP, "f_cnt"), 2**32, "uplink_message.f_cnt must be between"),
    ((UP, "f_cnt"), 1.5, "uplink_message.f_cnt must be a whole number"),
    ((UP, "f_cnt"), True, "uplink_message.f_cnt must be a whole number"),
    ((UP, "f_port"), 256, "uplink_message.f_port must be between 0 and 255"),
    ((UP, "frm_payload"), "not base64!", "uplink_message.frm_payload is not valid base64"),
    ((UP, "frm_payload"), "gkHeg", "uplink_message.frm_payload is not valid base64"),
    ((UP, "frm_payload"), [1, 2], "uplink_message.frm_payload must be a base64 string"),
    ((UP, "frm_payload"), "A" * 400, "uplink_message.frm_payload holds 300 bytes"),
    ((UP, "decoded_payload"), [1, 2], "uplink_message.decoded_payload must be a JSON object"),
    ((UP, "received_at"), "2024-05-01T12:03:07.987", "uplink_message.received_at needs a UTC offset"),
    ((UP, "received_at"), "yesterday", "uplink_message.received_at is not a valid ISO 8601 time"),
    ((UP, "received_at"), 1714565000, "uplink_message.received_at must be an ISO 8601 time string"),
    (("received_at",), "2024-05-01", "received_at needs a UTC offset"),
    ((UP, "rx_metadata"), {"rssi": -80}, "uplink_message.rx_metadata must be an array"),
    ((UP, "rx_metadata", 1), "gw", "uplink_message.rx_metadata[1] must be a JSON object"),
    ((UP, "rx_metadata", 0, "rssi"), "-97", "uplink_message.rx_metadata[0].rssi must be a number"),
    ((UP, "rx_metadata", 2, "rssi"), -1000, "uplink_message.rx_metadata[2].rssi must be between -250 and 50"),
    ((UP, "rx_metadata", 0, "snr"), float("nan"), "uplink_message.rx_metadata[0].snr must be a number"),
    ((UP, "rx_metadata", 3, "gateway_ids"), "bibliothek", "rx_metadata[3].gateway_ids must be"),
    ((UP, "rx_metadata", 3, "gateway_ids", "gateway_id"), 7, "rx_metadata[3].gateway_ids.gateway_id must be"),
    ((UP, "settings", "frequency"), "868.1 MHz", "uplink_message.settings.frequency must be a whole number"),
    ((UP, "settings", "frequency"), 0.5, "uplink_message.settings.frequency must be a whole number"),
    ((UP, "settings", "data_rate", "lora", "spreading_factor"), 13,
     "uplink_message.settings.data_rate.lora.spreading_factor must be between 5 and 12"),
    ((UP, "settings", "data_rate", "lora", "bandwidth"), "wide",
     "uplink_message.settings.data_rate.lora.bandwidth must be a whole number"),
    ((UP, "settings", "data_rate"), [], "uplink_message.settings.data_rate must be a JSON object"),
    ((UP, "consumed_airtime"), 0.2, "uplink_message.consumed_airtime must be a duration"),
    ((UP, "consumed_airtime"), "-1s", "uplink_message.consumed_airtime must be a duration"),
    ((UP, "consumed_airtime"), "3600s", "uplink_message.consumed_airtime must be a duration"),
    ((UP, "session_key_id"), 42, "uplink_message.session_key_id must be an identifier"),
    ((UP, "locations"), "here", "uplink_message.locations must be a JSON object"),
    ((UP, "locations", "frm-payload", "latitude"), 91,
     'uplink_message.locations["frm-payload"].latitude must be between -90 and 90'),
    ((UP, "locations", "frm-payload", "altitude"), "41 m",
     'uplink_message.locations["frm-payload"].altitude must be a number'),
    ((UP, "locations", "frm-payload"), [52.5, 13.4], 'locations["frm-payload"] must be a JSON'),
    ((UP,), "hello", "uplink_message must be a JSON object, not a string"),
    ((UP,), None, "uplink_message is missing"),
    (("end_device_ids",), DELETE, "end_device_ids is missing"),
    (("end_device_ids",), ["dev1"], "end_device_ids must be a JSON object, not an array"),
    (("end_device_ids", "dev_eui"), DELETE, "end_device_ids.dev_eui is missing"),
    (("end_device_ids", "dev_eui"), "70B3D57ED0051F", "dev_eui must be 16 hexadecimal digits"),
    (("end_device_ids", "dev_eui"), "70B3D57ED0051F2G", "dev_eui must be 16 hexadecimal digits"),
    (("end_device_ids", "dev_eui"), "70-B3-D5-7E-D0-05", "dev_eui must be 16 hexadecimal digits"),
    (("end_device_ids", "dev_eui"), 1234, "dev_eui must be 16 hexadecimal digits"),
    (("end_device_ids", "dev_addr"), "260B12", "end_device_ids.dev_addr must be 8 hexadecimal digits"),
    (("end_device_ids", "device_id"), 5, "end_device_ids.device_id must be a text"),
    (("end_device_ids", "application_ids"), "app", "end_device_ids.application_ids must be a JSON object"),
    (("simulated",), "yes", "simulated must be true or false, not 'yes'"),
]

CS_BAD = [
    (("fCnt",), "x", "fCnt must be a whole number, not 'x'"),
    (("fCnt",), -5, "fCnt must be between 0 and 4294967295, not -5"),
    (("fPort",), 300, "fPort must be between 0 and 255"),
    (("dr",), 99, "dr must be between 0 and 15"),
    (("data",), "%%%", "data is not valid base64"),
    (("data",), 170, "data must be a base64 string"),
    (("object",), "occupied", "object must be a JSON object"),
    (("time",), "2024-05-01T12:03:07.775023242", "time needs a UTC offset"),
    (("time",), "1 May 2024", "time is not a valid ISO 8601 time"),
    (("deduplicationId",), "x" * 200, "deduplicationId must be an identifier"),
    (("deduplicationId",), 17, "deduplicationId must be an identifier"),
    (("devAddr",), "01-a2-b3-c4", "devAddr must be 8 hexadecimal digits"),
    (("deviceInfo",), DELETE, "deviceInfo is missing"),
    (("deviceInfo",), "sensor", "deviceInfo must be a JSON object"),
    (("deviceInfo", "devEui"), DELETE, "deviceInfo.devEui is missing"),
    (("deviceInfo", "devEui"), "0101", "deviceInfo.devEui must be 16 hexadecimal digits"),
    (("deviceInfo", "devEui"), "AgICAgICAgI=", "deviceInfo.devEui must be 16 hexadecimal digits"),
    (("deviceInfo", "deviceName"), ["a"], "deviceInfo.deviceName must be a text"),
    (("deviceInfo", "applicationId"), "a" * 300, "deviceInfo.applicationId must be a text"),
    (("rxInfo",), "gw", "rxInfo must be an array, not a string"),
    (("rxInfo", 0), 5, "rxInfo[0] must be a JSON object, not a number"),
    (("rxInfo", 0, "snr"), "good", "rxInfo[0].snr must be a number, not 'good'"),
    (("rxInfo", 1, "rssi"), True, "rxInfo[1].rssi must be a number"),
    (("rxInfo", 1, "nsTime"), 5, "rxInfo[1].nsTime must be an ISO 8601 time string"),
    (("rxInfo", 0, "gwTime"), "2024-05-01T12:03:07", "rxInfo[0].gwTime needs a UTC offset"),
    (("txInfo",), 867100000, "txInfo must be a JSON object"),
    (("txInfo", "frequency"), -868, "txInfo.frequency must be between"),
    (("txInfo", "modulation"), "LORA", "txInfo.modulation must be a JSON object"),
    (("txInfo", "modulation", "lora", "spreadingFactor"), 0,
     "txInfo.modulation.lora.spreadingFactor must be between 5 and 12"),
    (("txInfo", "modulation", "lora", "bandwidth"), 125.5, "lora.bandwidth must be a whole"),
]


@pytest.mark.parametrize(("path", "value", "message"), TTS_BAD)
def test_malformed_tts_uplink(path: tuple[Any, ...], value: Any, message: str) -> None:
    with pytest.raises(BadRequest) as caught:
        parse_tts(changed(sample("tts_uplink_gps.json"), path, value))
    assert message in caught.value.message


@pytest.mark.parametrize(("path", "value", "message"), CS_BAD)
def test_malformed_chirpstack_uplink(path: tuple[Any, ...], value: Any, message: str) -> None:
    with pytest.raises(BadRequest) as caught:
        parse_chirpstack(changed(sample("chirpstack_up.json"), path, value), "up")
    assert message in caught.value.message


@pytest.mark.parametrize(("parse", "body", "message"), [
    (parse_tts, [], "The Things Stack message must be a JSON object, not an array"),
    (parse_tts, None, "The Things Stack message must be a JSON object, not null"),
    (parse_tts, "{}", "The Things Stack message must be a JSON object, not a string"),
    (parse_tts, {}, "neither uplink_message"),
    (parse_tts, sample("chirpstack_up.json"), "neither uplink_message"),
    (parse_tts, changed(sample("tts_uplink_first.json"), ("received_at",), DELETE),
     "uplink_message.received_at is missing"),
    (lambda b: parse_chirpstack(b, "up"), 42, "ChirpStack event must be a JSON object, not a number"),
    (lambda b: parse_chirpstack(b, "up"), sample("tts_uplink_gps.json"), "deviceInfo is missing"),
    (lambda b: parse_chirpstack(b, "up"),
     changed(changed(sample("chirpstack_up_first.json"), ("time",), DELETE), ("rxInfo",), []),
     "time is missing"),
])
def test_malformed_messages(parse: Callable[[Any], Any], body: Any, message: str) -> None:
    with pytest.raises(BadRequest) as caught:
        parse(body)
    assert message in caught.value.message


# --- anything at all: an Uplink, None or BadRequest ------------------------------------------------

KEYS = sorted({
    "end_device_ids", "dev_eui", "dev_addr", "device_id", "uplink_message", "received_at", "f_cnt",
    "f_port", "frm_payload", "decoded_payload", "rx_metadata", "rssi", "snr", "gateway_ids", "gateway_id",
    "settings", "frequency", "data_rate", "lora", "spreading_factor", "bandwidth", "locations",
    "frm-payload", "latitude", "longitude", "altitude", "source", "simulated", "session_key_id",
    "deduplicationId", "time", "deviceInfo", "devEui", "devAddr", "fCnt", "fPort", "data", "object",
    "rxInfo", "txInfo", "nsTime", "gwTime", "modulation", "spreadingFactor", "dr", "join_accept",
})
JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30)
    | st.sampled_from(["0101010101010101", "2024-05-01T12:00:00Z", "qg==", "SOURCE_GPS", "1s"]),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), inner, max_size=5),
    max_leaves=25,
)
FUZZ = settings(max_examples=300, deadline=None, database=None)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if prefix:
        yield prefix
    children: Any = ()
    if isinstance(value, dict):
        children = value.items()
    elif isinstance(value, list):
        children = enumerate(value)
    for key, child in children:
        yield from paths(child, (*prefix, key))


def outcome(parse: Callable[[], Uplink | None]) -> None:
    try:
        uplink = parse()
    except BadRequest as error:
        assert error.message
        return
    if uplink is not None:
        assert len(uplink.dev_eui) == 16 and uplink.received_at.tzinfo is not None
        json.dumps(uplink.radio, allow_nan=False)


@FUZZ
@given(JSONISH)
def test_arbitrary_json_is_an_uplink_none_or_bad_request(body: Any) -> None:
    outcome(lambda: parse_tts(body))
    outcome(lambda: parse_chirpstack(body, "up"))


@FUZZ
@given(st.data())
def test_a_damaged_sample_is_an_uplink_none_or_bad_request(data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(["tts_uplink_gps.json", "tts_uplink_first.json",
                                      "chirpstack_up.json", "chirpstack_up_first.json"]))
    body = sample(name)
    for _ in range(data.draw(st.integers(1, 3))):
        places = list(paths(body))
        if not places:
            break
        body = changed(body, data.draw(st.sampled_from(places)), data.draw(st.just(DELETE) | JSONISH))
    if name.startswith("tts"):
        outcome(lambda: parse_tts(body))
    else:
        outcome(lambda: parse_chirpstack(body, "up"))
