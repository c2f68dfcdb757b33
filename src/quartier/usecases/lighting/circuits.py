"""Which circuit of which cabinet a lamp hangs on, and the cabinets' names.

Lamps carry ``properties/cabinet`` (the cabinet's id, e.g. ``SK-01``) and
``properties/circuit`` (its number in the cabinet); a cabinet's Thing carries the same
``cabinet`` id. Lamps that name neither are grouped as one circuit with no cabinet.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from quartier.usecases.members import Member

LAMP = "streetlight"
CABINET = "cabinet"
RATED_POWER = "ratedPower"  # W, a lamp's Thing property


@dataclass(frozen=True, order=True)
class CircuitKey:
    cabinet: str
    circuit: str

    def json(self) -> dict[str, Any]:
        return {"cabinet": self.cabinet or None, "circuit": self.circuit or None}


def circuit_of(lamp: Member) -> CircuitKey:
    cabinet, circuit = lamp.properties.get("cabinet"), lamp.properties.get("circuit")
    return CircuitKey("" if cabinet is None else str(cabinet), "" if circuit is None else str(circuit))


def cabinets_by_id(cabinets: list[Member]) -> dict[str, Member]:
    """Cabinet id (``properties/cabinet``) -> its Thing."""
    out: dict[str, Member] = {}
    for cabinet in cabinets:
        key = cabinet.properties.get("cabinet")
        if key is not None:
            out.setdefault(str(key), cabinet)
    return out


def sort_key(key: CircuitKey) -> tuple[bool, str, int, str]:
    """Cabinets by id, circuits by number (``10`` after ``9``), the unassigned last."""
    number = int(key.circuit) if key.circuit.isdigit() else 0
    return (not key.cabinet, key.cabinet, number, key.circuit)
