"""Street lighting: lamps and their circuits, what each lamp is doing, energy per circuit."""
