"""Webhook deliveries: an HTTP POST of the event as JSON, signed with the channel's secret.

Headers a receiver may rely on:

* ``X-Quartier-Signature: sha256=<hex>``: HMAC-SHA256 of the exact body with the secret;
* ``X-Quartier-Event: <id>``: the alert event's id, the same on every attempt, so that
  a receiver drops what it has seen already;
* ``X-Quartier-Delivery: <id>``: this delivery (one per event and channel).

Any 2xx answer counts as delivered; anything else, or no answer within the timeout, is a
failure that is tried again later.
"""

from __future__ import annotations

import hashlib
import hmac

import httpx2 as httpx
import orjson

from quartier.notify.outbox import Delivery, DeliveryError

TIMEOUT = 15.0


def signature(secret: str, body: bytes) -> str:
    """The value of ``X-Quartier-Signature`` for ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookSender:
    """Posts deliveries; one HTTP client (connection pool) for all webhooks."""

    def __init__(self) -> None:
        self._client = httpx.AsyncClient(timeout=httpx.Timeout(TIMEOUT), follow_redirects=False)

    async def send(self, delivery: Delivery) -> None:
        """Raises with the reason when the receiver did not take it."""
        body = orjson.dumps(delivery.event.as_json())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Quartier-Notifications/1",
            "X-Quartier-Event": str(delivery.event.id),
            "X-Quartier-Delivery": str(delivery.id),
            "X-Quartier-Signature": signature(delivery.channel.secret or "", body),
        }
        try:
            response = await self._client.post(delivery.channel.config["url"], content=body,
                                                headers=headers)
        except httpx.HTTPError as exc:
            raise DeliveryError(f"{type(exc).__name__}: {exc}") from None
        if not 200 <= response.status_code < 300:
            raise DeliveryError(f"the receiver answered {response.status_code}: "
                                f"{response.text[:200]}")

    async def close(self) -> None:
        await self._client.aclose()
