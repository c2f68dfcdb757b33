"""Notifications: channels (webhook, MQTT, e-mail, the public CAP feed), the outbox of
deliveries made from alert events, reminders, and the dispatcher that sends them."""
