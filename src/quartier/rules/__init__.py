"""Rules and alerts: rule definitions, their evaluation on the committed-change stream,
and the life of an alert."""
