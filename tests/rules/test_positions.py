"""Positions from latitude/longitude Datastreams for geofences: halves pair by Thing and
time, in either order; what is not a number is no half."""

from __future__ import annotations

from quartier.rules.positions import KEEP, PositionPairs


def pairs() -> PositionPairs:
    found = PositionPairs()
    found.fields = {1: (7, "latitude"), 2: (7, "longitude"), 3: (8, "latitude"), 4: (8, "longitude")}
    return found


def test_halves_of_one_time_make_a_position_in_either_order() -> None:
    p = pairs()
    assert p.feed(1, 100.0, 50.4) is None
    assert p.feed(4, 100.0, 9.0) is None  # another Thing's half
    assert p.feed(2, 101.0, 8.9) is None  # another time
    assert p.feed(2, 100.0, 8.96) == (7, [8.96, 50.4])
    assert p.feed(3, 100.0, 48.7) == (8, [9.0, 48.7])
    assert p.feed(1, 101.0, 50.5) == (7, [8.9, 50.5])


def test_what_is_no_position_half_is_ignored_and_strays_are_dropped() -> None:
    p = pairs()
    assert p.feed(1, 100.0, True) is None and p.feed(2, 100.0, "8.9") is None
    assert p.feed(9, 100.0, 1.0) is None  # not a position Datastream
    assert p.feed(2, 100.0, 8.9) is None  # the half before was no number
    for i in range(KEEP + 10):
        p.feed(1, 1000.0 + i, 50.0)
    assert len(p._halves) <= KEEP + 1
