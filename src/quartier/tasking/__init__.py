"""SensorThings Tasking (Part 2) in action: Tasks delivered to their devices, and their
status followed until the device confirms the command or the wait runs out."""
