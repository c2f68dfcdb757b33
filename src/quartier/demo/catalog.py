"""What the demo town measures: ObservedProperties, units and the fields of each device kind.

A :class:`Field` is one Datastream of a simulated device: its key in the device's messages,
its name after the Thing's, the quantity (an ObservedProperty) and the unit. The
definitions are public vocabularies where one fits (QUDT quantity kinds and units, the
EEA's air-pollutant codes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

_OM = "http://www.opengis.net/def/observationType/OGC-OM/2.0/"
MEASUREMENT = _OM + "OM_Measurement"
CATEGORY = _OM + "OM_CategoryObservation"
TRUTH = _OM + "OM_TruthObservation"
COUNT = _OM + "OM_CountObservation"

_QK = "http://qudt.org/vocab/quantitykind/"
_UNIT = "http://qudt.org/vocab/unit/"
_EEA = "http://dd.eionet.europa.eu/vocabulary/aq/pollutant/"
_OWN = "https://quartier.example/def/"

# key -> (name, definition, description)
QUANTITIES: dict[str, tuple[str, str, str]] = {
    "power_state": ("Power state", _OWN + "power-state", "Whether a luminaire is on or off"),
    "dimming": ("Dimming level", _OWN + "dimming-level", "Light output in percent of full"),
    "power": ("Electric power", _QK + "ElectricPower", "Active power drawn"),
    "energy": ("Electric energy", _QK + "Energy", "Energy drawn since the meter was installed"),
    "voltage": ("Mains voltage", _QK + "Voltage", "Voltage of the mains supply"),
    "water_level": ("Water level", _QK + "Height", "Water level above the gauge's zero"),
    "precipitation": ("Precipitation", _QK + "Rainfall", "Rain in the reporting interval"),
    "turbidity": ("Turbidity", _OWN + "turbidity", "Turbidity of the drinking water"),
    "ph": ("pH", _QK + "PH", "pH of the drinking water"),
    "chlorine": ("Free chlorine", _OWN + "free-chlorine", "Free chlorine in the drinking water"),
    "conductivity": ("Electric conductivity", _QK + "Conductivity",
                     "Electric conductivity of the drinking water"),
    "flow": ("Flow rate", _QK + "VolumeFlowRate", "Drinking water delivered to the network"),
    "no2": ("NO2", _EEA + "8", "Nitrogen dioxide in air"),
    "pm10": ("PM10", _EEA + "5", "Particulate matter under 10 µm"),
    "pm25": ("PM2.5", _EEA + "6001", "Particulate matter under 2.5 µm"),
    "air_temperature": ("Air temperature", _QK + "Temperature", "Air temperature"),
    "humidity": ("Relative humidity", _QK + "RelativeHumidity", "Relative humidity of the air"),
    "traffic_count": ("Traffic count", _OWN + "traffic-count",
                      "Road users counted in the reporting interval"),
    "occupancy": ("Parking bay occupied", _OWN + "bay-occupied", "Whether a car stands in the bay"),
    "latitude": ("Latitude", _OWN + "latitude", "GPS latitude (WGS 84)"),
    "longitude": ("Longitude", _OWN + "longitude", "GPS longitude (WGS 84)"),
    "speed": ("Speed", _QK + "Speed", "Speed over ground"),
    "fuel": ("Fuel level", _OWN + "fuel-level", "Fuel left in the tank"),
    "charge": ("State of charge", _OWN + "state-of-charge", "Charge left in the battery"),
    "operating_state": ("Operating state", _OWN + "operating-state",
                        "driving, stopped, or standing at the depot"),
}

# key -> (name, symbol, definition)
UNITS: dict[str, tuple[str, str, str]] = {
    "none": ("none", "", ""),
    "percent": ("percent", "%", _UNIT + "PERCENT"),
    "W": ("watt", "W", _UNIT + "W"),
    "kW": ("kilowatt", "kW", _UNIT + "KiloW"),
    "kWh": ("kilowatt hour", "kWh", _UNIT + "KiloW-HR"),
    "V": ("volt", "V", _UNIT + "V"),
    "cm": ("centimetre", "cm", _UNIT + "CentiM"),
    "mm": ("millimetre", "mm", _UNIT + "MilliM"),
    "NTU": ("nephelometric turbidity unit", "NTU", _UNIT + "NTU"),
    "pH": ("pH", "pH", _UNIT + "PH"),
    "mg/l": ("milligram per litre", "mg/l", _UNIT + "MilliGM-PER-L"),
    "µS/cm": ("microsiemens per centimetre", "µS/cm", _UNIT + "MicroS-PER-CentiM"),
    "m³/h": ("cubic metre per hour", "m³/h", _UNIT + "M3-PER-HR"),
    "µg/m³": ("microgram per cubic metre", "µg/m³", _UNIT + "MicroGM-PER-M3"),
    "°C": ("degree Celsius", "°C", _UNIT + "DEG_C"),
    "°": ("degree", "°", _UNIT + "DEG"),
    "km/h": ("kilometre per hour", "km/h", _UNIT + "KiloM-PER-HR"),
    "count": ("count", "1", _UNIT + "NUM"),
}


@dataclass(frozen=True)
class Field:
    """One Datastream of a simulated device."""

    key: str  # the name in the device's messages, e.g. "power"
    name: str  # after the Thing's name, e.g. "Leistung"
    quantity: str  # a key of QUANTITIES
    unit: str  # a key of UNITS
    observation_type: str = MEASUREMENT

    def observed_property(self) -> dict[str, Any]:
        name, definition, description = QUANTITIES.get(
            self.quantity, (self.name, _OWN + self.quantity, self.name))
        return {"name": name, "definition": definition, "description": description}

    def unit_of_measurement(self) -> dict[str, Any]:
        name, symbol, definition = UNITS.get(self.unit, (self.unit, self.unit, ""))
        if name == "none":
            return {"name": None, "symbol": None, "definition": None}
        return {"name": name, "symbol": symbol, "definition": definition}


STREETLIGHT = (
    Field("state", "Schaltzustand", "power_state", "none", CATEGORY),
    Field("dimming", "Dimmstufe", "dimming", "percent"),
    Field("power", "Leistung", "power", "W"),
    Field("energy", "Energie", "energy", "kWh"),
)
CABINET = (
    Field("voltage", "Netzspannung", "voltage", "V"),
    Field("load", "Last", "power", "kW"),
)
GAUGE = (Field("level", "Wasserstand", "water_level", "cm"),)
RAIN_GAUGE = (Field("rain", "Niederschlag", "precipitation", "mm"),)
AIR_QUALITY = (
    Field("no2", "NO2", "no2", "µg/m³"),
    Field("pm10", "PM10", "pm10", "µg/m³"),
    Field("pm25", "PM2,5", "pm25", "µg/m³"),
    Field("temperature", "Lufttemperatur", "air_temperature", "°C"),
    Field("humidity", "Luftfeuchte", "humidity", "percent"),
)
PARKING_BAY = (Field("occupied", "Belegung", "occupancy", "none", TRUTH),)


def vehicle_fields(energy: str) -> tuple[Field, ...]:
    level = (Field("fuel", "Tankfüllung", "fuel", "percent") if energy == "fuel"
             else Field("charge", "Ladezustand", "charge", "percent"))
    return (
        Field("latitude", "Breitengrad", "latitude", "°"),
        Field("longitude", "Längengrad", "longitude", "°"),
        Field("speed", "Geschwindigkeit", "speed", "km/h"),
        level,
        Field("state", "Betriebszustand", "operating_state", "none", CATEGORY),
    )


_CLASS_NAMES = {"car": "Pkw", "van": "Lieferwagen", "truck": "Lkw", "bus": "Bus",
                "bicycle": "Fahrrad", "motorcycle": "Motorrad", "pedestrian": "Fußgänger"}


def counter_fields(directions: list[str], classes: list[str]) -> tuple[Field, ...]:
    return tuple(
        Field(f"{d}.{c}", f"{_CLASS_NAMES.get(c, c)} {d}", "traffic_count", "count", COUNT)
        for d in directions for c in classes
    )


def water_works_fields(parameters: list[tuple[str, str, str]]) -> tuple[Field, ...]:
    """(key, name, unit) of each parameter; the key names the quantity."""
    return tuple(Field(key, name, key, unit) for key, name, unit in parameters)
