"""The demo town's lamps carry their inventory as Thing properties, named after the Smart
Data Models Streetlight: rated power from their circuit, dates, height, group and cabinet;
a circuit's own values win over the [lighting] defaults, and bad ones name the key."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from quartier.demo.build import build_town
from quartier.demo.town import TownError, default_town_file, load_town

ANCHOR = 1_764_547_200.0  # 2025-12-01T00:00:00Z
FIELDS = {"ratedPower", "lampTechnology", "laternHeight", "dateServiceStarted",
          "dateLastLampChange", "refStreetlightGroup", "refStreetlightControlCabinet",
          "controllingMethod", "locationCategory"}


def test_every_lamp_has_its_inventory() -> None:
    town = load_town()
    lamps = build_town(town, ANCHOR).of_kind("streetlight")
    assert lamps
    lighting = town.root.table("lighting")
    for lamp in lamps:
        props = lamp.properties
        assert set(props) >= FIELDS, lamp.key
        circuit = lighting.tables("cabinets")
        cabinet = next(c for c in circuit if c.text("id") == props["cabinet"])
        spec = cabinet.raw("circuits")[props["circuit"] - 1]
        assert props["ratedPower"] == spec["watts"]
        assert props["refStreetlightControlCabinet"] == props["cabinet"]
        assert props["refStreetlightGroup"] == f"{props['cabinet']}-{props['circuit']}"
        assert props["laternHeight"] == spec.get("lantern_height", lighting.raw("lantern_height"))
        started = datetime.fromisoformat(props["dateServiceStarted"])
        assert started <= datetime.fromisoformat(props["dateLastLampChange"])
    heights = {lamp.properties["laternHeight"] for lamp in lamps}
    assert len(heights) > 1  # a circuit gave its own


def test_a_bad_date_names_its_key(tmp_path: Path) -> None:
    text = default_town_file().read_text(encoding="utf-8")
    bad = tmp_path / "town.toml"
    bad.write_text(text.replace('service_started = "2016-04-01"', 'service_started = "bald"', 1),
                   encoding="utf-8")
    with pytest.raises(TownError, match="service_started"):
        build_town(load_town(bad), ANCHOR)
