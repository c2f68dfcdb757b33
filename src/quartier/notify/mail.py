"""E-mail deliveries over SMTP (``--smtp-host`` and friends): a short plain-text message per
alert event, with the event id in a header so that mail rules can drop repeats."""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from quartier.notify.outbox import Delivery, DeliveryError
from quartier.settings import Settings

TIMEOUT = 20.0
_WHAT = {"opened": "opened", "escalated": "escalated", "deescalated": "de-escalated",
         "acknowledged": "acknowledged", "commented": "commented", "resolved": "resolved",
         "reminder": "still open (reminder)"}


def compose(delivery: Delivery, sender: str) -> EmailMessage:
    """The e-mail for a delivery."""
    event, config = delivery.event, delivery.channel.config
    alert: dict[str, Any] = event.alert
    what = _WHAT.get(event.kind, event.kind)
    subject = f"{alert.get('levelName') or alert.get('level')}: {alert.get('rule')} ({what})"
    prefix = config.get("subjectPrefix") or ""
    message = EmailMessage()
    message["Subject"] = f"{prefix} {subject}".strip().replace("\n", " ")
    message["From"] = sender
    message["To"] = ", ".join(config["to"])
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(f"alert-event-{event.id}")
    message["X-Quartier-Event"] = str(event.id)
    lines = [
        f"Alert {alert.get('id')} ({alert.get('rule')}) {what}.",
        "",
        str(alert.get("message") or ""),
        "",
        f"Level:       {alert.get('level')} {alert.get('levelName') or ''}".rstrip(),
        f"Severity:    {alert.get('severity')}",
        f"Status:      {alert.get('status')}",
        f"Subject:     {alert.get('subject')}",
    ]
    for label, key in (("Value", "value"), ("Peak", "peak"), ("Observed at", "observedAt"),
                       ("Opened at", "openedAt")):
        if alert.get(key) is not None:
            lines.append(f"{label + ':':<13}{alert[key]}")
    if event.by:
        lines.append(f"By:          {event.by}")
    if event.comment:
        lines += ["", f"Comment: {event.comment}"]
    lines += ["", f"Tenant {event.tenant}, event {event.id} at {event.as_json()['at']}."]
    message.set_content("\n".join(lines) + "\n")
    return message


class EmailSender:
    """Sends each e-mail over its own SMTP connection (in a thread: smtplib blocks)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def send(self, delivery: Delivery) -> None:
        message = compose(delivery, self.settings.smtp_from)
        try:
            await asyncio.to_thread(self._send, message)
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(f"SMTP {self.settings.smtp_host}:{self.settings.smtp_port}: "
                                f"{type(exc).__name__}: {exc}") from None

    def _send(self, message: EmailMessage) -> None:
        s = self.settings
        if s.smtp_tls == "ssl":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(s.smtp_host, s.smtp_port, timeout=TIMEOUT,
                                                  context=ssl.create_default_context())
        else:
            smtp = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=TIMEOUT)
        with smtp:
            if s.smtp_tls == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            if s.smtp_user:
                smtp.login(s.smtp_user, s.smtp_password)
            smtp.send_message(message)

    async def close(self) -> None:
        return None
