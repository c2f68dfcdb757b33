"""URL path convertors for the API's routes."""

from __future__ import annotations

from starlette.convertors import Convertor, register_url_convertor


class VersionConvertor(Convertor[str]):
    """The SensorThings version segment: v1.0 or v1.1."""

    regex = "v1\\.[01]"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


def register() -> None:
    register_url_convertor("version", VersionConvertor())
