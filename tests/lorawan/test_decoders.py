"""Built-in LoRaWAN payload decoders against their vendors' documented examples, the decoder
registry with its entry-point plug-ins, and random bytes into every built-in decoder."""

from __future__ import annotations

import importlib.metadata
import json
import logging
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quartier.errors import BadRequest
from quartier.lorawan.decoders import (
    ENTRY_POINT_GROUP,
    DecodeError,
    _registry,
    cayenne_lpp,
    decentlab_dl_mbx,
    decoder_names,
    dragino_ldds75,
    elsys,
    get_decoder,
)

BUILT_INS = ["cayenne-lpp", "decentlab-dl-mbx", "dragino-ldds75", "elsys"]
DECODE: dict[str, Callable[[bytes, int | None], dict[str, Any]]] = {
    "cayenne-lpp": cayenne_lpp.decode,
    "decentlab-dl-mbx": decentlab_dl_mbx.decode,
    "dragino-ldds75": dragino_ldds75.decode,
    "elsys": elsys.decode,
}


def hex_bytes(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


def assert_json_safe(value: Any) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            assert isinstance(key, str)
            assert_json_safe(item)
    elif isinstance(value, list):
        for item in value:
            assert_json_safe(item)
    elif isinstance(value, float):
        assert math.isfinite(value)
    else:
        assert value is None or isinstance(value, bool | int | str), repr(value)


# --- Cayenne LPP -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        # The Cayenne LPP documentation (myDevices), also The Things Stack's formatter page.
        ("03 67 01 10 05 67 00 FF", {"temperature_3": 27.2, "temperature_5": 25.5}),
        (
            "01 67 FF D7 06 71 04 D2 FB 2E 00 00",
            {
                "temperature_1": -4.1,
                "accelerationX_6": 1.234,
                "accelerationY_6": -1.234,
                "accelerationZ_6": 0.0,
            },
        ),
        (
            "01 88 06 76 5F F2 96 0A 00 03 E8",
            {
                "latitude_1": 42.3519,
                "longitude_1": -87.9094,
                "altitude_1": 10.0,
                "latitude": 42.3519,
                "longitude": -87.9094,
                "altitude": 10.0,
            },
        ),
    ],
)
def test_cayenne_lpp_documented_examples(payload: str, expected: dict[str, Any]) -> None:
    assert get_decoder("cayenne-lpp")(hex_bytes(payload), 1) == expected


def test_cayenne_lpp_every_type() -> None:
    payload = hex_bytes(
        "01 00 01"  # digital input 1
        "02 01 00"  # digital output 0
        "03 02 FF 38"  # analog input -2.00
        "04 03 01 2C"  # analog output 3.00
        "05 64 00 01 00 00"  # generic sensor 65536
        "06 65 01 F4"  # illuminance 500 lux
        "07 66 01"  # presence
        "08 68 61"  # humidity 48.5 %
        "09 73 27 97"  # barometer 1013.5 hPa
        "0A 74 01 4A"  # voltage 3.30 V
        "0B 75 04 D2"  # current 1.234 A
        "0C 76 00 00 C3 50"  # frequency 50000 Hz
        "0D 78 4B"  # percentage 75 %
        "0E 79 FF F6"  # altitude -10 m
        "0F 7D 01 A4"  # concentration 420 ppm
        "10 80 00 64"  # power 100 W
        "11 82 00 00 0B 05"  # distance 2821 mm
        "12 83 00 00 30 39"  # energy 12.345 kWh
        "13 84 01 0E"  # direction 270 degrees
        "14 85 65 53 F1 00"  # unix time 1700000000 s
        "15 86 00 64 FF 9C 00 00"  # gyrometer 1.00, -1.00, 0.00 deg/s
        "16 87 FF 80 00"  # colour
        "17 8E 01"  # switch on
    )
    assert cayenne_lpp.decode(payload, None) == {
        "digitalInput_1": 1,
        "digitalOutput_2": 0,
        "analogInput_3": -2.0,
        "analogOutput_4": 3.0,
        "genericSensor_5": 65536,
        "illuminance_6": 500,
        "presence_7": 1,
        "humidity_8": 48.5,
        "barometricPressure_9": 1013.5,
        "voltage_10": 3.3,
        "current_11": 1.234,
        "frequency_12": 50000,
        "percentage_13": 75,
        "altitude_14": -10,
        "concentration_15": 420,
        "power_16": 100,
        "distance_17": 2821,
        "energy_18": 12.345,
        "direction_19": 270,
        "unixTime_20": 1700000000,
        "angularVelocityX_21": 1.0,
        "angularVelocityY_21": -1.0,
        "angularVelocityZ_21": 0.0,
        "colorRed_22": 255,
        "colorGreen_22": 128,
        "colorBlue_22": 0,
        "switch_23": 1,
    }


def test_cayenne_lpp_plain_position_is_the_first_gps_record() -> None:
    first = "02 88 06 76 5F F2 96 0A 00 03 E8"
    second = "05 88 F9 89 A1 0D 69 F6 FF FF 9C"  # -42.3519, 87.9094, -1.00 m
    fields = cayenne_lpp.decode(hex_bytes(first + second), 1)
    assert (fields["latitude"], fields["longitude"], fields["altitude"]) == (42.3519, -87.9094, 10.0)
    assert (fields["latitude_5"], fields["longitude_5"], fields["altitude_5"]) == (-42.3519, 87.9094, -1.0)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ("03", "the data type of channel 3 needs 1 byte at byte 1"),
        ("03 67 01", "temperature of channel 3 needs 2 bytes at byte 2"),
        ("03 67 01 10 05 67 00", "temperature of channel 5 needs 2 bytes at byte 6"),
        ("01 88 06 76 5F F2 96 0A 00 03", "altitude of channel 1 needs 3 bytes at byte 8"),
        ("06 71 04 D2 FB 2E 00", "accelerationZ of channel 6 needs 2 bytes at byte 6"),
        ("03 67 01 10 05 42 00 FF", "unknown Cayenne LPP data type 66 (0x42) at byte 5"),
        ("01 F0 03 01 00 00 00 00 00 00 00", "unknown Cayenne LPP data type 240 (0xf0) at byte 1"),
        ("03 67 01 10 03 67 00 FF", "temperature_3 appears twice"),
    ],
)
def test_cayenne_lpp_truncated_and_garbage(payload: str, message: str) -> None:
    with pytest.raises(DecodeError, match=message.replace("(", r"\(").replace(")", r"\)")):
        cayenne_lpp.decode(hex_bytes(payload), 1)


# --- Elsys -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        # The Things Network device repository, vendor/elsys/ers-codec.yaml (ERS).
        (
            "01 00 E2 02 29 04 00 27 05 06",
            {"temperature": 22.6, "humidity": 41, "illuminance": 39, "motion": 6},
        ),
        # Elsys' payload example for the ERS CO2.
        (
            "01 00 E2 02 29 04 00 27 05 06 06 03 08 07 0D 62",
            {
                "temperature": 22.6,
                "humidity": 41,
                "illuminance": 39,
                "motion": 6,
                "co2": 776,
                "batteryVoltage": 3.426,
            },
        ),
        # The same with two external probes (ELT): type 0x19 repeats.
        (
            "01 00 E2 02 29 04 00 27 05 06 06 03 08 07 0D 62 19 00 E2 19 00 A3",
            {
                "temperature": 22.6,
                "humidity": 41,
                "illuminance": 39,
                "motion": 6,
                "co2": 776,
                "batteryVoltage": 3.426,
                "externalTemperature2": 22.6,
                "externalTemperature2_2": 16.3,
            },
        ),
    ],
)
def test_elsys_documented_examples(payload: str, expected: dict[str, Any]) -> None:
    assert get_decoder("elsys")(hex_bytes(payload), 5) == expected


def test_elsys_every_type() -> None:
    payload = hex_bytes(
        "01 FF 9C"  # temperature -10.0
        "03 3F C1 00"  # acceleration 63, -63, 0 (63 = 1 g)
        "08 05 DC"  # analog 1: 1500 mV
        "09 8D 0D 09 CE C1 02"  # GPS 59.3293, 18.0686 (little-endian)
        "0A 00 0A"  # pulse 1: 10
        "0B 00 01 00 00"  # pulse 1 absolute: 65536
        "0C 00 64"  # external temperature 10.0
        "0D 01"  # digital input 1
        "0E 0B 05"  # distance 2821 mm
        "0F 03"  # accelerometer motion 3
        "10 00 FA FF F6"  # IR internal 25.0, external -1.0
        "11 02"  # occupied
        "12 FF"  # water leak
        "14 00 0F 77 3C"  # pressure 1013.564 hPa
        "15 50 3C"  # sound peak 80, average 60
        "16 00 07"  # pulse 2: 7
        "17 00 00 00 2A"  # pulse 2 absolute: 42
        "18 0C E4"  # analog 2: 3300 mV
        "1A 00"  # digital input 2
        "1B FF FF FF 9C"  # -100 uV
        "1C 01 2C"  # 300 ppb TVOC
        "3D 01 02 03 04"  # debug, skipped
    )
    assert elsys.decode(payload, 5) == {
        "temperature": -10.0,
        "accelerationX": 1.0,
        "accelerationY": -1.0,
        "accelerationZ": 0.0,
        "analog1Voltage": 1.5,
        "latitude": 59.3293,
        "longitude": 18.0686,
        "pulse1": 10,
        "pulse1Absolute": 65536,
        "externalTemperature": 10.0,
        "digitalInput": 1,
        "distance": 2821,
        "accelerometerMotion": 3,
        "irInternalTemperature": 25.0,
        "irExternalTemperature": -1.0,
        "occupancy": 2,
        "waterLeak": 255,
        "pressure": 1013.564,
        "soundPeak": 80,
        "soundAverage": 60,
        "pulse2": 7,
        "pulse2Absolute": 42,
        "analog2Voltage": 3.3,
        "digitalInput2": 0,
        "analogInputMicrovolts": -100,
        "tvoc": 300,
    }


def test_elsys_southern_western_position_and_grid_eye() -> None:
    gps = "09 00 D5 FA 00 21 FF"  # -33.8688, -5.7088
    grid_eye = "13 14" + "00 05" * 32  # reference 20 degrees, pixels alternate +0.0 and +0.5
    fields = elsys.decode(hex_bytes(gps + grid_eye), 5)
    assert fields == {"latitude": -33.8688, "longitude": -5.7088, "gridEyeTemperatures": [20.0, 20.5] * 32}


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ("01", r"temperature \(record at byte 0\) needs 2 bytes at byte 1"),
        ("01 00 E2 02", r"humidity \(record at byte 3\) needs 1 byte at byte 4"),
        ("01 00 E2 09 8D 0D 09 CE C1", r"longitude \(record at byte 3\) needs 3 bytes at byte 7"),
        ("13 14 00 05", "Grid-EYE pixels needs 64 bytes at byte 2"),
        ("3D 01 02", "needs 4 bytes at byte 1"),
        ("01 00 E2 FF 00", "unknown Elsys data type 0xff at byte 3"),
        ("01 00 E2 02 29 01 00 E3", "temperature appears twice"),
    ],
)
def test_elsys_truncated_and_garbage(payload: str, message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        elsys.decode(hex_bytes(payload), 5)


# --- Dragino LDDS75 ----------------------------------------------------------------------------

# The LDDS75 user manual's field examples: battery 0x0B45 = 2885 mV and 0x0B49 = 2889 mV,
# distance 0x0B05 = 2821 mm, DS18B20 0x0105 = 26.1 °C and 0xFF3F = -19.3 °C, sensor flag 1
# (ultrasonic sensor detected) or 0, interrupt flag 0 (normal uplink) or 1.
LDDS75_READING = "0B 45 0B 05 00 01 05 01"


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (
            LDDS75_READING,
            {
                "batteryVoltage": 2.885,
                "distance": 2821,
                "interrupt": False,
                "temperature": 26.1,
                "sensorDetected": True,
            },
        ),
        (
            "8B 49 0B 05 01 FF 3F 01",  # the top two battery bits are not part of the voltage
            {
                "batteryVoltage": 2.889,
                "distance": 2821,
                "interrupt": True,
                "temperature": -19.3,
                "sensorDetected": True,
            },
        ),
        (
            "0B 49 00 00 00 FF 3F 00",
            {"batteryVoltage": 2.889, "interrupt": False, "temperature": -19.3, "sensorDetected": False},
        ),
    ],
)
def test_dragino_ldds75_documented_examples(payload: str, expected: dict[str, Any]) -> None:
    decode = get_decoder("dragino-ldds75")
    assert decode(hex_bytes(payload), 2) == expected
    assert decode(hex_bytes(payload), None) == expected


@pytest.mark.parametrize(
    ("payload", "f_port", "message"),
    [
        (LDDS75_READING + " 00", 2, "an LDDS75 reading is 8 bytes long, this payload has 9"),
        # A DDS75-LB uplink (The Things Network device repository): 11 bytes, another layout.
        ("0C F6 01 01 03 00 0C 01 DD 01 FF", 2, "this payload has 11"),
        (LDDS75_READING, 5, "on fPort 2, not on fPort 5"),
    ],
)
def test_dragino_ldds75_wrong_length_or_port(payload: str, f_port: int, message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        dragino_ldds75.decode(hex_bytes(payload), f_port)


# --- Decentlab DL-MBX --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        # Decentlab's decoder examples (decentlab-decoders, DL-MBX), also in The Things Network
        # device repository (vendor/decentlab/dl-mbx-codec.yaml).
        (
            "02 01 2F 00 03 04 D2 00 01 0B B1",
            {
                "protocolVersion": 2,
                "deviceId": 303,
                "distance": 1234,
                "numberOfValidSamples": 1,
                "batteryVoltage": 2.993,
            },
        ),
        ("02 01 2F 00 02 0B B1", {"protocolVersion": 2, "deviceId": 303, "batteryVoltage": 2.993}),
    ],
)
def test_decentlab_dl_mbx_documented_examples(payload: str, expected: dict[str, Any]) -> None:
    assert get_decoder("decentlab-dl-mbx")(hex_bytes(payload), 1) == expected


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ("01 01 2F 00 02 0B B1", "protocol version 1 at byte 0"),
        ("02 01 2F 00 06 0B B1 00 00", "sensor flags 0x0006 at byte 3 name sensors a DL-MBX does not have"),
        ("02 01 2F 00 02 0B B1 00", "sensor flags 0x0002 announce 7 bytes, but the payload has 8"),
        ("02 01 2F 00 01 04 D2 00 01 0B B1", "sensor flags 0x0001 announce 9 bytes, but the payload has 11"),
        ("02 01 2F 00", "sensor flags needs 2 bytes at byte 3"),
    ],
)
def test_decentlab_dl_mbx_garbage(payload: str, message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        decentlab_dl_mbx.decode(hex_bytes(payload), 1)


# --- every decoder -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", BUILT_INS)
def test_empty_payload_is_a_decode_error(name: str) -> None:
    with pytest.raises(DecodeError, match="empty payload"):
        DECODE[name](b"", 1)


@pytest.mark.parametrize(
    ("name", "payload"),
    [("dragino-ldds75", LDDS75_READING), ("decentlab-dl-mbx", "02 01 2F 00 03 04 D2 00 01 0B B1")],
)
def test_every_truncation_of_a_fixed_layout_is_a_decode_error(name: str, payload: str) -> None:
    whole = hex_bytes(payload)
    for length in range(len(whole)):
        with pytest.raises(DecodeError):
            DECODE[name](whole[:length], None)


def test_decode_error_is_a_value_error() -> None:
    assert issubclass(DecodeError, ValueError)


# --- registry and plug-ins ---------------------------------------------------------------------


class Installed:
    """The entry points the registry finds installed, and the calls made to list them."""

    def __init__(self) -> None:
        self.entry_points: list[importlib.metadata.EntryPoint] = []
        self.calls: list[dict[str, Any]] = []

    def add(self, name: str, value: str) -> None:
        self.entry_points.append(
            importlib.metadata.EntryPoint(name=name, value=value, group=ENTRY_POINT_GROUP)
        )

    def query(self, **params: Any) -> tuple[importlib.metadata.EntryPoint, ...]:
        self.calls.append(params)
        return tuple(self.entry_points)


@pytest.fixture
def installed(monkeypatch: pytest.MonkeyPatch) -> Iterator[Installed]:
    """No plug-ins installed unless the test adds some; the registry is rebuilt for the test
    and forgotten after it."""
    installed = Installed()
    monkeypatch.setattr(importlib.metadata, "entry_points", installed.query)
    monkeypatch.syspath_prepend(str(Path(__file__).parent))  # where decoder_plugin_sample lives
    _registry.loaded_decoders.cache_clear()
    yield installed
    _registry.loaded_decoders.cache_clear()


def test_built_in_decoders_are_registered(installed: Installed) -> None:
    assert decoder_names() == BUILT_INS
    for name in BUILT_INS:
        assert get_decoder(name) is DECODE[name]


def test_unknown_decoder_is_a_bad_request_naming_the_known_ones(
    installed: Installed,
) -> None:
    with pytest.raises(BadRequest) as raised:
        get_decoder("acme-nonsense")
    error = raised.value
    assert error.status == 400
    assert "'acme-nonsense'" in error.message
    for name in BUILT_INS:
        assert name in error.message
    assert error.details == {"decoder": "acme-nonsense", "known": BUILT_INS}


def test_plugin_from_an_entry_point(installed: Installed) -> None:
    installed.add("x", "decoder_plugin_sample:decode")
    assert decoder_names() == sorted([*BUILT_INS, "x"])
    assert get_decoder("x")(b"\x07\x08", 9) == {"byteCount": 2, "firstByte": 7, "fPort": 9}


def test_registry_is_loaded_once(installed: Installed) -> None:
    installed.add("x", "decoder_plugin_sample:decode")
    decoder_names()
    get_decoder("x")
    get_decoder("elsys")
    with pytest.raises(BadRequest):
        get_decoder("y")
    assert installed.calls == [{"group": "quartier.decoders"}]


def test_plugin_that_fails_to_import_is_skipped_with_a_warning(
    installed: Installed, caplog: pytest.LogCaptureFixture
) -> None:
    installed.add("broken", "quartier_no_such_module_anywhere:decode")
    installed.add("x", "decoder_plugin_sample:decode")
    with caplog.at_level(logging.WARNING, logger="quartier.lorawan.decoders"):
        assert decoder_names() == sorted([*BUILT_INS, "x"])
    warnings = [record for record in caplog.records if record.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "'broken'" in warnings[0].getMessage()
    assert "ModuleNotFoundError" in warnings[0].getMessage()
    with pytest.raises(BadRequest, match="unknown payload decoder 'broken'"):
        get_decoder("broken")


def test_plugin_that_is_not_callable_is_skipped_with_a_warning(
    installed: Installed, caplog: pytest.LogCaptureFixture
) -> None:
    installed.add("constant", "decoder_plugin_sample:NOT_A_DECODER")
    with caplog.at_level(logging.WARNING, logger="quartier.lorawan.decoders"):
        assert decoder_names() == BUILT_INS
    assert "not a callable" in caplog.text


def test_plugin_cannot_replace_a_built_in(installed: Installed, caplog: pytest.LogCaptureFixture) -> None:
    installed.add("elsys", "decoder_plugin_sample:decode")
    with caplog.at_level(logging.WARNING, logger="quartier.lorawan.decoders"):
        assert get_decoder("elsys") is elsys.decode
    assert "name is already taken" in caplog.text


def test_same_plugin_seen_twice_is_not_a_conflict(
    installed: Installed, caplog: pytest.LogCaptureFixture
) -> None:
    installed.add("x", "decoder_plugin_sample:decode")
    installed.add("x", "decoder_plugin_sample:decode")
    with caplog.at_level(logging.WARNING, logger="quartier.lorawan.decoders"):
        assert decoder_names() == sorted([*BUILT_INS, "x"])
    assert caplog.records == []


def test_unreadable_entry_point_metadata_leaves_the_built_ins(
    monkeypatch: pytest.MonkeyPatch, installed: Installed, caplog: pytest.LogCaptureFixture
) -> None:
    def failing_entry_points(**params: Any) -> tuple[importlib.metadata.EntryPoint, ...]:
        raise OSError("unreadable metadata")

    monkeypatch.setattr(importlib.metadata, "entry_points", failing_entry_points)
    with caplog.at_level(logging.WARNING, logger="quartier.lorawan.decoders"):
        assert decoder_names() == BUILT_INS
    assert "only the built-in payload decoders are available" in caplog.text


# --- random bytes ------------------------------------------------------------------------------

# Well-formed records reach the field decoding far more often than random bytes do; they
# are then used whole, cut short, or followed by junk.


def _cayenne_record(code: int) -> st.SearchStrategy[bytes]:
    size = sum(value.size for value in cayenne_lpp._TYPES[code])
    return st.tuples(st.integers(0, 255), st.binary(min_size=size, max_size=size)).map(
        lambda record: bytes([record[0], code]) + record[1]
    )


def _elsys_record(code: int) -> st.SearchStrategy[bytes]:
    size = {0x13: 65, 0x3D: 4}.get(code) or sum(value.size for value in elsys._TYPES[code])
    return st.binary(min_size=size, max_size=size).map(lambda value: bytes([code]) + value)


@st.composite
def _dl_mbx_uplink(draw: st.DrawFn) -> bytes:
    flags = draw(st.integers(0, 3))
    words = (2 if flags & 1 else 0) + (1 if flags & 2 else 0)
    device_id = draw(st.integers(0, 0xFFFF))
    return (
        bytes([2])
        + device_id.to_bytes(2, "big")
        + flags.to_bytes(2, "big")
        + draw(st.binary(min_size=2 * words, max_size=2 * words))
    )


def _mangled(payloads: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
    cut = payloads.flatmap(lambda payload: st.integers(0, len(payload)).map(lambda length: payload[:length]))
    padded = st.tuples(payloads, st.binary(min_size=1, max_size=6)).map(lambda parts: parts[0] + parts[1])
    return payloads | cut | padded


_CAYENNE = st.lists(st.sampled_from(sorted(cayenne_lpp._TYPES)).flatmap(_cayenne_record), max_size=6)
_ELSYS = st.lists(st.sampled_from([*sorted(elsys._TYPES), 0x13, 0x3D]).flatmap(_elsys_record), max_size=6)
_PAYLOADS = {
    "cayenne-lpp": st.binary(max_size=64) | _mangled(_CAYENNE.map(b"".join)),
    "decentlab-dl-mbx": st.binary(max_size=16) | _mangled(_dl_mbx_uplink()),
    "dragino-ldds75": st.binary(max_size=12) | st.binary(min_size=8, max_size=8),
    "elsys": st.binary(max_size=80) | _mangled(_ELSYS.map(b"".join)),
}


@st.composite
def decoder_inputs(draw: st.DrawFn) -> tuple[str, bytes, int | None]:
    name = draw(st.sampled_from(BUILT_INS))
    return name, draw(_PAYLOADS[name]), draw(st.none() | st.integers(0, 255) | st.just(2))


@settings(max_examples=1500, deadline=None, database=None, derandomize=True)
@given(decoder_inputs())
def test_random_bytes_give_fields_or_a_decode_error(case: tuple[str, bytes, int | None]) -> None:
    name, payload, f_port = case
    try:
        fields = DECODE[name](payload, f_port)
    except DecodeError as error:
        assert str(error)
        return
    assert isinstance(fields, dict)
    assert_json_safe(fields)
    json.dumps(fields, allow_nan=False)
