"""LoRaWAN network servers in: The Things Stack v3 and ChirpStack v4 uplinks, the device
registry and profiles, payload decoders."""
