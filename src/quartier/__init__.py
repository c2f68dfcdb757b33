"""Quartier: an open urban data platform speaking OGC SensorThings API."""

__version__ = "0.1.0"
