"""Secrets: strings that must never be shown in output, logs, errors or the database."""

from __future__ import annotations


class Secret:
    """A string that came from the environment; ``str()`` and ``repr()`` give ``'***'``.

    Call ``reveal()`` only where the value is handed to the service that needs it.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The secret value itself."""
        return self._value

    def __str__(self) -> str:
        return "***"

    def __repr__(self) -> str:
        return "'***'"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash((Secret, self._value))
