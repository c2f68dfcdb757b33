"""Air pollutants, how the Umweltbundesamt rates them, and their legal limit values.

The rating is the German air quality index (Luftqualitätsindex of the Umweltbundesamt):
five classes from "very good" to "very poor", for NO2 from the 1-hour mean and for PM10
and PM2.5 from the 24-hour mean. Where EU Directive 2008/50/EC (in German law the
39. BImSchV) sets a limit value for that same averaging period, the rating also says
whether it is exceeded: NO2 200 µg/m³ as a 1-hour mean, PM10 50 µg/m³ as a daily mean.
PM2.5 has only an annual limit value (25 µg/m³), which one day cannot exceed.

Pollutants are recognised by their ObservedProperty's definition in the EEA's pollutant
vocabulary (``…/vocabulary/aq/pollutant/8`` is NO2), whatever their names.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

CLASSES = ("very_good", "good", "moderate", "poor", "very_poor")
_EEA = "dd.eionet.europa.eu/vocabulary/aq/pollutant/"
_QUDT = "qudt.org/vocab/quantitykind/"


@dataclass(frozen=True)
class Pollutant:
    key: str
    name: str
    code: str  # in the EEA pollutant vocabulary
    window: timedelta  # the averaging period the index and the limit value use
    bands: tuple[float, float, float, float]  # upper bounds of the classes 1 to 4 (µg/m³)
    limit: float | None  # the limit value for that period, if there is one (µg/m³)
    annual_limit: float  # the annual mean's limit value (µg/m³)

    def rate(self, mean: float) -> dict[str, Any]:
        index = next((i + 1 for i, bound in enumerate(self.bands) if mean <= bound), 5)
        return {"index": index, "rating": CLASSES[index - 1], "limit": self.limit,
                "exceeded": self.limit is not None and mean > self.limit}


POLLUTANTS = (
    Pollutant("no2", "NO2", "8", timedelta(hours=1), (20, 40, 100, 200), 200, 40),
    Pollutant("pm10", "PM10", "5", timedelta(hours=24), (20, 35, 50, 100), 50, 40),
    Pollutant("pm25", "PM2.5", "6001", timedelta(hours=24), (10, 20, 25, 50), None, 25),
)
# Other quantities a station reports, by the end of their QUDT quantity-kind definition.
WEATHER = {"temperature": ("Temperature", "AirTemperature"), "humidity": ("RelativeHumidity",)}


def pollutant_of(definition: str) -> Pollutant | None:
    head, _, code = definition.rstrip("/").rpartition("/")
    if not (head + "/").endswith(_EEA):
        return None
    return next((p for p in POLLUTANTS if p.code == code), None)


def weather_of(definition: str) -> str | None:
    head, _, kind = definition.rstrip("/").rpartition("/")
    if not (head + "/").endswith(_QUDT):
        return None
    return next((key for key, kinds in WEATHER.items() if kind in kinds), None)


def definitions() -> list[str]:
    """The pollutants' definitions, as http and https URIs."""
    return [f"{scheme}://{_EEA}{p.code}" for p in POLLUTANTS for scheme in ("http", "https")]
