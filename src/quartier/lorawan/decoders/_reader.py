"""Bounds-checked reading of payload bytes: a read either succeeds or raises DecodeError."""

from __future__ import annotations

from quartier.lorawan.decoders._base import DecodeError


def _bytes_word(count: int) -> str:
    return "byte" if count == 1 else "bytes"


class PayloadReader:
    """Walks a payload from the front; offsets in error messages count from byte 0."""

    __slots__ = ("_data", "_position")

    def __init__(self, payload: bytes) -> None:
        if not payload:
            raise DecodeError("empty payload: there are no bytes to decode")
        self._data = bytes(payload)
        self._position = 0

    @property
    def position(self) -> int:
        """Offset of the next unread byte."""
        return self._position

    @property
    def size(self) -> int:
        """Length of the whole payload."""
        return len(self._data)

    def at_end(self) -> bool:
        return self._position >= len(self._data)

    def read(self, count: int, what: str) -> bytes:
        """The next ``count`` bytes, which hold ``what`` (named in the error when they are missing)."""
        available = len(self._data) - self._position
        if count > available:
            raise DecodeError(
                f"payload too short: {what} needs {count} {_bytes_word(count)} at byte {self._position}, "
                f"but the payload ends after {len(self._data)} {_bytes_word(len(self._data))}"
            )
        chunk = self._data[self._position : self._position + count]
        self._position += count
        return chunk

    def unsigned(self, count: int, what: str, *, little_endian: bool = False) -> int:
        return int.from_bytes(self.read(count, what), "little" if little_endian else "big", signed=False)

    def signed(self, count: int, what: str, *, little_endian: bool = False) -> int:
        return int.from_bytes(self.read(count, what), "little" if little_endian else "big", signed=True)
