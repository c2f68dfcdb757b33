"""Use cases built on the platform's data: street lighting and the vehicle fleet.

Each reads what the devices of its kind reported (Things by ``properties/kind``, their
Datastreams by ``properties/field``) through the store and works out what an operator
asks about: which lamps are lit or broken, the energy of each circuit, where the
vehicles went and how long they worked.
"""
