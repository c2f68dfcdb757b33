"""Use-case packages: a use case (street lighting, a fleet) as one file a town can export
and a neighbouring town import.

A package bundles ObservedProperties, LoRaWAN device profiles (whose fields are the
Datastream templates), TaskingCapability templates, rules, lighting groups and schedules,
fleet settings and the dashboard views it needs. :mod:`.format` reads and checks the file,
:mod:`.export` builds one from a tenant's current state, :mod:`.install` writes one into a
tenant in one transaction, and :mod:`.builtin` holds the packages that come with Quartier
(``street-lighting.json``, ``fleet.json``). See ``docs/packages.md``.
"""
