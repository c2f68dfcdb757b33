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


class IdConvertor(Convertor[int]):
    """A stored row's id: a whole number that fits the databases' 64-bit integers. A longer
    one names no row, so its path matches no route (404) instead of reaching the database,
    which cannot bind it (a 500 before)."""

    regex = "[0-9]{1,18}"

    def convert(self, value: str) -> int:
        return int(value)

    def to_string(self, value: int) -> str:
        return str(value)


def register() -> None:
    register_url_convertor("version", VersionConvertor())
    register_url_convertor("id", IdConvertor())
