"""The vehicle fleet: where each vehicle went on a day and how long it worked."""
