"""Use cases built on the platform's data: street lighting, the vehicle fleet, the
environment and parking.

Each reads what the devices of its kind reported through the Store layer (so they work
alike on SQLite and PostgreSQL) and works out what an operator asks about: which lamps
are lit or broken, the energy of each circuit, where the vehicles went and how long they
worked, how the air is, how full the car parks are.
"""
