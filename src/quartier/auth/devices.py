"""Device credentials at the gate: a device may add Observations to its own Thing, no more.

A device credential is an API key bound to one Thing (``POST /api/keys`` with ``device``,
``quartier key create --device``). It may send ``POST`` to the paths that create
Observations: ``/v1.1/Observations``, ``/v1.1/Datastreams(id)/Observations``,
``/v1.1/CreateObservations`` and ``/v1.1/$batch``; the store then checks that each of them
goes to a Datastream of its Thing (:mod:`quartier.store.device_scope`). Any other write,
and any read that needs a role, is a 403. Other reads it makes as an anonymous reader
would: public data only, so a device that is stolen tells nothing more than the open data.
"""

from __future__ import annotations

import re

from quartier.auth.access import Rule
from quartier.auth.principal import Principal
from quartier.errors import Forbidden
from quartier.store import device_scope

_INGEST = re.compile(r"/v1\.[01]/(Observations|Datastreams\(\d+\)/Observations|CreateObservations"
                     r"|\$batch)")


def admit(rule: Rule, principal: Principal | None, method: str, path: str) -> None:
    """403 for a device credential's request outside its ingest paths; for one inside
    them, bind the request's writes to the device's Thing."""
    thing = None if principal is None else principal.device
    if thing is not None and not (method == "POST" and _INGEST.fullmatch(path)) and rule.need:
        raise Forbidden(f"a device credential may only create Observations of Thing {thing} "
                        "(POST /v1.1/Observations, /v1.1/Datastreams(id)/Observations, "
                        "/v1.1/CreateObservations or /v1.1/$batch) and read public data")
    device_scope.bound_thing.set(thing)
