"""The demo town: a simulated municipality that drives a Quartier through its real roads in.

``town.toml`` defines the town (places, streets, devices, schedules, events and faults);
:mod:`~quartier.demo.build` turns it into simulated devices, :mod:`~quartier.demo.provision`
creates them through the API, and :mod:`~quartier.demo.simulation` backfills history and
streams live data by SensorThings HTTP and MQTT and LoRaWAN webhooks.
"""
