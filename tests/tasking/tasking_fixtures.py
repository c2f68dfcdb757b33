"""Bodies for Tasking tests: a lamp's TaskingCapability with its Actuator."""

from __future__ import annotations

from typing import Any

LAMP_PARAMETERS: dict[str, Any] = {
    "type": "DataRecord",
    "field": [
        {"name": "switch", "type": "Category", "optional": True,
         "constraint": {"type": "AllowedTokens", "value": ["on", "off"]}},
        {"name": "dim", "type": "Quantity", "optional": True, "uom": {"code": "%"},
         "constraint": {"type": "AllowedValues", "interval": [[0, 100]]}},
        {"name": "steps", "type": "Count", "optional": True,
         "constraint": {"type": "AllowedValues", "value": [1, 2, 4]}},
        {"name": "note", "type": "Text", "optional": True,
         "constraint": {"type": "AllowedTokens", "pattern": "[a-z]+"}},
        {"name": "test", "type": "Boolean", "optional": True},
    ],
}


def actuator_body(name: str = "Luminaire driver") -> dict[str, Any]:
    return {"name": name, "description": "DALI driver of the luminaire",
            "encodingType": "application/pdf", "metadata": "https://example.org/driver.pdf"}


def capability_body(thing_id: int | None = None, **properties: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Switch and dim", "description": "switches the lamp and sets its level",
        "taskingParameters": LAMP_PARAMETERS, "Actuator": actuator_body(),
    }
    if thing_id is not None:
        body["Thing"] = {"@iot.id": thing_id}
    if properties:
        body["properties"] = properties
    return body
