"""Sending a Task's request: an HTTP POST to the network server's API, or an MQTT message
on the platform's broker (``--mqtt``, with ``--mqtt-prefix`` in front)."""

from __future__ import annotations

import httpx2 as httpx
import orjson

from quartier.notify.outbox import DeliveryError
from quartier.settings import Settings
from quartier.tasking.routes import Route

TIMEOUT = 15.0


class CommandSender:
    """One HTTP client and, once needed, one broker connection for every Task."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._http = httpx.AsyncClient(timeout=httpx.Timeout(TIMEOUT), follow_redirects=False)
        self._mqtt: object | None = None

    async def send(self, route: Route) -> None:
        """Raises DeliveryError with the reason (never the API key) when it was not taken."""
        request = route.request
        body = orjson.dumps(request.body)
        if request.topic is not None:
            await self._publish(request.topic, body)
            return
        assert request.url is not None
        headers = {"Content-Type": "application/json", "User-Agent": "Quartier-Tasking/1",
                   **(request.headers or {})}
        try:
            response = await self._http.post(request.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise DeliveryError(f"{route.what}: {type(exc).__name__}") from None
        if not 200 <= response.status_code < 300:
            raise DeliveryError(f"{route.what} answered {response.status_code}: "
                                f"{response.text[:200]}")

    async def _publish(self, topic: str, body: bytes) -> None:
        if not self.settings.mqtt:
            raise DeliveryError("no MQTT broker is set (--mqtt)")
        from quartier.notify.mqtt_topic import MqttSender

        if self._mqtt is None:
            self._mqtt = MqttSender(self.settings)
        assert isinstance(self._mqtt, MqttSender)
        await self._mqtt.publish(self.settings.mqtt_prefix + topic, body)

    async def close(self) -> None:
        await self._http.aclose()
        if self._mqtt is not None:
            from quartier.notify.mqtt_topic import MqttSender

            assert isinstance(self._mqtt, MqttSender)
            await self._mqtt.close()
