"""SensorThings resource paths and query options."""
