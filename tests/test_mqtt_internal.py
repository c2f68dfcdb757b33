"""Internal Things and Datastreams on MQTT, against real Mosquitto brokers: their changes
never reach the public topics; with ``mqtt_internal_prefix`` they go to internal topics
that the ACL of ``quartier mqtt acl`` keeps to the readers it names."""

from __future__ import annotations

import dataclasses
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import Api, TestClient, full_thing_body
from quartier.cli import main
from quartier.settings import Settings
from test_mqtt import (  # noqa: F401  (fixtures)
    MqttClient,
    make_settings,
    running,
    shared_broker,
    started_broker,
    wait_until,
)

SQL_BACKENDS = pytest.mark.parametrize("backend", ["sqlite", "postgresql"])


def _town(client: TestClient) -> dict[str, int]:
    """A public gauge and one made internal: their Thing and Datastream ids."""
    api = Api(client)
    out = {}
    for label in ("public", "internal"):
        thing = api.create("Things", full_thing_body(f"Pegel {label}"))
        out[label] = api.ok(f"Things({thing})/Datastreams")["value"][0]["@iot.id"]
        out[f"{label}-thing"] = thing
    answer = client.put(f"/api/visibility/Things/{out['internal-thing']}", json={"visibility": "internal"})
    assert answer.status_code == 200, answer.text
    return out


def _changes(client: TestClient, town: dict[str, int]) -> None:
    """New Observations on both, and a new name for both Things; the public ones last."""
    for label in ("internal", "public"):
        body = {"phenomenonTime": "2026-12-01T10:00:00Z", "result": 7 if label == "internal" else 5}
        assert client.post(f"/v1.1/Datastreams({town[label]})/Observations", json=body).status_code == 201
    for label in ("internal", "public"):
        patch = {"name": f"Pegel {label} neu"}
        assert client.patch(f"/v1.1/Things({town[f'{label}-thing']})", json=patch).status_code == 200


def _texts(listener: MqttClient) -> list[tuple[str, str]]:
    return [(topic, payload.decode()) for topic, payload in listener.messages()]


@SQL_BACKENDS
def test_internal_changes_are_not_published_without_an_internal_prefix(
        backend: str, make_settings: Callable[..., Settings], shared_broker: None) -> None:  # noqa: F811
    settings = make_settings(backend)
    prefix = settings.mqtt_prefix
    with running(settings) as client, MqttClient(filters=[f"{prefix}#"]) as anyone:
        town = _town(client)
        _changes(client, town)
        anyone.wait_count(f"{prefix}v1.1/Things({town['public-thing']})/name", 1)
        anyone.wait_count(f"{prefix}v1.1/Datastreams({town['public']})/Observations", 1)
        seen = _texts(anyone)
        assert not [m for m in seen if "Datastreams(" + str(town["internal"]) + ")/Observations" in m[0]]
        assert not [m for m in seen if "Pegel internal neu" in m[1]]
        assert not [m for m in seen if '"result":7' in m[1]], seen


def test_internal_changes_go_to_internal_topics_that_only_named_readers_read(
        tmp_path: Path, make_settings: Callable[..., Settings]) -> None:  # noqa: F811
    settings = make_settings("sqlite", mqtt_internal_prefix="internal/")
    prefix = settings.mqtt_prefix
    acl = CliRunner().invoke(main, ["mqtt", "acl", "--mqtt-prefix", prefix, "--mqtt-internal-prefix",
                                    "internal/", "--reader", "leitstelle", "--reader", "nord:nord"])
    assert acl.exit_code == 0, acl.output
    broker_dir = tmp_path / "acl-broker"
    broker_dir.mkdir()
    (broker_dir / "acl").write_text(acl.output)
    passwords = broker_dir / "passwd"
    for user in ("quartier", "leitstelle", "nord"):
        subprocess.run(["mosquitto_passwd", "-b", *(["-c"] if user == "quartier" else []),
                        str(passwords), user, f"{user}-secret"], check=True)
    extra = f"password_file {passwords}\nacl_file {broker_dir / 'acl'}\n"
    with started_broker(broker_dir, extra) as broker:
        settings = dataclasses.replace(
            settings, mqtt=f"mqtt://quartier:quartier-secret@127.0.0.1:{broker.port}")
        prefix = settings.mqtt_prefix
        everything = [f"{prefix}#"]
        with running(settings) as client, \
                MqttClient(broker.port, filters=everything) as anyone, \
                MqttClient(broker.port, filters=everything, username="leitstelle",
                           password="leitstelle-secret") as control_room, \
                MqttClient(broker.port, filters=everything, username="nord",
                           password="nord-secret") as other_town:
            town = _town(client)
            _changes(client, town)
            internal_topic = f"{prefix}internal/v1.1/Datastreams({town['internal']})/Observations"
            got = control_room.wait_count(internal_topic, 1)
            assert '"result":7' in got[0][1].decode()
            control_room.wait_count(f"{prefix}internal/v1.1/Things({town['internal-thing']})/name", 1)
            # The public changes came last: once they are in, the internal ones were sent.
            for listener in (anyone, other_town):
                listener.wait_count(f"{prefix}v1.1/Things({town['public-thing']})/name", 1)
            for listener in (anyone, other_town):
                seen = _texts(listener)
                assert not [m for m in seen if "/internal/" in m[0] or "Pegel internal neu" in m[1]], seen
                assert not [m for m in seen if '"result":7' in m[1]], seen
            assert any('"result":5' in text for _topic, text in _texts(anyone))
            assert not [m for m in _texts(control_room) if m[0].startswith(f"{prefix}v1.1/")
                        and '"result":7' in m[1]]


def test_acl_readers_need_an_internal_prefix() -> None:
    refused = CliRunner().invoke(main, ["mqtt", "acl", "--reader", "leitstelle"])
    assert refused.exit_code == 2 and "--mqtt-internal-prefix" in refused.output
    plain = CliRunner().invoke(main, ["mqtt", "acl"])
    assert plain.exit_code == 0 and "topic read v1.1/#" in plain.output
    assert "internal" not in plain.output.replace("# Written", "")


def test_device_users_publish_only_to_their_own_datastreams(
        tmp_path: Path, make_settings: Callable[..., Settings], shared_broker: None) -> None:  # noqa: F811
    """``quartier mqtt acl --closed --device NAME:THING``: the broker lets a device's user
    create Observations in its own Thing's Datastreams and nowhere else, and anonymous
    clients none at all (device credentials for MQTT ingest, enforced by the broker)."""
    settings = make_settings("sqlite")
    with running(settings) as client:
        api = Api(client)
        own_thing = api.create("Things", full_thing_body("Pegel Nord"))
        other_thing = api.create("Things", full_thing_body("Pegel Süd"))
        own = api.ok(f"Things({own_thing})/Datastreams")["value"][0]["@iot.id"]
        other = api.ok(f"Things({other_thing})/Datastreams")["value"][0]["@iot.id"]
    prefix = settings.mqtt_prefix
    acl = CliRunner().invoke(main, ["mqtt", "acl", "--mqtt-prefix", prefix, "--data-dir",
                                    str(settings.data_dir), "--closed",
                                    "--device", f"pegel-nord:{own_thing}"])
    assert acl.exit_code == 0, acl.output
    assert f"topic write {prefix}v1.1/Datastreams({own})/Observations" in acl.output
    assert f"Datastreams({other})" not in acl.output
    missing = CliRunner().invoke(main, ["mqtt", "acl", "--data-dir", str(settings.data_dir),
                                        "--device", "ghost:999999"])
    assert missing.exit_code != 0 and "no Thing 999999" in missing.output
    broker_dir = tmp_path / "device-broker"
    broker_dir.mkdir()
    (broker_dir / "acl").write_text(acl.output)
    passwords = broker_dir / "passwd"
    for n, user in enumerate(("quartier", "pegel-nord")):
        subprocess.run(["mosquitto_passwd", "-b", *(["-c"] if n == 0 else []), str(passwords),
                        user, f"{user}-secret"], check=True)
    extra = f"password_file {passwords}\nacl_file {broker_dir / 'acl'}\n"
    with started_broker(broker_dir, extra) as broker:
        settings = dataclasses.replace(
            settings, mqtt=f"mqtt://quartier:quartier-secret@127.0.0.1:{broker.port}")
        with running(settings) as client, \
                MqttClient(broker.port, filters=[]) as anyone, \
                MqttClient(broker.port, filters=[], username="pegel-nord",
                           password="pegel-nord-secret") as device:
            api = Api(client)
            root = f"{prefix}v1.1/"
            denied = [device.publish(f"{root}Datastreams({other})/Observations", {"result": 66}),
                      anyone.publish(f"{root}Datastreams({own})/Observations", {"result": 77})]
            device.publish(f"{root}Datastreams({own})/Observations", {"result": 1})
            wait_until(lambda: api.ok(f"Datastreams({own})/Observations")["value"] != [],
                       "the device's own Observation")
            stored = {o["result"] for ds in (own, other)
                      for o in api.ok(f"Datastreams({ds})/Observations")["value"]}
            assert stored == {1}, (stored, denied)
