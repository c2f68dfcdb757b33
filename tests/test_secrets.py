"""Secrets never appear in logs, error messages or answers: the app runs with every kind
of secret set, each of them provoked into an error, and every log record, answer and
exception is searched for them."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from conftest import TestClient, full_thing_body
from quartier.app import build_app
from quartier.errors import QuartierError
from quartier.settings import Settings
from quartier.store import open_store

SECRETS = {
    "database": "DbPw-7f3a9e", "mqtt": "MqttPw-91c2d4", "smtp": "SmtpPw-55e1b0",
    "webhook": "HookPw-c0de77", "lorawan": "LoraPw-ab12cd", "api_key": "ApiKey-9z8y7x",
}
UNREACHABLE = "127.0.0.1:9"  # the discard port: nothing listens there


class _Seen:
    """Everything the test saw, to search for secrets."""

    def __init__(self) -> None:
        self.texts: list[tuple[str, str]] = []

    def add(self, where: str, text: Any) -> None:
        self.texts.append((where, str(text)))

    def answer(self, where: str, response: Any) -> Any:
        self.add(where, response.text)
        self.add(where + " headers", dict(response.headers))
        return response

    def leaks(self) -> list[str]:
        return [f"{name} in {where}: {text[:300]}" for where, text in self.texts
                for name, secret in SECRETS.items() if secret in text]


def test_database_password_stays_out_of_errors(caplog: pytest.LogCaptureFixture,
                                                tmp_path: Path) -> None:
    caplog.set_level(logging.DEBUG)
    seen = _Seen()
    url = f"postgresql://quartier:{SECRETS['database']}@{UNREACHABLE}/quartier"
    settings = Settings.validated({"database": url, "data_dir": tmp_path})
    with pytest.raises(QuartierError) as refused, TestClient(build_app(settings)):
        pass
    seen.add("start-up error", refused.value)
    seen.add("store", open_store(settings).description)
    with pytest.raises(QuartierError) as bad:
        Settings.validated({"database": url.replace("postgresql", "mysql")})
    seen.add("settings error", bad.value)
    with pytest.raises(QuartierError) as bad_mqtt:
        Settings.validated({"mqtt": f"tcp://u:{SECRETS['mqtt']}@host"})
    seen.add("settings error", bad_mqtt.value)
    seen.add("log", caplog.text)
    assert not seen.leaks()


def test_secrets_stay_out_of_logs_and_answers(caplog: pytest.LogCaptureFixture,
                                               tmp_path: Path) -> None:
    caplog.set_level(logging.DEBUG)
    seen = _Seen()
    settings = Settings.validated({
        "data_dir": tmp_path, "mqtt": f"mqtt://quartier:{SECRETS['mqtt']}@{UNREACHABLE}",
        "smtp_host": "127.0.0.1", "smtp_port": 9, "smtp_user": "quartier",
        "smtp_password": SECRETS["smtp"], "notify_retry_seconds": 1, "max_body_bytes": 5000,
    })
    with TestClient(build_app(settings), raise_server_exceptions=False) as client:
        key = {"X-API-Key": SECRETS["api_key"]}
        bearer = {"Authorization": f"Bearer {SECRETS['api_key']}"}
        assert client.post("/v1.1/Things", json=full_thing_body()).status_code == 201
        hook = f"http://hook:{SECRETS['webhook']}@{UNREACHABLE}/alerts"
        seen.answer("channel", client.post("/api/channels", json={
            "name": "hook", "type": "webhook", "url": hook}))
        seen.answer("channel", client.post("/api/channels", json={
            "name": "mail", "type": "email", "to": "ops@example.de"}))
        created = client.post("/api/lorawan/integrations", json={
            "name": "net", "network": "tts",
            "mqtt": {"url": f"mqtt://app:{SECRETS['lorawan']}@{UNREACHABLE}"}})
        assert created.status_code == 201, created.text
        rule = client.post("/api/rules", json={
            "name": "hoch", "target": {"datastream": 1},
            "condition": {"type": "threshold", "above": 5},
            "levels": [{"name": "hoch", "severity": "severe"}]})
        assert rule.status_code == 201, rule.text
        now = datetime.now(UTC).isoformat()
        assert client.post("/v1.1/Observations", json={
            "Datastream": {"@iot.id": 1}, "phenomenonTime": now, "result": 10}).status_code == 201
        # Bad requests, each carrying the API key.
        for headers in (key, bearer):
            seen.answer("404", client.get("/v1.1/Nothing", headers=headers))
            seen.answer("400", client.get("/v1.1/Things", params={"$filter": "name eq"},
                                          headers=headers))
            seen.answer("413", client.post("/v1.1/Things", content=b"x" * 6000, headers=headers))
            seen.answer("401", client.post("/api/lorawan/net/uplink", json={}, headers=headers))
            seen.answer("415", client.post("/v1.1/Things", content=b"{}",
                                           headers={**headers, "Content-Type": "text/plain"}))
        # Let the deliveries fail and the brokers refuse a few times.
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            tried = [client.get(f"/api/channels/{name}/deliveries").json()["value"]
                     for name in ("hook", "mail")]
            if all(d and d[0].get("attempts") for d in tried):
                break
            time.sleep(0.5)
        time.sleep(1.5)
        for name in ("hook", "mail"):
            listing = seen.answer("deliveries", client.get(f"/api/channels/{name}/deliveries"))
            for delivery in listing.json()["value"]:
                seen.answer("delivery", client.get(
                    f"/api/channels/{name}/deliveries/{delivery['id']}"))
            seen.answer("channel", client.get(f"/api/channels/{name}"))
        seen.answer("channels", client.get("/api/channels"))
        seen.answer("integration", client.get("/api/lorawan/integrations/net"))
        seen.answer("integrations", client.get("/api/lorawan/integrations"))
        seen.answer("dashboard", client.get("/api/dashboard"))
    seen.add("log", caplog.text)
    assert "delivery" in caplog.text  # the errors did happen
    assert not seen.leaks(), "\n".join(seen.leaks())
