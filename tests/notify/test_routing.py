"""Routing: minimum severity, area, quiet periods, a rule's own list of channels, and
reminders while an alert stays unacknowledged."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from notify.helpers import Platform, Receiver, wait_for
from quartier.notify.channels import QuietPeriod, _quiet_period
from quartier.notify.dispatcher import Dispatcher
from quartier.store import open_store

TOWN = {"type": "Polygon", "coordinates": [[[9.1, 48.7], [9.3, 48.7], [9.3, 48.9], [9.1, 48.9],
                                            [9.1, 48.7]]]}
INSIDE = {"type": "Point", "coordinates": [9.18, 48.78]}
OUTSIDE = {"type": "Point", "coordinates": [10.5, 48.78]}


def _hook(platform: Platform, receiver: Receiver, name: str, **routing: object) -> None:
    platform.channel({"name": name, "type": "webhook", "url": f"{receiver.url}/{name}", **routing})


def _settle(platform: Platform) -> None:
    """Let the dispatcher fan out and send everything there is."""
    platform.run(platform.app.state.notifications.run_once)


def test_severity_and_area(platform: Platform, receiver: Receiver) -> None:
    _hook(platform, receiver, "all")
    _hook(platform, receiver, "severe", minSeverity="severe")
    _hook(platform, receiver, "town", area=TOWN)
    minor_inside = platform.open_alert(level=1, area=INSIDE)
    platform.open_alert(level=1, area=OUTSIDE)
    platform.open_alert(level=4, area=None)
    _settle(platform)
    wait_for(lambda: len(receiver.received) == 5, "five webhooks")
    assert receiver.kinds("/hook/all") == ["opened"] * 3
    assert receiver.kinds("/hook/town") == ["opened"]
    assert receiver.kinds("/hook/severe") == ["opened"]

    # Escalated to severe: the severe channel hears of it from now on, down to the all-clear.
    platform.change(minor_inside, "escalated", level=3)
    platform.change(minor_inside, "deescalated", level=1)
    platform.change(minor_inside, "resolved")
    _settle(platform)
    wait_for(lambda: len(receiver.received) == 14, "the changes on every channel")
    assert receiver.kinds("/hook/all") == ["opened"] * 3 + ["escalated", "deescalated", "resolved"]
    assert receiver.kinds("/hook/severe") == ["opened", "escalated", "deescalated", "resolved"]
    assert receiver.kinds("/hook/town") == ["opened", "escalated", "deescalated", "resolved"]


def test_quiet_periods(platform: Platform, receiver: Receiver) -> None:
    _hook(platform, receiver, "night", quietPeriods=[{"from": "22:00", "to": "06:00"}],
          timezone="Europe/Berlin")
    night = datetime(2026, 1, 15, 22, 30, tzinfo=UTC)  # 23:30 in Berlin
    day = datetime(2026, 1, 15, 11, 0, tzinfo=UTC)
    platform.open_alert(level=2, at=night, message="moderate at night")
    platform.open_alert(level=3, at=night, message="severe at night")
    platform.open_alert(level=1, at=day, message="minor by day")
    _settle(platform)
    wait_for(lambda: len(receiver.received) == 2, "two webhooks")
    import orjson

    messages = [orjson.loads(body)["alert"]["message"] for _, body in receiver.received]
    assert sorted(messages) == ["minor by day", "severe at night"]


def test_quiet_period_clock() -> None:
    night = _quiet_period({"from": "22:00", "to": "06:00", "days": ["fri"]}, "q")
    friday_late = datetime(2026, 1, 16, 23, 0)
    saturday_early = datetime(2026, 1, 17, 5, 59)
    assert night.covers(friday_late) and night.covers(saturday_early)
    assert not night.covers(datetime(2026, 1, 17, 6, 0))
    assert not night.covers(datetime(2026, 1, 15, 23, 0))  # Thursday
    assert not night.covers(datetime(2026, 1, 16, 5, 0))  # Friday morning: Thursday's night
    whole_day = _quiet_period({"from": "00:00", "to": "24:00"}, "q")
    assert isinstance(whole_day, QuietPeriod)
    assert whole_day.covers(datetime(2026, 1, 16, 0, 0)) and whole_day.covers(
        datetime(2026, 1, 16, 23, 59))


def test_a_rules_notify_list(platform: Platform, receiver: Receiver) -> None:
    _hook(platform, receiver, "bauhof")
    _hook(platform, receiver, "feuerwehr")
    rule = platform.rule("Pegel Erlenbach", {"notify": ["feuerwehr"]})
    platform.open_alert(level=2, rule_id=rule)
    platform.open_alert(level=2)  # no rule: every channel
    _settle(platform)
    wait_for(lambda: len(receiver.received) == 3, "three webhooks")
    assert receiver.kinds("/hook/feuerwehr") == ["opened", "opened"]
    assert receiver.kinds("/hook/bauhof") == ["opened"]


def test_reminders_until_acknowledged(platform: Platform, receiver: Receiver) -> None:
    _hook(platform, receiver, "leitstelle", remindEvery="PT1S")
    _hook(platform, receiver, "ruhig")  # no reminders here
    # A second process's dispatcher races the app's own for the same reminders.
    other = open_store(platform.app.state.settings)
    platform.run(other.open)
    second = Dispatcher(other, platform.app.state.settings, poll=0.02)
    platform.run(second.start)
    try:
        alert = platform.open_alert(level=2, at=datetime.now(UTC) - timedelta(seconds=0.5))
        wait_for(lambda: receiver.kinds("/hook/leitstelle").count("reminder") >= 2,
                 "two reminders")
        platform.change(alert, "acknowledged", by="Erika Muster")
        wait_for(lambda: "acknowledged" in receiver.kinds("/hook/leitstelle"),
                 "the acknowledgement")
        time.sleep(2.2)  # two more intervals: no reminder may come
        _settle(platform)
    finally:
        platform.run(second.stop)
        platform.run(other.close)
    kinds = receiver.kinds("/hook/leitstelle")
    assert kinds[0] == "opened"
    assert kinds[-1] == "acknowledged"
    reminders = [k for k in kinds if k == "reminder"]
    events = platform.events(alert)
    made = [i for i, kind in events if kind == "reminder"]
    assert len(made) == len(reminders) >= 2
    assert receiver.kinds("/hook/ruhig") == ["opened", "acknowledged"]
    seqs = platform.run(_reminder_numbers, platform, alert)
    assert len(seqs) == len(set(seqs)) == len(made)


async def _reminder_numbers(platform: Platform, alert: int) -> list[int]:
    async with platform.store.reader() as conn:
        return [int(r[0]) for r in await conn.fetch(
            "SELECT seq FROM notification_reminders WHERE alert_id = ?", (alert,))]
