"""The roles a principal holds in its tenant, from least to most allowed."""

from __future__ import annotations

from enum import IntEnum

from quartier.errors import BadRequest


class Role(IntEnum):
    """Each role may do what the ones below it may."""

    VIEWER = 1  # reads internal data too
    OPERATOR = 2  # acknowledges, resolves and comments alerts; switches lights
    EDITOR = 3  # writes data and definitions (Things, rules, channels, devices, ...)
    ADMIN = 4  # manages keys and visibility, reads the audit log

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: object) -> Role:
        """The role named ``text``; 400 for anything else."""
        for role in cls:
            if role.label == text:
                return role
        names = ", ".join(r.label for r in cls)
        raise BadRequest(f"role must be one of {names}, not {text!r}")
