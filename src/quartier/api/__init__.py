"""Thin HTTP handlers: parse the request, call the core, serialize the answer."""
