"""The SensorThings API 1.1 HTTP binding."""
